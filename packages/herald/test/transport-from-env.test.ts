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
import { describe, test } from 'node:test';
import {
  RABBITMQ_URL,
  requireRabbitMq,
  requireReachable,
  startServe,
  temporaryDirectory,
} from '@herald/test-support';
import {
  ConfigurationError,
  createBus,
  DEFAULT_NATS_URL,
  defineEvent,
  type ImportPackage,
  lazyTransportFromEnv,
  memoryTransport,
  silentLogger,
  transportFromEnv,
} from 'herald';
import { Redis } from 'ioredis';
import { z } from 'zod';

const Noted = defineEvent('Noted', {
  topic: `env-notes-${randomUUID().slice(0, 8)}`,
  schema: z.object({ text: z.string() }),
  key: (note) => note.text,
});

const freshDirectory = () => temporaryDirectory('herald-env-');

const SETTINGS = [
  'HERALD_TRANSPORT',
  'HERALD_KAFKA_BROKERS',
  'HERALD_RABBITMQ_URL',
  'HERALD_NATS_URL',
  'HERALD_REDIS_URL',
  'HERALD_REDIS_PREFIX',
  'HERALD_DATA_DIR',
  'HERALD_AWS_ENDPOINT',
  'HERALD_AWS_REGION',
  'AWS_ACCESS_KEY_ID',
  'AWS_SECRET_ACCESS_KEY',
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
          /embedded, kafka, rabbitmq, nats, redis, aws, memory/.test(error.message),
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
    const url = RABBITMQ_URL;
    await requireRabbitMq(url);
    await withEnv({ HERALD_TRANSPORT: 'rabbitmq', HERALD_RABBITMQ_URL: url }, async () => {
      // What createBus() opens lazily, opened here with a prefix of its own so it can be deleted after.
      assert.equal(createBus({ logger: silentLogger }).transport.name, 'rabbitmq');
      const transport = await transportFromEnv({
        rabbitMq: { exchangePrefix: `herald.env-test-${randomUUID().slice(0, 8)}.` },
      });
      const bus = createBus({ transport, logger: silentLogger });
      const patterns = await transportFromEnv({
        rabbitMq: { exchangePrefix: `herald.env-test-${randomUUID().slice(0, 8)}.`, topicPatterns: true },
      });
      try {
        assert.equal(bus.transport.name, 'rabbitmq');
        // Declared before opening = the opened transport's own, with topicPatterns off and on.
        assert.deepEqual(
          lazyTransportFromEnv('rabbitmq').features.topicPatterns,
          transport.features.topicPatterns,
        );
        assert.deepEqual(
          lazyTransportFromEnv('rabbitmq', { rabbitMq: { topicPatterns: true } }).features.topicPatterns,
          patterns.features.topicPatterns,
        );
        assert.equal(patterns.features.topicPatterns?.mode, 'supported');
        await roundTrip(bus, 'on rabbitmq');
      } finally {
        await bus.stop({ timeoutMs: 5_000 });
        await patterns.close();
        await (transport as unknown as { deleteTopology(): Promise<void> }).deleteTopology().catch(() => {});
      }
    });
  });

  test('redis - createBus() runs on the Redis at HERALD_REDIS_URL, keys under HERALD_REDIS_PREFIX', async () => {
    const url = process.env.HERALD_REDIS_URL || `redis://127.0.0.1:${process.env.HERALD_REDIS_PORT ?? 6379}`;
    const prefix = `herald-test:env-${randomUUID().slice(0, 8)}:`;
    await withEnv(
      { HERALD_TRANSPORT: 'redis', HERALD_REDIS_URL: url, HERALD_REDIS_PREFIX: prefix },
      async () => {
        const bus = createBus({ logger: silentLogger });
        try {
          assert.equal(bus.transport.name, 'redis');
          await roundTrip(bus, 'on redis');
        } finally {
          await bus.stop({ timeoutMs: 5_000 });
        }
        // The keys went under the prefix (and are deleted: the server is shared).
        const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1 });
        redis.on('error', () => {});
        try {
          await redis.connect();
          const [, keys] = await redis.scan('0', 'MATCH', `${prefix}*`, 'COUNT', 10_000);
          assert.ok(
            keys.some((key) => key.startsWith(`${prefix}s:`)),
            `keys: ${keys.join(', ')}`,
          );
          if (keys.length > 0) await redis.del(...keys);
        } finally {
          redis.disconnect();
        }
      },
    );
  });

  test('aws - createBus() runs on SNS + SQS at HERALD_AWS_ENDPOINT (the moto emulator)', async () => {
    const endpoint =
      process.env.HERALD_AWS_ENDPOINT ?? `http://127.0.0.1:${process.env.HERALD_AWS_PORT ?? 4566}`;
    const env = {
      HERALD_TRANSPORT: 'aws',
      HERALD_AWS_ENDPOINT: endpoint,
      HERALD_AWS_REGION: 'us-east-1',
      AWS_ACCESS_KEY_ID: 'test',
      AWS_SECRET_ACCESS_KEY: 'test',
    };
    await withEnv(env, async () => {
      assert.equal(createBus({ logger: silentLogger }).transport.name, 'aws');
      // What createBus() opens lazily, opened here with a prefix of its own so it can be deleted after.
      const transport = await transportFromEnv({ aws: { namePrefix: `env-${randomUUID().slice(0, 8)}-` } });
      const bus = createBus({ transport, logger: silentLogger });
      try {
        assert.equal(bus.transport.name, 'aws');
        await roundTrip(bus, 'on aws');
      } finally {
        await bus.stop({ timeoutMs: 10_000 });
        await (transport as unknown as { deleteTopology(): Promise<void> }).deleteTopology().catch(() => {});
      }
    });
  });

  test('nats - createBus() runs on the NATS JetStream server at HERALD_NATS_URL', async () => {
    const url = process.env.HERALD_NATS_URL || `nats://127.0.0.1:${process.env.HERALD_NATS_PORT ?? 4222}`;
    const { hostname, port } = new URL(url);
    await requireReachable('NATS', hostname, Number(port || 4222));
    await withEnv({ HERALD_TRANSPORT: 'nats', HERALD_NATS_URL: url }, async () => {
      const lazy = createBus({ logger: silentLogger }).transport;
      assert.equal(lazy.name, 'nats');
      // What createBus() opens lazily, opened here with a prefix of its own so it can be deleted after.
      const transport = await transportFromEnv({ nats: { prefix: `env-test-${randomUUID().slice(0, 8)}` } });
      const bus = createBus({ transport, logger: silentLogger });
      try {
        assert.equal(bus.transport.name, 'nats');
        // Declared before opening = the opened transport's own (publishDeduplication included).
        assert.deepEqual(lazy.features, transport.features);
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
    // The other optional transports take the same path (their READMEs promise the same message).
    for (const name of ['nats', 'redis', 'aws']) {
      await assert.rejects(
        transportFromEnv({ env: { HERALD_TRANSPORT: name }, importPackage: notInstalled }),
        (error: unknown) => {
          assert.ok(error instanceof ConfigurationError, `${name}: ${String(error)}`);
          assert.match(error.message, new RegExp(`npm install @herald/transport-${name}$`));
          return true;
        },
      );
    }
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
      console.log(JSON.stringify({ transport: bus.transport.name, clients: loaded.filter((url) => /platformatic|amqplib|aws-sdk|nats-io|transport-kafka|transport-rabbitmq|transport-aws|transport-nats/.test(url)) }));
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
