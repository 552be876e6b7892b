/** Every command against `herald serve` (`--broker`), through the real binary. */
import { test } from 'node:test';
import { temporaryDirectory } from '@herald/test-support';
import { deadLetters, topicsProduceConsume, writeDeadLetters } from './scenario.ts';
import { startServe } from './support.ts';

test('cli broker - topics, produce, consume, tail, groups, replay and exit codes', {
  timeout: 300_000, // ~95 s alone on 2 cores: room for a loaded machine
}, async () => {
  const serve = await startServe();
  try {
    await topicsProduceConsume(['--broker', serve.broker], 'broker');
  } finally {
    await serve.stop();
  }
});

test('cli broker - dlq list, show and redrive of dead letters an application left', {
  timeout: 180_000,
}, async () => {
  const dir = temporaryDirectory();
  await writeDeadLetters(dir);
  const serve = await startServe(dir);
  try {
    await deadLetters(['--broker', serve.broker]);
  } finally {
    await serve.stop();
  }
});
