/**
 * Durability: 10,000 messages produced with acks=all by kcat (librdkafka), the server killed with
 * SIGKILL, restarted: every acknowledged message is readable at the offset it had, and the high
 * watermarks are unchanged.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { kcat, lines, startServe } from './support.ts';

const COUNT = 10_000;

async function readAll(bootstrap: string): Promise<Map<string, string>> {
  const { stdout } = await kcat(
    bootstrap,
    ['-C', '-t', 'durable', '-e', '-q', '-f', '%p:%o %s\n'],
    undefined,
    120_000,
  );
  const placed = new Map<string, string>();
  for (const line of lines(stdout)) {
    const [position, value] = line.split(' ');
    placed.set(value!, position!);
  }
  return placed;
}

test('durability - acks=all messages and high watermarks survive kill -9', { timeout: 180_000 }, async () => {
  let serve = await startServe({ partitions: 4 });
  const dir = serve.dir;
  try {
    const input = Array.from({ length: COUNT }, (_, index) => `durable-${index}`).join('\n');
    // kcat exits non-zero (failing the test) if any message is not acknowledged.
    const produced = await kcat(serve.bootstrap, ['-P', '-t', 'durable', '-X', 'acks=all'], input, 120_000);
    assert.doesNotMatch(produced.stderr, /fail|error/i);
    const before = await readAll(serve.bootstrap);
    assert.equal(before.size, COUNT);
    const watermarks = async (bootstrap: string) =>
      (
        await kcat(bootstrap, [
          '-Q',
          '-t',
          'durable:0:-1',
          '-t',
          'durable:1:-1',
          '-t',
          'durable:2:-1',
          '-t',
          'durable:3:-1',
        ])
      ).stdout;
    const highBefore = await watermarks(serve.bootstrap);
    await serve.kill();
    serve = await startServe({ dir, partitions: 4 });
    const after = await readAll(serve.bootstrap);
    assert.equal(after.size, COUNT, 'every acknowledged message is readable');
    for (const [value, position] of before)
      assert.equal(after.get(value), position, `${value} kept its offset`);
    assert.equal(await watermarks(serve.bootstrap), highBefore, 'high watermarks intact');
  } finally {
    await serve.stop();
  }
});
