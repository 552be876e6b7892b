/**
 * Crash test of the transactional inbox: a consumer applying deposits to PostgreSQL with
 * `concurrency: 8` is kill -9'd at random moments and restarted until every deposit has an effect.
 * The child pauses between an effect's commit and its ack, so kills land in that window.
 * Through the inbox: 0 lost, 0 applied twice, balances exact, and at least one redelivery skipped
 * by the inbox. Without the inbox (write, then ack): 0 lost and at least one duplicate effect — the
 * proof that the kills hit the window. The last tests turn on the child's faults and check that the
 * verdict fails. Seeded: INBOX_CRASH_SEED replays a run (each run derives its seed from it);
 * INBOX_CRASH_KILLS sets the kills per run (default 8), INBOX_CRASH_EVENTS the events (default 3000).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { assertCrashRun, type InboxCrashSummary, runInboxCrash } from './support/inbox-crash-harness.ts';

const seed = Number(process.env.INBOX_CRASH_SEED ?? Math.floor(Math.random() * 2 ** 31));
const kills = Number(process.env.INBOX_CRASH_KILLS ?? 8);
const events = Number(process.env.INBOX_CRASH_EVENTS ?? 3000);

function describeRun(summary: InboxCrashSummary): string {
  return (
    `${summary.events} events, ${summary.kills} kills (${summary.killsBeforeReady} before ready) in ` +
    `${Math.round(summary.elapsedMs)} ms: ${summary.lost} lost, ${summary.duplicateEffects} duplicate effects ` +
    `(${summary.eventsAppliedMoreThanOnce} events), ${summary.unexpectedEffects} unexpected, ` +
    `${summary.balancesOffFromDeposits} balances off` +
    (summary.mode === 'inbox' ? `, ${summary.skippedByInbox}+ redeliveries skipped by the inbox` : '')
  );
}

describe('inbox crash', { timeout: 600_000 }, () => {
  it('kill -9 at random moments: every event applied exactly once, redeliveries skipped', {
    timeout: 60_000,
  }, async (t) => {
    t.diagnostic(`seed ${seed} (replay with INBOX_CRASH_SEED=${seed})`);
    const summary = await runInboxCrash({ mode: 'inbox', seed, kills, events, deadlineMs: 45_000 });
    t.diagnostic(`with the inbox: ${describeRun(summary)}`);
    assert.ok(summary.kills >= kills, `${summary.kills} kills, ${kills} planned`);
    assertCrashRun(summary);
  });

  it('the same run without the inbox applies some events twice (the kills hit commit-to-ack)', {
    timeout: 60_000,
  }, async (t) => {
    const runSeed = (seed + 1) % 2 ** 31;
    const summary = await runInboxCrash({ mode: 'none', seed: runSeed, kills, events, deadlineMs: 45_000 });
    t.diagnostic(`without the inbox: ${describeRun(summary)}`);
    assert.ok(summary.kills >= kills, `${summary.kills} kills, ${kills} planned`);
    assertCrashRun(summary);
  });

  it('the verdict fails when the handler bypasses the inbox (HERALD_TEST_FAULT=bypass-inbox)', {
    timeout: 60_000,
  }, async () => {
    const summary = await runInboxCrash({
      mode: 'inbox',
      seed: (seed + 2) % 2 ** 31,
      kills: 4,
      events: 1500,
      fault: 'bypass-inbox',
      deadlineMs: 45_000,
    });
    assert.throws(() => assertCrashRun(summary), /effects applied twice/);
  });

  it('the verdict fails when an event is acked without its effect (HERALD_TEST_FAULT=drop-one)', {
    timeout: 60_000,
  }, async () => {
    const summary = await runInboxCrash({
      mode: 'inbox',
      seed: (seed + 3) % 2 ** 31,
      kills: 1,
      events: 1500,
      fault: 'drop-one',
      deadlineMs: 45_000,
    });
    assert.throws(() => assertCrashRun(summary), /events lost/);
  });
});
