/**
 * A kill -9 of the NATS server mid-run, on a server of this file's own (./private-server.ts),
 * started again on the same JetStream directory and port: every message whose publish resolved
 * (JetStream acknowledged it) is consumed afterwards, and the transport reconnects by itself,
 * publishing and consuming without being reopened. Publishes in the air at the crash may reject
 * (a retriable TransportError) and are not counted as confirmed.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { TransportError, type TransportMessage } from '@herald/bus';
import { withDeadline } from '@herald/bus/testing';
import { Collector, eventually, idOf } from '@herald/conformance';
import type { PrivateServer } from '@herald/test-support';
import { type NatsTransport, natsTransport } from '@herald/transport-nats';
import { startNatsServer } from './private-server.ts';

/** Publishers running at once, each on keys of its own (so each key's publishes are sequential). */
const PUBLISHERS = 4;
/** Confirmed messages before the crash, and after the restart, at least. */
const CONFIRMED_BEFORE = 300;
const CONFIRMED_AFTER = 200;
/** How long everything confirmed may take to arrive after the restart (ackWaitMs is 3 s here). */
const ARRIVAL_DEADLINE_MS = 60_000;

function message(publisher: number, index: number): TransportMessage {
  const id = `p${publisher}-${index}`;
  return {
    key: `key-${publisher}-${index % 3}`,
    headers: { 'x-conformance-id': id, 'x-sequence': String(index), ce_id: id },
    body: new TextEncoder().encode(JSON.stringify({ publisher, index })),
  };
}

describe('nats transport - server crash', { timeout: 240_000 }, () => {
  let server: PrivateServer;
  const open: NatsTransport[] = [];
  before(async () => {
    server = await startNatsServer();
  });
  after(async () => {
    for (const transport of open.splice(0))
      await withDeadline(transport.close(), 20_000, 'transport.close()');
    await server?.stop();
  });

  it('server crash - a kill -9 of nats-server mid-run loses no confirmed message; the transport reconnects and resumes', async (t) => {
    const transport = await natsTransport({
      servers: server.url,
      leaseMs: 2_000,
      ackWaitMs: 3_000,
      reconnectDelayMs: 100,
      requestTimeoutMs: 3_000,
      connectTimeoutMs: 30_000,
    });
    open.push(transport);
    const collector = new Collector();
    await transport.subscribe({ topic: 'crash', group: 'workers', inFlightMax: 32 }, collector.handler);

    const confirmed: string[] = [];
    const rejected: unknown[] = [];
    let restarted = false;
    let confirmedAfterRestart = 0;
    let stop = false;
    const publishers = Array.from({ length: PUBLISHERS }, async (_, publisher) => {
      for (let index = 0; !stop; index++) {
        const sent = message(publisher, index);
        try {
          await transport.publish('crash', [sent]);
          confirmed.push(idOf(sent));
          if (restarted) confirmedAfterRestart += 1;
        } catch (error) {
          rejected.push(error);
        }
      }
    });

    await eventually(
      () => confirmed.length >= CONFIRMED_BEFORE,
      () => `${CONFIRMED_BEFORE} confirmed publishes before the crash (have ${confirmed.length})`,
    );
    await server.kill('SIGKILL');
    t.diagnostic(`nats-server killed with SIGKILL after ${confirmed.length} confirmed publishes`);
    await server.restart();
    restarted = true;
    await eventually(
      () => confirmedAfterRestart >= CONFIRMED_AFTER,
      () => `${CONFIRMED_AFTER} confirmed publishes after the restart (have ${confirmedAfterRestart})`,
      ARRIVAL_DEADLINE_MS,
    );
    stop = true;
    await Promise.all(publishers);

    const missing = () => {
      const got = collector.ackedIds();
      return confirmed.filter((id) => !got.has(id));
    };
    await eventually(
      () => missing().length === 0,
      () =>
        `every confirmed message consumed; missing ${missing().length}: ${missing().slice(0, 10).join(', ')}`,
      ARRIVAL_DEADLINE_MS,
    );
    for (const error of rejected) {
      assert.ok(error instanceof TransportError && error.retriable, `a rejected publish: ${String(error)}`);
    }
    assert.ok(transport.stats().reconnects >= 1, `reconnects: ${transport.stats().reconnects}`);
    t.diagnostic(
      `${confirmed.length} confirmed, all consumed; ${rejected.length} publishes rejected during the outage; ` +
        `${collector.deliveries.length - collector.ackedIds().size} redeliveries; reconnects ${transport.stats().reconnects}`,
    );
  });
});
