/**
 * confluent-kafka (librdkafka, current release) and aiokafka from PyPI against `herald serve`,
 * through test/python/pypi_clients.py run by the virtualenv `npm run setup` creates under
 * ~/.cache/herald/python. Both producers are idempotent with acks=all; both group consumers commit
 * and a new consumer of the group resumes after the commit.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { runTool } from '@herald/test-support';
import { jsonLines, pypiPython, storedBatchHeaders, withLostProduceResponses } from './client-tools.ts';
import { type Serve, startServe } from './support.ts';

const SCRIPT = fileURLToPath(new URL('./python/pypi_clients.py', import.meta.url));

describe('PyPI clients', { timeout: 180_000 }, () => {
  let serve: Serve;
  let python: string;
  const run = async (args: readonly string[]) => {
    const result = await runTool(python, [SCRIPT, ...args], { timeoutMs: 90_000 });
    assert.equal(result.code, 0, `${args.join(' ')} failed:\n${result.stdout}\n${result.stderr}`);
    return jsonLines(result.stdout);
  };
  before(async () => {
    python = pypiPython();
    serve = await startServe({ partitions: 3 });
  });
  after(async () => {
    await serve?.stop();
  });

  test('confluent-kafka - idempotent producer with zstd and lz4; group consumer commits and resumes', async () => {
    for (const [codec, bits] of [
      ['zstd', 4],
      ['lz4', 3],
    ] as const) {
      const [produced] = await run(['confluent-produce', serve.bootstrap, 'ck-data', '200', codec]);
      assert.equal(produced!.acked, 200, JSON.stringify(produced));
      assert.equal(produced!.distinctOffsets, 200);
      assert.deepEqual(produced!.errors, []);
      const compressed = storedBatchHeaders(serve.dir, 'ck-data').filter(
        (header) => header.compression === bits,
      );
      assert.ok(compressed.length > 0, `batches stored as ${codec}`);
    }
    for (const header of storedBatchHeaders(serve.dir, 'ck-data'))
      assert.ok(header.producerId >= 0n, 'an idempotent producer id');
    const [first] = await run(['confluent-consume', serve.bootstrap, 'ck-data', 'ck-g', '400']);
    assert.deepEqual(first, { event: 'consumed', count: 400, distinct: 200, committedTotal: 400 });
    await run(['confluent-produce', serve.bootstrap, 'ck-data', '10', 'none']);
    const [second] = await run(['confluent-consume', serve.bootstrap, 'ck-data', 'ck-g', '10']);
    assert.deepEqual(second, { event: 'consumed', count: 10, distinct: 10, committedTotal: 410 });
  });

  test('aiokafka - idempotent producer with gzip; group consumer commits and resumes', async () => {
    const [produced] = await run(['aiokafka-produce', serve.bootstrap, 'aio-data', '200', 'gzip']);
    assert.equal(produced!.acked, 200, JSON.stringify(produced));
    assert.equal(produced!.distinctOffsets, 200);
    for (const header of storedBatchHeaders(serve.dir, 'aio-data')) {
      assert.ok(header.producerId >= 0n, 'an idempotent producer id');
      assert.equal(header.compression, 1, 'stored as gzip');
    }
    const [first] = await run(['aiokafka-consume', serve.bootstrap, 'aio-data', 'aio-g', '200']);
    assert.deepEqual(first, { event: 'consumed', count: 200, distinct: 200, committedTotal: 200 });
    await run(['aiokafka-produce', serve.bootstrap, 'aio-data', '10', 'gzip']);
    const [second] = await run(['aiokafka-consume', serve.bootstrap, 'aio-data', 'aio-g', '10']);
    assert.deepEqual(second, { event: 'consumed', count: 10, distinct: 10, committedTotal: 210 });
  });

  test('confluent-kafka - batches resent after lost Produce responses are stored once', async () => {
    const { result, dropped, stored } = await withLostProduceResponses('ck-resent', 3, (bootstrap) =>
      run(['confluent-produce', bootstrap, 'ck-resent', '3000', 'none']),
    );
    assert.equal(dropped, 3, 'three Produce responses were lost');
    assert.equal(result[0]!.acked, 3000, JSON.stringify(result[0]));
    assert.equal(result[0]!.distinctOffsets, 3000);
    assert.equal(stored, 3000n, 'every record stored once although its batch was sent again');
  });

  test('aiokafka - batches resent after lost Produce responses are stored once', async () => {
    const { result, dropped, stored } = await withLostProduceResponses('aio-resent', 3, (bootstrap) =>
      run(['aiokafka-produce', bootstrap, 'aio-resent', '3000', 'none']),
    );
    assert.equal(dropped, 3, 'three Produce responses were lost');
    assert.equal(result[0]!.acked, 3000, JSON.stringify(result[0]));
    assert.equal(result[0]!.distinctOffsets, 3000);
    assert.equal(stored, 3000n, 'every record stored once although its batch was sent again');
  });
});
