/**
 * Crash test of the transactional inbox: a consumer applying 10,000 deposits to PostgreSQL with
 * `concurrency: 8` is kill -9'd at random moments and restarted until every deposit has an effect.
 * Through the inbox: 0 lost, 0 applied twice, balances exact. The same run without the inbox
 * (write, then ack) shows how many duplicates at-least-once delivery produced; only its
 * completeness is asserted. Seeded: set INBOX_CRASH_SEED to replay a run (each run derives its
 * seed from it), INBOX_CRASH_KILLS to change the kills per run (default 12).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type InboxCrashSummary, runInboxCrash } from './support/inbox-crash-harness.ts';

const seed = Number(process.env.INBOX_CRASH_SEED ?? Math.floor(Math.random() * 2 ** 31));
const kills = Number(process.env.INBOX_CRASH_KILLS ?? 12);

function describeRun(summary: InboxCrashSummary): string {
  return (
    `${summary.events} events, ${summary.kills} kills (${summary.killsBeforeReady} before ready) in ` +
    `${Math.round(summary.elapsedMs)} ms: ${summary.lost} lost, ${summary.duplicateEffects} duplicate effects ` +
    `(${summary.eventsAppliedMoreThanOnce} events), ${summary.unexpectedEffects} unexpected, ` +
    `${summary.balancesOffFromDeposits} balances off` +
    (summary.mode === 'inbox' ? `, ${summary.skippedByInbox}+ redeliveries skipped by the inbox` : '')
  );
}

test('inbox crash - kill -9 at random moments: every event applied exactly once', {
  timeout: 90_000,
}, async (t) => {
  t.diagnostic(`seed ${seed} (replay with INBOX_CRASH_SEED=${seed})`);
  const summary = await runInboxCrash({ mode: 'inbox', seed, kills, deadlineMs: 60_000 });
  t.diagnostic(`with the inbox: ${describeRun(summary)}`);
  const replay = `(replay with INBOX_CRASH_SEED=${seed})`;
  assert.ok(summary.kills >= kills, `${summary.kills} kills, ${kills} planned`);
  assert.equal(summary.lost, 0, `lost events, e.g. ${summary.lostIds.join(', ')} ${replay}`);
  assert.equal(summary.duplicateEffects, 0, `effects applied twice ${replay}`);
  assert.equal(summary.unexpectedEffects, 0, `effects of events never published ${replay}`);
  assert.equal(summary.balancesOffFromEffects, 0, `balances that differ from their effect rows ${replay}`);
  assert.equal(summary.balancesOffFromDeposits, 0, `balances that differ from the deposits ${replay}`);
});

test('inbox crash - the same run without the inbox shows the duplicates at-least-once gives', {
  timeout: 90_000,
}, async (t) => {
  const runSeed = (seed + 1) % 2 ** 31;
  const summary = await runInboxCrash({ mode: 'none', seed: runSeed, kills, deadlineMs: 60_000 });
  t.diagnostic(
    `without the inbox: ${summary.duplicateEffects} duplicate effects over ${summary.kills} kills`,
  );
  t.diagnostic(`without the inbox: ${describeRun(summary)}`);
  // At-least-once loses nothing; duplicates are expected and only shown.
  assert.ok(summary.kills >= kills, `${summary.kills} kills, ${kills} planned`);
  assert.equal(summary.lost, 0, `lost events, e.g. ${summary.lostIds.join(', ')} (seed ${runSeed})`);
});
