/**
 * `HERALD_TRANSPORT` chooses the transport of `createBus()`: memory, Kafka (against a real
 * `herald serve`), RabbitMQ and NATS (against the local servers, which `npm run setup` starts), an
 * unknown value, an explicit transport winning, and a transport package that is not installed
 * (simulated through the `importPackage` seam, since the packages are installed in this
 * repository). An app on the embedded broker never loads the Kafka, AMQP or NATS client.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { startServe } from '@herald/kafka-server/testing';
import {
  ConfigurationError,
  createBus,
  DEFAULT_NATS_URL,
  DEFAULT_RABBITMQ_URL,
  defineEvent,
  type ImportPackage,
  lazyTransportFromEnv,
  memoryTransport,
  silentLogger,
  transportFromEnv,
} from 'herald';
import { z } from 'zod';

const Noted = defineEvent('Noted', {
  topic: `env-notes-${randomUUID().slice(0, 8)}`,
  schema: z.object({ text: z.string() }),
  key: (note) => note.text,
});

const directories: string[] = [];
function freshDirectory(): string {
  const directory = mkdtempSync(join(tmpdir(), 'herald-env-'));
  directories.push(directory);
  return directory;
}
after(() => {
  for (const directory of directories) rmSync(directory, { recursive: true, force: true });
});

const SETTINGS = [
  'HERALD_TRANSPORT',
  'HERALD_KAFKA_BROKERS',
  'HERALD_RABBITMQ_URL',
  'HERALD_NATS_URL',
  'HERALD_DATA_DIR',
];

/** Runs `body` with `variables` set in `process.env` (and the other Herald settings unset), then restores it. */
async function withEnv<T>(variables: Record<string, string>, body: () => Promise<T> | T): Promise<T> {
  const saved = new Map(SETTINGS.map((name) => [name, process.env[name]]));
  for (const name of SETTINGS) delete process.env[name];
  Object.assign(process.env, variables);
  try {
    return await body();
  } finally {
    for (const [name, value] of saved) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
  }
}

/** Subscribes a group, publishes one note and waits (bounded) until the group handled it. */
async function roundTrip(bus: ReturnType<typeof createBus>, text: string): Promise<void> {
  const handled = Promise.withResolvers<string>();
  bus.on(Noted, { group: 'env-readers' }, (note) => {
    if (note.text === text) handled.resolve(note.text);
  });
  await bus.start();
  await bus.publish(Noted, { text });
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`"${text}" not handled within 20 s`)), 20_000);
  });
  try {
    assert.equal(await Promise.race([handled.promise, timedOut]), text);
  } finally {
    clearTimeout(timer);
  }
}

/** An `importPackage` that fails the way Node does for a package that is not installed. */
const notInstalled: ImportPackage = (specifier) => import(`${specifier}-not-installed`);

describe('herald - HERALD_TRANSPORT chooses the transport', { timeout: 180_000 }, () => {
  test('memory - createBus() runs on the memory transport', async () => {
    await withEnv({ HERALD_TRANSPORT: 'memory' }, async () => {
      const bus = createBus({ logger: silentLogger });
      try {
        assert.equal(bus.transport.name, 'memory');
        await roundTrip(bus, 'in memory');
      } finally {
        await bus.stop({ timeoutMs: 5_000 });
      }
    });
  });

  test('unknown value - createBus() throws a ConfigurationError listing the valid ones', async () => {
    await withEnv({ HERALD_TRANSPORT: 'pigeon' }, () => {
      assert.throws(
        () => createBus({ logger: silentLogger }),
        (error: unknown) =>
          error instanceof ConfigurationError &&
          error.code === 'HERALD_CONFIGURATION' &&
          /HERALD_TRANSPORT=pigeon/.test(error.message) &&
          /embedded, kafka, rabbitmq, memory/.test(error.message),
      );
    });
  });

  test('an explicit transport wins over HERALD_TRANSPORT', async () => {
    await withEnv({ HERALD_TRANSPORT: 'kafka' }, async () => {
      const bus = createBus({ transport: memoryTransport(), logger: silentLogger });
      try {
        assert.equal(bus.transport.name, 'memory');
      } finally {
        await bus.stop({ timeoutMs: 5_000 });
      }
    });
  });

  test('kafka - createBus() runs on herald serve at HERALD_KAFKA_BROKERS', async () => {
    const serve = await startServe({ dir: freshDirectory(), partitions: 2 });
    try {
      await withEnv({ HERALD_TRANSPORT: 'kafka', HERALD_KAFKA_BROKERS: serve.bootstrap }, async () => {
        const bus = createBus({ logger: silentLogger });
        try {
          assert.equal(bus.transport.name, 'kafka');
          await roundTrip(bus, 'on kafka');
          assert.equal(bus.transport.features.replaysToNewGroups, true);
          assert.equal(bus.transport.features.messageBytesMax, 1_000_000);
        } finally {
          await bus.stop({ timeoutMs: 5_000 });
        }
      });
    } finally {
      await serve.stop().catch(() => serve.kill());
    }
  });

  test('kafka - without HERALD_KAFKA_BROKERS the first start rejects saying what to set', async () => {
    await withEnv({ HERALD_TRANSPORT: 'kafka' }, async () => {
      const bus = createBus({ logger: silentLogger });
      bus.on(Noted, { group: 'g' }, () => {});
      try {
        await assert.rejects(bus.start(), (error: unknown) => {
          assert.ok(error instanceof ConfigurationError, String(error));
          assert.match(error.message, /HERALD_KAFKA_BROKERS/);
          return true;
        });
      } finally {
        await bus.stop({ timeoutMs: 5_000 });
      }
    });
  });

  test('rabbitmq - createBus() runs on the RabbitMQ at HERALD_RABBITMQ_URL', async () => {
    const url = process.env.HERALD_RABBITMQ_URL || DEFAULT_RABBITMQ_URL;
    await requireRabbitMq(url);
    await withEnv({ HERALD_TRANSPORT: 'rabbitmq', HERALD_RABBITMQ_URL: url }, async () => {
      // What createBus() opens lazily, opened here with a prefix of its own so it can be deleted after.
      assert.equal(createBus({ logger: silentLogger }).transport.name, 'rabbitmq');
      const transport = await transportFromEnv({
        rabbitMq: { exchangePrefix: `herald.env-test-${randomUUID().slice(0, 8)}.` },
      });
      const bus = createBus({ transport, logger: silentLogger });
      try {
        assert.equal(bus.transport.name, 'rabbitmq');
        await roundTrip(bus, 'on rabbitmq');
      } finally {
        await bus.stop({ timeoutMs: 5_000 });
        await (transport as unknown as { deleteTopology(): Promise<void> }).deleteTopology().catch(() => {});
      }
    });
  });

  test('nats - createBus() runs on the NATS JetStream server at HERALD_NATS_URL', async () => {
    const url = process.env.HERALD_NATS_URL || `nats://127.0.0.1:${process.env.HERALD_NATS_PORT ?? 4222}`;
    await requirePort(url, 4222, 'NATS');
    await withEnv({ HERALD_TRANSPORT: 'nats', HERALD_NATS_URL: url }, async () => {
      assert.equal(createBus({ logger: silentLogger }).transport.name, 'nats');
      // What createBus() opens lazily, opened here with a prefix of its own so it can be deleted after.
      const transport = await transportFromEnv({ nats: { prefix: `env-test-${randomUUID().slice(0, 8)}` } });
      const bus = createBus({ transport, logger: silentLogger });
      try {
        assert.equal(bus.transport.name, 'nats');
        await roundTrip(bus, 'on nats');
      } finally {
        await bus.stop({ timeoutMs: 5_000 });
        await (transport as unknown as { deleteStreams(): Promise<void> }).deleteStreams().catch(() => {});
      }
    });
    assert.equal(DEFAULT_NATS_URL, 'nats://127.0.0.1:4222');
  });

  test('a transport package that is not installed is a ConfigurationError naming what to install', async () => {
    await assert.rejects(
      transportFromEnv({
        env: { HERALD_TRANSPORT: 'kafka', HERALD_KAFKA_BROKERS: '127.0.0.1:9092' },
        importPackage: notInstalled,
      }),
      (error: unknown) => {
        assert.ok(error instanceof ConfigurationError, String(error));
        assert.match(error.message, /npm install @herald\/transport-kafka$/);
        return true;
      },
    );
    // Through createBus()'s lazy transport: the first start rejects the same way.
    const bus = createBus({
      transport: lazyTransportFromEnv('rabbitmq', {
        env: { HERALD_TRANSPORT: 'rabbitmq' },
        importPackage: notInstalled,
      }),
      logger: silentLogger,
    });
    bus.on(Noted, { group: 'g' }, () => {});
    try {
      await assert.rejects(bus.start(), (error: unknown) => {
        assert.ok(error instanceof ConfigurationError, String(error));
        assert.match(error.message, /HERALD_TRANSPORT=rabbitmq needs @herald\/transport-rabbitmq/);
        assert.match(error.message, /npm install @herald\/transport-rabbitmq$/);
        return true;
      });
    } finally {
      await bus.stop({ timeoutMs: 5_000 });
    }
  });

  test('embedded - an app on the embedded broker never loads the Kafka or AMQP client', () => {
    const script = `
      import { registerHooks } from 'node:module';
      const loaded = [];
      registerHooks({ resolve(specifier, context, next) { const result = next(specifier, context); loaded.push(result.url); return result; } });
      const { createBus, defineEvent } = await import('herald');
      const Noted = defineEvent('Noted', { topic: 'notes', schema: { '~standard': { version: 1, vendor: 't', validate: (value) => ({ value }) } } });
      const bus = createBus();
      await bus.publish(Noted, { text: 'hello' });
      await bus.stop();
      console.log(JSON.stringify({ transport: bus.transport.name, clients: loaded.filter((url) => /platformatic|amqplib|nats-io|transport-kafka|transport-rabbitmq|transport-nats/.test(url)) }));
    `;
    const run = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
      cwd: import.meta.dirname,
      env: { ...process.env, HERALD_TRANSPORT: '', HERALD_DATA_DIR: freshDirectory() },
      encoding: 'utf8',
      timeout: 60_000,
    });
    assert.equal(run.status, 0, run.stderr);
    assert.deepEqual(JSON.parse(run.stdout.trim().split('\n').at(-1)!), {
      transport: 'embedded',
      clients: [],
    });
  });
});

/** Fails at once, saying `run npm run setup`, unless the server's port at `url` accepts a connection within 2 s. */
function requirePort(url: string, defaultPort: number, server: string): Promise<void> {
  const { hostname, port } = new URL(url);
  const address = `${hostname}:${port || defaultPort}`;
  return new Promise((resolve, reject) => {
    const socket = connect({ host: hostname, port: Number(port || defaultPort) });
    const fail = (reason: string) => {
      socket.destroy();
      reject(new Error(`${server} is not reachable at ${address} (${reason}): run npm run setup`));
    };
    socket.setTimeout(2_000, () => fail('no answer within 2 s'));
    socket.once('error', (error) => fail(error.message));
    socket.once('connect', () => {
      socket.destroy();
      resolve();
    });
  });
}

/** Fails at once, saying `run npm run setup`, unless RabbitMQ's port accepts a connection within 2 s. */
function requireRabbitMq(url: string): Promise<void> {
  const { hostname, port } = new URL(url);
  const address = `${hostname}:${port || 5672}`;
  return new Promise((resolve, reject) => {
    const socket = connect({ host: hostname, port: Number(port || 5672) });
    const fail = (reason: string) => {
      socket.destroy();
      reject(new Error(`RabbitMQ is not reachable at ${address} (${reason}): run npm run setup`));
    };
    socket.setTimeout(2_000, () => fail('no answer within 2 s'));
    socket.once('error', (error) => fail(error.message));
    socket.once('connect', () => {
      socket.destroy();
      resolve();
    });
  });
}
