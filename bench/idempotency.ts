/**
 * `npm run bench -- idempotency [--quick] [--json]`: what deduplication and `concurrency: N` cost
 * a handler on the embedded transport, as ratios against a bare handler measured in the same run.
 *
 * Messages are published once (small events over 256 keys, 25 per publish call); each scenario
 * then consumes them with a bus in a new consumer group (new groups replay from the start) for a
 * fixed time, and the rate is the messages handled in that time.
 *
 * - Bare handler (does nothing), concurrency 8: the baseline.
 * - The same with `memoryIdempotencyStore()`, with `postgresInbox` in remember mode (a `seen`
 *   query before and a `remember` insert after the handler), and with `context.transaction`
 *   around empty work (the inbox's own cost: `seen`, then begin + insert, commit).
 * - A bare handler that waits 1 ms (simulated I/O) at concurrency 1, 8 and 64: what
 *   per-key-ordered parallelism buys when handlers wait on I/O.
 *
 * PostgreSQL: `HERALD_POSTGRES_URL` (default `postgres://postgres@127.0.0.1:5432/test`); the
 * inbox tables live in a scratch schema dropped at the end. Markdown on stdout (or JSON with
 * `--json`), progress on stderr.
 */

import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { embeddedTransport } from '@herald/broker';
import {
  createBus,
  defineEvent,
  encodeEnvelope,
  type Handler,
  type IdempotencyStore,
  memoryIdempotencyStore,
  silentLogger,
  type TransportMessage,
  uuidv7,
} from '@herald/bus';
import pg from 'pg';
import { z } from 'zod';
import { postgresInbox } from '../packages/postgres/src/index.ts';
import { format, parseBenchArgs, progressLine } from './_common.ts';

const POSTGRES_URL =
  process.env.HERALD_POSTGRES_URL ??
  `postgres://postgres@127.0.0.1:${process.env.HERALD_POSTGRES_PORT ?? 5432}/test`;
const KEYS = 256;
const PUBLISH_BATCH = 25;
const PUBLISHERS = 16;
const SIMULATED_IO_MS = 1;
/** Reads of at most 16 KiB: the broker re-reads a whole fetch to refill one free window slot. */
const FETCH_BYTES_MAX = 16 * 1024;

const BenchDeposit = defineEvent('BenchDeposit', {
  topic: 'bench-deposits',
  schema: z.object({ account: z.string(), amountCents: z.number().int() }),
  key: (deposit) => deposit.account,
});

type Store = 'none' | 'memory' | 'postgres';

interface Scenario {
  readonly name: string;
  readonly store: Store;
  readonly concurrency: number;
  readonly handler: Handler<{ account: string; amountCents: number }>;
}

interface Row {
  readonly name: string;
  readonly concurrency: number;
  readonly messages: number;
  readonly seconds: number;
  readonly messagesPerSecond: number;
  /** This rate divided by the bare handler's. */
  readonly ratioToBare: number;
}

function progress(text: string): void {
  progressLine('idempotency', text);
}

const nothing: Handler<unknown> = () => {};
const simulatedIo: Handler<unknown> = () => new Promise((resolve) => setTimeout(resolve, SIMULATED_IO_MS));
const emptyTransaction: Handler<unknown> = async (_data, context) => {
  await context.transaction(async () => {});
};

function scenarios(): Scenario[] {
  return [
    { name: 'bare handler', store: 'none', concurrency: 8, handler: nothing },
    { name: 'memoryIdempotencyStore', store: 'memory', concurrency: 8, handler: nothing },
    { name: 'postgresInbox, remember mode', store: 'postgres', concurrency: 8, handler: nothing },
    {
      name: 'postgresInbox, context.transaction (empty work)',
      store: 'postgres',
      concurrency: 8,
      handler: emptyTransaction,
    },
    ...[1, 8, 64].map((concurrency) => ({
      name: `bare handler, ${SIMULATED_IO_MS} ms simulated I/O`,
      store: 'none' as const,
      concurrency,
      handler: simulatedIo,
    })),
  ];
}

/** Publishes `count` deposits over {@link KEYS} keys to the broker in `directory`, from 16 publishers. */
async function publish(directory: string, count: number): Promise<void> {
  const transport = await embeddedTransport({ dir: directory });
  const time = new Date().toISOString();
  const deposit = (index: number): TransportMessage => {
    const account = `account-${index % KEYS}`;
    return encodeEnvelope({
      specversion: '1.0',
      id: uuidv7(),
      source: '/bench/idempotency',
      type: BenchDeposit.type,
      time,
      datacontenttype: 'application/json',
      partitionkey: account,
      dataversion: 1,
      extensions: {},
      data: { account, amountCents: 1 + (index % 1000) },
    });
  };
  let next = 0;
  const publisher = async () => {
    // Bounded by count: each iteration claims the next batch.
    for (let start = next; start < count; start = next) {
      next = Math.min(count, start + PUBLISH_BATCH);
      const batch = Array.from({ length: next - start }, (_, offset) => deposit(start + offset));
      await transport.publish(BenchDeposit.topic, batch);
    }
  };
  try {
    await Promise.all(Array.from({ length: PUBLISHERS }, publisher));
  } finally {
    await transport.close();
  }
}

/** Consumes with a new group for `durationMs` (or until all `available` are handled). */
async function consume(
  directory: string,
  scenario: Scenario,
  group: string,
  store: IdempotencyStore | undefined,
  available: number,
  durationMs: number,
): Promise<{ messages: number; seconds: number }> {
  const transport = await embeddedTransport({ dir: directory, fetchBytesMax: FETCH_BYTES_MAX });
  const bus = createBus({ transport, idempotency: store, logger: silentLogger });
  bus.on(BenchDeposit, { group, concurrency: scenario.concurrency }, scenario.handler);
  await bus.start();
  const started = performance.now();
  // Bounded by durationMs: polls every 10 ms.
  while (performance.now() - started < durationMs && bus.stats().handled < available) {
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  const seconds = (performance.now() - started) / 1000;
  const messages = bus.stats().handled;
  await bus.stop({ timeoutMs: 5000 });
  if (bus.stats().failed > 0) throw new Error(`${scenario.name}: ${bus.stats().failed} handler runs failed`);
  return { messages, seconds };
}

/** Entry point used by `bench/run.ts`. */
export async function run(args: string[]): Promise<void> {
  const { quick, json } = parseBenchArgs(args);
  const durationMs = quick ? 1500 : 4000;
  // Enough that the fastest scenario runs for the whole duration.
  const available = quick ? 40_000 : 120_000;
  const directory = await mkdtemp(path.join(tmpdir(), 'herald-idempotency-bench-'));
  const schema = `herald_bench_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Pool({ connectionString: POSTGRES_URL, max: 1 });
  const rows: Row[] = [];
  try {
    await admin.query(`create schema ${schema}`);
    progress(`publishing ${available} messages over ${KEYS} keys`);
    await publish(directory, available);
    // Warm-up (not recorded): the first consumer of a process pays for JIT and file caches.
    await consume(directory, scenarios()[0]!, 'warm-up', undefined, available, durationMs / 2);
    for (const [index, scenario] of scenarios().entries()) {
      const store =
        scenario.store === 'memory'
          ? memoryIdempotencyStore()
          : scenario.store === 'postgres'
            ? postgresInbox({
                connectionString: POSTGRES_URL,
                table: `${schema}.inbox_${index}`,
                pruneIntervalMs: 0,
              })
            : undefined;
      const result = await consume(directory, scenario, `group-${index}`, store, available, durationMs);
      const messagesPerSecond = result.messages / result.seconds;
      const bare = rows[0]?.messagesPerSecond ?? messagesPerSecond;
      rows.push({ ...scenario, ...result, messagesPerSecond, ratioToBare: messagesPerSecond / bare });
      progress(`${scenario.name}, concurrency ${scenario.concurrency}: ${format(messagesPerSecond)} msg/s`);
    }
  } finally {
    await admin.query(`drop schema if exists ${schema} cascade`).catch(() => {});
    await admin.end();
    await rm(directory, { recursive: true, force: true });
  }
  if (json) {
    const report = { suite: 'idempotency', quick, durationMs, node: process.version, keys: KEYS, rows };
    process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
    return;
  }
  const lines = [
    `| handler (${durationMs} ms of consuming each, embedded transport) | concurrency | messages | messages/s | ÷ bare |`,
    '| --- | ---: | ---: | ---: | ---: |',
    ...rows.map(
      (row) =>
        `| ${row.name} | ${row.concurrency} | ${format(row.messages)} | ${format(row.messagesPerSecond)} | ${format(row.ratioToBare * 100, 1)}% |`,
    ),
    '',
    `Bare = the first row, measured in this run. Messages over ${KEYS} keys (per-key order is kept at every ` +
      `concurrency). PostgreSQL at ${new URL(POSTGRES_URL).host}; each postgresInbox row uses its own table.`,
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
}
