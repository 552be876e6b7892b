import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { random } from '../src/load.ts';
import { temporaryDirectory } from './helpers.ts';

const MAIN = join(import.meta.dirname, '..', 'src', 'main.ts');
const ORDERS = 300;
const SEED = 42;
/** Deadline of one run of the app. */
const RUN_TIMEOUT_MS = 40_000;

interface RunOutcome {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
}

/** Runs `npm start` on `dataDir`; with `killAfterMs`, kill -9s it that long after its API is up. */
function runApp(dataDir: string, killAfterMs?: number): Promise<RunOutcome> {
  const child = spawn(
    process.execPath,
    [
      MAIN,
      '--data',
      dataDir,
      '--orders',
      String(ORDERS),
      '--rate',
      '100',
      '--customers',
      '20',
      '--seed',
      String(SEED),
      '--port',
      '0',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NO_COLOR: '1', HERALD_LOG_LEVEL: 'error' } },
  );
  let stdout = '';
  let killTimer: NodeJS.Timeout | undefined;
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    stdout += chunk;
    if (killAfterMs !== undefined && killTimer === undefined && stdout.includes('API listening')) {
      killTimer = setTimeout(() => child.kill('SIGKILL'), killAfterMs);
    }
  });
  child.stderr.resume();
  const deadline = setTimeout(() => child.kill('SIGKILL'), RUN_TIMEOUT_MS);
  return new Promise((resolve) => {
    child.on('exit', (code, signal) => {
      clearTimeout(deadline);
      clearTimeout(killTimer);
      resolve({ code, signal, stdout });
    });
  });
}

describe('checkout - kill -9 restart', { timeout: 600_000 }, () => {
  it('completes every accepted order exactly once after two kill -9s mid-run', {
    timeout: 120_000,
  }, async (t) => {
    const dataDir = temporaryDirectory('restart');
    const next = random(SEED);
    const killDelaysMs = [300 + Math.floor(next() * 1500), 300 + Math.floor(next() * 1500)];
    for (const killAfterMs of killDelaysMs) {
      const killed = await runApp(dataDir, killAfterMs);
      assert.equal(
        killed.signal,
        'SIGKILL',
        `the run should be killed mid-run, it ended with ${killed.code}`,
      );
      assert.ok(!killed.stdout.includes('Invariants'), 'killed before its report');
    }
    const final = await runApp(dataDir);
    const report = JSON.parse(readFileSync(join(dataDir, 'report.json'), 'utf8')) as {
      allHold: boolean;
      invariants: { name: string; holds: boolean; detail: string }[];
      orders: { total: number; open: number };
      emails: { confirmations: number; cancellations: number; files: number };
      audit: { duplicateIds: string[]; missingIds: string[]; orderViolations: unknown[] };
      load: { replayed: number; accepted: number };
    };
    const failing = report.invariants.filter((invariant) => !invariant.holds);
    assert.deepEqual(failing, [], 'every invariant holds after the restarts');
    assert.equal(final.code, 0);
    assert.equal(report.orders.total, ORDERS, 'one order per Idempotency-Key: no duplicates');
    assert.equal(report.orders.open, 0);
    assert.equal(report.emails.confirmations + report.emails.cancellations, ORDERS);
    assert.equal(report.emails.files, ORDERS);
    assert.deepEqual(report.audit.duplicateIds, []);
    assert.deepEqual(report.audit.missingIds, []);
    t.diagnostic(
      `kill -9 after ${killDelaysMs.join(' and ')} ms; last run: ${report.load.replayed} replayed, ${report.load.accepted} new; ${report.orders.total} orders, 0 duplicates`,
    );
    assert.ok(report.load.replayed > 0, 'orders accepted before the kills were replayed, not taken again');
  });
});
