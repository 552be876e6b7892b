import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { temporaryDirectory } from '@herald/test-support';
import { createBus, defineEvent, HeraldError } from 'herald';
import { z } from 'zod';

const Noted = defineEvent('Noted', {
  topic: 'notes',
  schema: z.object({ text: z.string() }),
  key: (note) => note.text,
});
const freshDirectory = () => temporaryDirectory('herald-default-');

describe('herald - createBus() defaults to the embedded durable broker', { timeout: 600_000 }, () => {
  it('messages published by one bus are read by a group of the next bus on the same directory', async () => {
    const dir = freshDirectory();
    const producer = createBus({ embedded: { dir } });
    try {
      assert.equal(producer.transport.name, 'embedded');
      assert.equal(producer.transport.features.persistent, true);
      await producer.publish(Noted, { text: 'written before the restart' });
    } finally {
      await producer.stop();
    }

    const consumer = createBus({ embedded: { dir } });
    try {
      const received = Promise.withResolvers<string>();
      consumer.on(Noted, { group: 'reader' }, (note) => received.resolve(note.text));
      await consumer.start();
      assert.equal(await received.promise, 'written before the restart');
    } finally {
      await consumer.stop();
    }
  });

  it('HERALD_DATA_DIR chooses the directory; a second bus on a locked directory fails at start with a typed error', async () => {
    const dir = freshDirectory();
    const previous = process.env.HERALD_DATA_DIR;
    process.env.HERALD_DATA_DIR = dir;
    const first = createBus();
    const second = createBus();
    try {
      await first.publish(Noted, { text: 'holding the lock' });
      second.on(Noted, { group: 'g' }, () => {});
      await assert.rejects(second.start(), (error: unknown) => {
        assert.ok(error instanceof HeraldError, `expected a HeraldError, got ${String(error)}`);
        assert.match(error.message, new RegExp(String(process.pid)));
        return true;
      });
    } finally {
      await second.stop();
      await first.stop();
      if (previous === undefined) delete process.env.HERALD_DATA_DIR;
      else process.env.HERALD_DATA_DIR = previous;
    }
  });
});
