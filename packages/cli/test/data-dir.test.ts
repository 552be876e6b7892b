/** Every command against a data directory (`--data`), through the real binary. */
import { test } from 'node:test';
import { temporaryDirectory } from '@herald/test-support';
import { deadLetters, topicsProduceConsume, writeDeadLetters } from './scenario.ts';

test('cli data dir - topics, produce, consume, tail, groups, replay and exit codes', {
  timeout: 300_000, // ~95 s alone on 2 cores: room for a loaded machine
}, async () => {
  const dir = temporaryDirectory();
  await topicsProduceConsume(['--data', dir], 'data');
});

test('cli data dir - dlq list, show and redrive', { timeout: 180_000 }, async () => {
  const dir = temporaryDirectory();
  await writeDeadLetters(dir);
  await deadLetters(['--data', dir]);
});
