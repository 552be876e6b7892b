/**
 * A broker that dies under a live bus (`herald serve` killed with SIGKILL and not restarted): the
 * subscription retries with backoff and warns at most once per 30 s instead of flooding the log,
 * a publish rejects in bounded time with a retriable `TransportError`, and `bus.stop()` returns
 * within its timeout (which bounds the transport's close too, below its closeTimeoutMs), so nothing
 * can hang a test run or a process shutdown.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createBus, defineEvent, type Logger, type StandardSchemaV1, TransportError } from '@herald/bus';
import { eventually, withDeadline } from '@herald/test-support';
import { kafkaTransport } from '@herald/transport-kafka';
import { startServe } from './support.ts';

interface Ping {
  readonly n: number;
}
const schema: StandardSchemaV1<Ping, Ping> = {
  '~standard': {
    version: 1,
    vendor: 'test',
    validate: (value: unknown) =>
      typeof (value as Partial<Ping> | null)?.n === 'number'
        ? { value: value as Ping }
        : { issues: [{ message: 'not a ping' }] },
  },
};
const Pinged = defineEvent('Pinged', { topic: 'pings', schema });

interface Line {
  readonly level: string;
  readonly message: string;
  readonly atMs: number;
}

/** A logger that keeps every line, for counting what an outage writes. */
function capturingLogger(lines: Line[]): Logger {
  const keep = (level: string) => (_fields: unknown, message: string) => {
    lines.push({ level, message, atMs: performance.now() });
  };
  return { debug() {}, info: keep('info'), warn: keep('warn'), error: keep('error') };
}

/** How long the log is watched after the kill. */
const WATCH_MS = 3_000;
/**
 * The stop timeout asked for, and what stop() may take beyond it: StopOptions.timeoutMs promises
 * the broker at least 1 s more for closing (a produce request in flight, such as the bus's own
 * announcement, holds the close that long on a frozen broker), plus 250 ms for timers on a loaded
 * machine.
 */
const STOP_TIMEOUT_MS = 3_000;
const STOP_MARGIN_MS = 1_250;
/**
 * A publish to a dead broker must reject within this: the producer's retry budget (32 retries,
 * backoff up to 1 s: about 31 s, long enough to ride out a leader failover on a cluster) plus margin.
 */
const PUBLISH_BOUND_MS = 45_000;

test('broker gone - bounded warnings, publish rejects retriable, stop() within its timeout', {
  timeout: 120_000,
}, async (t) => {
  const serve = await startServe(2);
  const lines: Line[] = [];
  const logger = capturingLogger(lines);
  const transport = await kafkaTransport({ brokers: [serve.bootstrap], clientId: 'broker-gone', logger });
  const bus = createBus({ transport, logger });
  try {
    const handled: number[] = [];
    bus.on(Pinged, { group: 'watchers' }, (ping) => {
      handled.push(ping.n);
    });
    await bus.start();
    await bus.publish(Pinged, { n: 1 });
    await eventually(
      () => handled.includes(1),
      () => 'the first ping handled (the subscription is live)',
    );

    await serve.kill();
    const killedMs = performance.now();
    lines.length = 0;
    await new Promise((resolve) => setTimeout(resolve, WATCH_MS));
    const watched = lines.filter((line) => line.atMs - killedMs <= WATCH_MS);
    const warnings = watched.filter((line) => line.message.startsWith('kafka group '));
    const others = watched.filter((line) => !line.message.startsWith('kafka group '));
    t.diagnostic(
      `${WATCH_MS} ms after the kill: ${warnings.length} subscription warning(s), ${others.length} other line(s)`,
    );
    // One subscription, a window shorter than 30 s: at most one warning from it.
    assert.ok(
      warnings.length <= 1,
      `subscription warnings not throttled:\n${warnings.map((l) => l.message).join('\n')}`,
    );
    assert.ok(others.length <= 3, `unexpected log lines:\n${others.map((l) => l.message).join('\n')}`);

    const publishStartedMs = performance.now();
    const published = await withDeadline(
      bus.publish(Pinged, { n: 2 }).then(
        () => undefined,
        (error: unknown) => error,
      ),
      PUBLISH_BOUND_MS,
      'a publish to the dead broker to settle',
    );
    const publishMs = performance.now() - publishStartedMs;
    t.diagnostic(`publish to the dead broker rejected after ${Math.round(publishMs)} ms`);
    assert.ok(
      published instanceof TransportError,
      `publish: want a TransportError, got ${String(published)}`,
    );
    assert.equal(published.code, 'HERALD_TRANSPORT');
    assert.equal(published.retriable, true, 'a dead broker is a retriable failure');

    const stopStartedMs = performance.now();
    await withDeadline(
      bus.stop({ timeoutMs: STOP_TIMEOUT_MS }),
      STOP_TIMEOUT_MS + STOP_MARGIN_MS,
      'bus.stop() with the broker gone',
    );
    const stopMs = performance.now() - stopStartedMs;
    t.diagnostic(`bus.stop({ timeoutMs: ${STOP_TIMEOUT_MS} }) returned after ${Math.round(stopMs)} ms`);
    assert.ok(stopMs <= STOP_TIMEOUT_MS + STOP_MARGIN_MS, `stop took ${Math.round(stopMs)} ms`);
  } finally {
    await bus.stop({ timeoutMs: STOP_TIMEOUT_MS }).catch(() => {});
    await serve.kill().catch(() => {});
  }
});

/**
 * Starts `herald serve`, subscribes a bus, freezes the broker (SIGSTOP: connections stay open and
 * requests are never answered) and returns how long `bus.stop({ timeoutMs: stopTimeoutMs })` took.
 */
async function stopWithBrokerFrozen(
  t: { diagnostic(message: string): void },
  clientId: string,
  stopTimeoutMs: number,
  closeTimeoutMs: number | undefined,
): Promise<number> {
  const serve = await startServe(2);
  const lines: Line[] = [];
  const logger = capturingLogger(lines);
  const transport = await kafkaTransport({
    brokers: [serve.bootstrap],
    clientId,
    ...(closeTimeoutMs === undefined ? {} : { closeTimeoutMs }),
    logger,
  });
  const bus = createBus({ transport, logger });
  const pid = serve.pid;
  assert.ok(pid !== undefined, 'herald serve has a pid');
  try {
    const handled: number[] = [];
    bus.on(Pinged, { group: 'watchers' }, async (ping) => {
      handled.push(ping.n);
    });
    await bus.start();
    await bus.publish(Pinged, { n: 1 });
    await eventually(
      () => handled.includes(1),
      () => 'the first ping handled (the subscription is live)',
    );
    process.kill(pid, 'SIGSTOP');
    const stopStartedMs = performance.now();
    await withDeadline(
      bus.stop({ timeoutMs: stopTimeoutMs }),
      stopTimeoutMs + STOP_MARGIN_MS,
      'bus.stop() with the broker frozen',
    );
    const stopMs = performance.now() - stopStartedMs;
    t.diagnostic(
      `broker frozen: bus.stop({ timeoutMs: ${stopTimeoutMs} }) with closeTimeoutMs ${closeTimeoutMs ?? 'default'} returned after ${Math.round(stopMs)} ms`,
    );
    return stopMs;
  } finally {
    await bus.stop({ timeoutMs: stopTimeoutMs }).catch(() => {});
    process.kill(pid, 'SIGCONT');
    await serve.kill().catch(() => {});
  }
}

test('broker unresponsive - stop() drops the connections after closeTimeoutMs instead of waiting', {
  timeout: 60_000,
}, async (t) => {
  const stopMs = await stopWithBrokerFrozen(t, 'broker-stopped', STOP_TIMEOUT_MS, 1_000);
  assert.ok(stopMs <= STOP_TIMEOUT_MS + STOP_MARGIN_MS, `stop took ${Math.round(stopMs)} ms`);
});

test("broker unresponsive - bus.stop's timeoutMs bounds the transport's close below closeTimeoutMs", {
  timeout: 60_000,
}, async (t) => {
  // closeTimeoutMs stays at its default (5 s); stop's 1 s reaches the transport as close's timeoutMs.
  const stopTimeoutMs = 1_000;
  const stopMs = await stopWithBrokerFrozen(t, 'broker-stopped-early', stopTimeoutMs, undefined);
  assert.ok(stopMs <= stopTimeoutMs + STOP_MARGIN_MS, `stop took ${Math.round(stopMs)} ms`);
});
