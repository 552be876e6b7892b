/**
 * Interop with a plain Kafka client (kcat, librdkafka): a Herald event read by `kcat -J` carries
 * the CloudEvents binary-mode `ce_` headers, `content-type`, the partition key as record key and
 * the JSON data as value; an event produced by kcat with those headers is handled by a Herald
 * handler. Needs Debian's `kcat` (installed by `npm run setup`); without it every test fails at
 * once saying so. Each bus is stopped and the server killed even when an assertion fails.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createBus, defineEvent, type StandardSchemaV1, silentLogger } from '@herald/bus';
import { eventually, requireTool, runTool } from '@herald/test-support';
import { kafkaTransport } from '@herald/transport-kafka';
import { type Serve, startServe } from './support.ts';

interface Shipment {
  readonly orderId: string;
  readonly items: number;
}

const schema: StandardSchemaV1<Shipment, Shipment> = {
  '~standard': {
    version: 1,
    vendor: 'test',
    validate: (value: unknown) => {
      const shipment = value as Partial<Shipment> | null;
      return typeof shipment?.orderId === 'string' && typeof shipment.items === 'number'
        ? { value: shipment as Shipment }
        : { issues: [{ message: 'not a shipment' }] };
    },
  },
};
const ShipmentSent = defineEvent('ShipmentSent', {
  topic: 'shipments',
  schema,
  key: (value) => value.orderId,
});

/** Runs kcat against `bootstrap`; killed after 30 s. */
function kcat(bootstrap: string, args: string[], input = '') {
  return runTool('kcat', ['-b', bootstrap, ...args], { input, timeoutMs: 30_000 });
}

describe('kcat interop', { timeout: 180_000 }, () => {
  let serve: Serve | undefined;
  const bootstrap = () => serve!.bootstrap;
  before(async () => {
    requireTool('kcat', ['-V'], "kcat (Debian's kcat)");
    serve = await startServe(2);
  });
  after(async () => {
    await serve?.stop().catch(() => serve?.kill());
  });

  test('kcat -J reads a Herald event with its ce_ headers, content-type and key', async () => {
    const transport = await kafkaTransport({ brokers: [bootstrap()] });
    const bus = createBus({ transport, logger: silentLogger });
    let envelope: Awaited<ReturnType<typeof bus.publish>>;
    try {
      envelope = await bus.publish(ShipmentSent, { orderId: 'order-42', items: 3 });
    } finally {
      await bus.stop({ timeoutMs: 5_000 });
    }
    const result = await kcat(bootstrap(), ['-C', '-t', 'shipments', '-J', '-e', '-q']);
    assert.equal(result.code, 0, result.stderr);
    const records = result.stdout
      .split('\n')
      .filter((line) => line.trim() !== '')
      .map((line) => JSON.parse(line) as { key: string; payload: string; headers: string[] });
    assert.equal(records.length, 1, result.stdout);
    const record = records[0]!;
    const headers = new Map<string, string>();
    for (let index = 0; index + 1 < record.headers.length; index += 2)
      headers.set(record.headers[index]!, record.headers[index + 1]!);
    assert.equal(record.key, 'order-42');
    assert.deepEqual(JSON.parse(record.payload), { orderId: 'order-42', items: 3 });
    assert.equal(headers.get('ce_id'), envelope.id);
    assert.equal(headers.get('ce_type'), 'ShipmentSent');
    assert.equal(headers.get('ce_specversion'), '1.0');
    assert.ok(headers.get('ce_source'), 'ce_source');
    assert.equal(headers.get('ce_partitionkey'), 'order-42');
    assert.match(headers.get('content-type') ?? '', /^application\/json/);
  });

  test('an event produced by kcat with ce_ headers is handled by a Herald handler', async () => {
    const transport = await kafkaTransport({ brokers: [bootstrap()] });
    const bus = createBus({ transport, logger: silentLogger });
    try {
      const handled: { shipment: Shipment; id: string; source: string }[] = [];
      bus.on(ShipmentSent, { group: 'warehouse' }, (shipment, context) => {
        handled.push({ shipment, id: context.envelope.id, source: context.envelope.source });
      });
      await bus.start();
      const produced = await kcat(
        bootstrap(),
        [
          '-P',
          '-t',
          'shipments',
          '-k',
          'order-7',
          '-H',
          'ce_id=kcat-1',
          '-H',
          'ce_type=ShipmentSent',
          '-H',
          'ce_specversion=1.0',
          '-H',
          'ce_source=/kcat',
          '-H',
          'content-type=application/json',
        ],
        '{"orderId":"order-7","items":5}\n',
      );
      assert.equal(produced.code, 0, produced.stderr);
      await eventually(
        () => handled.some((entry) => entry.id === 'kcat-1'),
        () => `the kcat event handled (handled: ${JSON.stringify(handled)})`,
      );
      const fromKcat = handled.find((entry) => entry.id === 'kcat-1')!;
      assert.deepEqual(fromKcat.shipment, { orderId: 'order-7', items: 5 });
      assert.equal(fromKcat.source, '/kcat');
    } finally {
      await bus.stop({ timeoutMs: 5_000 });
    }
  });
});
