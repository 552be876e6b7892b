/**
 * The Jepsen-style checker (scripts/jepsen): first that it CAN fail, on hand-made histories with a
 * lost acknowledged value, a reordering per key, a stored duplicate and disagreeing offsets; then a
 * short run against `herald serve` (librdkafka producers and group consumers from `npm run setup`)
 * with one nemesis action of each kind, whose history must check clean. The long runs, and Apache
 * Kafka as the control, are `npm run jepsen -- --minutes N --target herald|kafka`.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { describe, it } from 'node:test';
import { checkHistory, type HistoryEvent } from '../scripts/jepsen/checker.ts';
import { clientPython, runJepsen } from '../scripts/jepsen/workload.ts';

/** A clean history: p0 sends three values of key k0, all acknowledged, stored and received once. */
function cleanHistory(): HistoryEvent[] {
  const history: HistoryEvent[] = [];
  for (let seq = 0; seq < 3; seq += 1) {
    const v = `p0-${seq}`;
    history.push({ f: 'invoke', p: 'p0', v, k: 'k0' });
    history.push({ f: 'ok', p: 'p0', v, k: 'k0', partition: 1, offset: seq });
  }
  for (let seq = 0; seq < 3; seq += 1) {
    history.push({ f: 'recv', c: 'c0', v: `p0-${seq}`, k: 'k0', partition: 1, offset: seq });
  }
  for (let seq = 0; seq < 3; seq += 1)
    history.push({ f: 'read', v: `p0-${seq}`, k: 'k0', partition: 1, offset: seq });
  return history;
}

describe('jepsen checker', { timeout: 30_000 }, () => {
  it('jepsen - a clean history is valid', () => {
    const report = checkHistory(cleanHistory());
    assert.equal(report.valid, true, JSON.stringify(report));
    assert.equal(report.acknowledged, 3);
    assert.equal(report.redeliveries, 0);
  });

  it('jepsen - an acknowledged value missing from the log and from the group is lost', () => {
    const history = cleanHistory().filter(
      (event) => !(event.f !== 'ok' && event.f !== 'invoke' && event.v === 'p0-1'),
    );
    const report = checkHistory(history);
    assert.equal(report.valid, false);
    assert.equal(report.lost, 1);
    assert.equal(report.lostByGroup, 1);
    assert.match(report.examples.lost![0]!, /p0-1 acknowledged at 1:1/);
  });

  it('jepsen - a later send stored or delivered first is a reordering per key', () => {
    const history = cleanHistory().map((event) => {
      if (event.f !== 'read' && event.f !== 'recv') return event;
      // Swap the values at offsets 1 and 2: the log holds p0-2 before p0-1.
      const swapped = event.v === 'p0-1' ? 'p0-2' : event.v === 'p0-2' ? 'p0-1' : event.v;
      return { ...event, v: swapped };
    });
    const report = checkHistory(history);
    assert.equal(report.valid, false);
    assert.ok(report.reorderings >= 2, `log and consumer reorderings: ${JSON.stringify(report.examples)}`);
    assert.ok(report.offsetDisagreements >= 2, 'the acknowledged offsets disagree with the read ones');
  });

  it('jepsen - a stored copy and a redelivery are counted; only the former is beyond at-least-once', () => {
    const history = [
      ...cleanHistory(),
      { f: 'read', v: 'p0-1', k: 'k0', partition: 1, offset: 3 },
      { f: 'recv', c: 'c1', v: 'p0-0', k: 'k0', partition: 1, offset: 0 },
    ] as HistoryEvent[];
    const report = checkHistory(history);
    assert.equal(report.duplicatesStored, 1);
    assert.equal(report.redeliveries, 1);
    assert.equal(report.reorderings, 0, 'a copy is not a reordering');
  });

  it('jepsen - a value nobody sent, or received at another offset, is reported', () => {
    const history = [
      ...cleanHistory(),
      { f: 'recv', c: 'c1', v: 'p0-2', k: 'k0', partition: 1, offset: 7 },
      { f: 'read', v: 'p9-0', k: 'k0', partition: 2, offset: 0 },
    ] as HistoryEvent[];
    const report = checkHistory(history);
    assert.equal(report.valid, false);
    assert.equal(report.offsetDisagreements, 1);
    assert.equal(report.unexpected, 1);
  });
});

describe('jepsen run against herald serve', { timeout: 150_000 }, () => {
  it('jepsen - crash -9, pause, cut and a consumer killed: nothing acknowledged lost or reordered', async () => {
    assert.ok(
      existsSync(clientPython()),
      `no Python with confluent-kafka at ${clientPython()}: run npm run setup`,
    );
    const seed = Number(process.env.JEPSEN_SEED ?? 23);
    const { report, elapsedMs } = await runJepsen({
      target: 'herald',
      durationMs: 24_000,
      seed,
      nemesisActions: ['crash', 'pause', 'cut', 'kill-consumer'],
      nemesisGapMsMin: 3_000,
      nemesisGapMsMax: 4_000,
      pauseMsMax: 2_000,
      drainTimeoutMs: 60_000,
    });
    const figures = JSON.stringify({ seed, elapsedMs: Math.round(elapsedMs), ...report });
    assert.equal(report.valid, true, figures);
    assert.ok(report.acknowledged > 100, figures);
    for (const action of ['crash', 'pause', 'cut', 'kill-consumer']) {
      assert.ok((report.nemesis[action] ?? 0) >= 1, `a ${action}: ${figures}`);
    }
    assert.equal(report.duplicatesStored, 0, `an idempotent producer stores no copy: ${figures}`);
  });
});
