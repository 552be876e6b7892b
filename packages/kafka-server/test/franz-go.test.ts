/**
 * franz-go (github.com/twmb/franz-go, from the Go module proxy) against `herald serve`:
 * test/go/main.go, built once with `go build` into a cache. franz-go's producer is idempotent by
 * default (acks=all); its group consumer commits explicitly and a new one resumes from the commit.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { runTool } from '@herald/test-support';
import { buildFranzGo, jsonLines, storedBatchHeaders, withLostProduceResponses } from './client-tools.ts';
import { type Serve, startServe } from './support.ts';

describe('franz-go', { timeout: 420_000 }, () => {
  let serve: Serve;
  let binary: string;
  const run = async (args: readonly string[]) => {
    const result = await runTool(binary, args, { timeoutMs: 90_000 });
    assert.equal(result.code, 0, `franz-go ${args.join(' ')} failed:\n${result.stdout}\n${result.stderr}`);
    return jsonLines(result.stdout);
  };
  before(async () => {
    [serve, binary] = await Promise.all([startServe({ partitions: 3 }), buildFranzGo()]);
  });
  after(async () => {
    await serve?.stop();
  });

  test('franz-go - idempotent producer with zstd and lz4', async () => {
    for (const [codec, bits] of [
      ['zstd', 4],
      ['lz4', 3],
    ] as const) {
      const topic = `franz-${codec}`;
      const [produced] = await run(['produce', serve.bootstrap, topic, '300', codec]);
      assert.deepEqual(produced, { event: 'produced', acked: 300, distinctOffsets: 300, errors: null });
      const headers = storedBatchHeaders(serve.dir, topic);
      assert.equal(
        headers.reduce((sum, header) => sum + header.recordsCount, 0),
        300,
      );
      for (const header of headers) {
        assert.ok(header.producerId >= 0n, `${topic}: an idempotent producer id`);
        assert.equal(header.compression, bits, `${topic}: stored as ${codec}`);
      }
    }
  });

  test('franz-go - a group consumer commits and a new one resumes after the commit', async () => {
    await run(['produce', serve.bootstrap, 'franz-group', '60', 'none']);
    const [first] = await run(['consume', serve.bootstrap, 'franz-group', 'franz-g', '60']);
    assert.deepEqual(first, { event: 'consumed', count: 60, distinct: 60, committedTotal: 60 });
    await run(['produce', serve.bootstrap, 'franz-group', '10', 'none']);
    const [second] = await run(['consume', serve.bootstrap, 'franz-group', 'franz-g', '10']);
    assert.deepEqual(second, { event: 'consumed', count: 10, distinct: 10, committedTotal: 70 });
  });

  test('franz-go - batches resent after lost Produce responses are stored once', async () => {
    const { result, dropped, stored } = await withLostProduceResponses('franz-resent', 3, (bootstrap) =>
      run(['produce', bootstrap, 'franz-resent', '3000', 'none']),
    );
    assert.equal(dropped, 3, 'three Produce responses were lost');
    assert.deepEqual(result[0], { event: 'produced', acked: 3000, distinctOffsets: 3000, errors: null });
    assert.equal(stored, 3000n, 'every record stored once although its batch was sent again');
  });
});
