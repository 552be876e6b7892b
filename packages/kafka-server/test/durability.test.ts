/**
 * Durability of `herald serve` under kill -9 *during* production: a kafkajs producer child sends
 * uniquely numbered messages with acks=all (4 sends in flight) and prints each acknowledged
 * (sequence, partition, offset); the server is SIGKILLed right as a send begins, restarted on the
 * same data directory, and the topic is read back with kcat. Every acknowledged message must be
 * there exactly once, at its acknowledged offset, byte for byte; no message may appear twice or
 * without having been sent; every partition must still start at offset 0 with dense offsets (no
 * retention is configured). Three cycles per run; at least one kill must land with sends in flight.
 *
 * A process kill loses nothing the kernel already holds, so the same cycles also run against
 * `fixtures/power-loss-serve.ts`: the server through `startKafkaServer` with its log on the log's
 * power-loss file system, where bytes not fsynced die with the process. It must pass too, and fail
 * with its disk's `skip-fsync` fault. The last tests turn on the producer's faults and check that
 * the verification reports them.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'node:test';
import { temporaryDirectory, withDeadline } from '@herald/test-support';
import { DURABLE_PARTITIONS, DURABLE_TOPIC, durableValue } from './durable-workload.ts';
import { kcat, lines, type Serve, startServe } from './support.ts';

const PRODUCER = path.join(import.meta.dirname, 'fixtures', 'durable-producer.ts');
const POWER_LOSS_SERVE = path.join(import.meta.dirname, 'fixtures', 'power-loss-serve.ts');
const CYCLES = Number(process.env.SERVE_CRASH_CYCLES ?? 3);
const SEQUENCES_PER_CYCLE = 1_000_000;

interface Ledger {
  /** Sequence → `partition:offset` the server acknowledged. */
  readonly acknowledged: Map<number, string>;
  readonly begun: Set<number>;
  /** `partition:offset` → the sequence acknowledged there: a second one is a reused offset. */
  readonly acknowledgedAt: Map<string, number>;
}

/** Runs one producer against `serve` and SIGKILLs the server mid-production; returns sends in flight. */
async function produceAndKill(
  serve: Serve,
  first: number,
  ledger: Ledger,
  ackTarget: number,
  fault?: string,
): Promise<number> {
  const child: ChildProcess = spawn(process.execPath, [PRODUCER, serve.bootstrap, String(first)], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, HERALD_TEST_FAULT: fault ?? '' },
  });
  // 'close', not 'exit': acks still in the pipe when the producer dies are read first.
  const closed = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)));
  const inFlight = new Set<number>();
  let acks = 0;
  let stderr = '';
  let violation: string | undefined;
  let killNow: () => void = () => {};
  const killMoment = new Promise<void>((resolve) => {
    killNow = resolve;
  });
  let buffered = '';
  child.stdout!.setEncoding('utf8');
  child.stdout!.on('data', (chunk: string) => {
    buffered += chunk;
    // Each iteration consumes one complete line, so the loop is bounded by the chunk.
    for (let newline = buffered.indexOf('\n'); newline >= 0; newline = buffered.indexOf('\n')) {
      const [kind, sequence, partition, offset] = buffered.slice(0, newline).split(' ');
      buffered = buffered.slice(newline + 1);
      const n = Number(sequence);
      if (kind === 'begin') {
        ledger.begun.add(n);
        inFlight.add(n);
        if (acks >= ackTarget) killNow(); // right as a send begins: the ones before it are in flight
      } else if (kind === 'ack') {
        inFlight.delete(n);
        const where = `${partition}:${offset}`;
        if (ledger.acknowledged.has(n)) violation ??= `sequence ${n} was acknowledged twice`;
        const holder = ledger.acknowledgedAt.get(where);
        if (holder !== undefined)
          violation ??= `offset ${where} was acknowledged for ${holder} and again for ${n} (a reused offset)`;
        ledger.acknowledged.set(n, where);
        ledger.acknowledgedAt.set(where, n);
        acks++;
      }
    }
  });
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (chunk: string) => {
    stderr = (stderr + chunk).slice(-4000);
  });
  try {
    await withDeadline(
      Promise.race([
        killMoment,
        closed.then((code) => assert.fail(`producer exited with ${code} before the kill: ${stderr}`)),
      ]),
      30_000,
      `${ackTarget} acknowledged messages`,
    );
    await serve.kill();
    // The producer's sends fail once the server is gone, and it exits on its own.
    const code = await withDeadline(closed, 20_000, 'the producer to exit after the server died');
    assert.equal(code, 0, `producer exit code: ${stderr}`);
  } finally {
    child.kill('SIGKILL');
  }
  if (violation !== undefined) assert.fail(violation);
  return inFlight.size;
}

/** Reads the topic back and checks every acknowledged message exactly once, byte for byte. */
async function verify(bootstrap: string, ledger: Ledger): Promise<number> {
  const { stdout } = await kcat(
    bootstrap,
    ['-C', '-t', DURABLE_TOPIC, '-e', '-q', '-f', '%p %o %k %s\n'],
    undefined,
    60_000,
  );
  const offsets = new Map<number, bigint[]>();
  const seen = new Map<number, string>();
  for (const line of lines(stdout)) {
    const [partition, offset, key, value] = line.split(' ');
    const n = Number(value!.slice(0, value!.indexOf('-')));
    const where = `${partition}:${offset}`;
    if (seen.has(n))
      assert.fail(`sequence ${n} is stored twice, at ${seen.get(n)} and ${where} (a duplicate)`);
    seen.set(n, where);
    if (!ledger.begun.has(n)) assert.fail(`sequence ${n} at ${where} was never sent`);
    if (key !== `seq-${n}` || value !== durableValue(n))
      assert.fail(`sequence ${n} at ${where} came back with different bytes`);
    const list = offsets.get(Number(partition)) ?? [];
    list.push(BigInt(offset!));
    offsets.set(Number(partition), list);
  }
  for (const [partition, list] of offsets) {
    list.sort((left, right) => (left < right ? -1 : left > right ? 1 : 0));
    list.forEach((offset, index) => {
      if (offset !== BigInt(index)) {
        assert.fail(
          `partition ${partition} does not hold dense offsets from 0 (found ${offset} at position ${index}): the log start moved or records went missing`,
        );
      }
    });
  }
  for (const [n, where] of ledger.acknowledged) {
    const found = seen.get(n);
    if (found === undefined)
      assert.fail(`acknowledged sequence ${n} (${where}) is missing after the restart`);
    if (found !== where) assert.fail(`acknowledged sequence ${n} moved from ${where} to ${found}`);
  }
  return seen.size;
}

/** What {@link runCycles} runs: the producer's fault, and the server's disk. */
interface CycleOptions {
  /** Fault of the producer child (`HERALD_TEST_FAULT`). */
  readonly fault?: 'drop-last-ack' | 'duplicate-one';
  /** `real`: `herald serve` on the real file system (default); `power-loss`: see the module comment. */
  readonly disk?: 'real' | 'power-loss';
  /** Fault of the power-loss disk. */
  readonly diskFault?: 'skip-fsync';
}

/** Cycles of produce, kill -9 mid-production, restart, verify; returns what it measured. */
async function runCycles(cycles: number, options: CycleOptions = {}) {
  const { fault } = options;
  const dir = temporaryDirectory('herald-durability-');
  const start = () =>
    startServe({
      dir,
      partitions: DURABLE_PARTITIONS,
      ...(options.disk === 'power-loss' ? { bin: POWER_LOSS_SERVE } : {}),
      ...(options.diskFault === undefined ? {} : { env: { HERALD_TEST_FAULT: options.diskFault } }),
    });
  const ledger: Ledger = { acknowledged: new Map(), begun: new Set(), acknowledgedAt: new Map() };
  let serve: Serve | undefined;
  let killsWithSendsInFlight = 0;
  let sendsInFlight = 0;
  let stored = 0;
  try {
    serve = await start();
    for (let cycle = 0; cycle < cycles; cycle++) {
      const ackTarget = 150 + Math.floor(Math.random() * 350);
      const running: Serve = serve;
      serve = undefined; // killed by produceAndKill (or killed in the finally below if it throws first)
      const inFlight = await produceAndKill(
        running,
        cycle * SEQUENCES_PER_CYCLE,
        ledger,
        ackTarget,
        fault,
      ).finally(() => running.kill().catch(() => {}));
      sendsInFlight += inFlight;
      if (inFlight > 0) killsWithSendsInFlight++;
      serve = await start();
      stored = await verify(serve.bootstrap, ledger);
    }
    return { acknowledged: ledger.acknowledged.size, stored, killsWithSendsInFlight, sendsInFlight };
  } finally {
    // A clean stop (exit code 0) of the last server is part of the check.
    await serve?.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

describe('durability', { timeout: 600_000 }, () => {
  it('kill -9 during acks=all production: every acknowledged message survives exactly once', {
    timeout: 90_000,
  }, async (t) => {
    const started = performance.now();
    const result = await runCycles(CYCLES);
    t.diagnostic(
      `${CYCLES} kills in ${Math.round(performance.now() - started)} ms: ${result.acknowledged} acknowledged, ${result.stored} stored; ` +
        `kills with sends in flight: ${result.killsWithSendsInFlight} of ${CYCLES} (${result.sendsInFlight} messages)`,
    );
    assert.ok(result.killsWithSendsInFlight > 0, 'at least one kill landed with sends in flight');
  });

  it('kill -9 during acks=all production on a power-loss disk: every acknowledged message survives exactly once', {
    timeout: 90_000,
  }, async (t) => {
    const started = performance.now();
    const result = await runCycles(CYCLES, { disk: 'power-loss' });
    t.diagnostic(
      `${CYCLES} kills in ${Math.round(performance.now() - started)} ms: ${result.acknowledged} acknowledged, ${result.stored} stored; ` +
        `kills with sends in flight: ${result.killsWithSendsInFlight} of ${CYCLES} (${result.sendsInFlight} messages)`,
    );
    assert.ok(result.killsWithSendsInFlight > 0, 'at least one kill landed with sends in flight');
  });

  it('the test fails when the server acknowledges produces it never fsynced (power-loss disk, HERALD_TEST_FAULT=skip-fsync)', {
    timeout: 60_000,
  }, async () => {
    await assert.rejects(
      runCycles(1, { disk: 'power-loss', diskFault: 'skip-fsync' }),
      /acknowledged sequence \d+ .* is missing/,
    );
  });

  it('the test fails when an acknowledged message was never stored (HERALD_TEST_FAULT=drop-last-ack)', {
    timeout: 60_000,
  }, async () => {
    await assert.rejects(runCycles(1, { fault: 'drop-last-ack' }), /acknowledged sequence \d+ .* is missing/);
  });

  it('the test fails when an acknowledged message is stored twice (HERALD_TEST_FAULT=duplicate-one)', {
    timeout: 60_000,
  }, async () => {
    await assert.rejects(runCycles(1, { fault: 'duplicate-one' }), /is stored twice/);
  });
});
