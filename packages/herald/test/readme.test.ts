/**
 * The README's first example runs exactly as written, so it cannot rot: the first ```ts block is
 * extracted and executed by Node in a child process, against a fresh data directory.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { it } from 'node:test';

const root = join(import.meta.dirname, '..', '..', '..');

function firstTypeScriptBlock(markdown: string): string {
  const match = /```ts\n([\s\S]*?)```/.exec(markdown);
  assert.ok(match !== null, 'README.md has no ```ts block');
  return match[1]!;
}

it('readme - the first example publishes OrderCreated and both groups consume it', {
  timeout: 180_000,
}, () => {
  const code = firstTypeScriptBlock(readFileSync(join(root, 'README.md'), 'utf8'));
  assert.ok(code.split('\n').length <= 31, 'the first example must stay within 30 lines');
  const dataDirectory = mkdtempSync(join(tmpdir(), 'herald-readme-'));
  try {
    const run = spawnSync(process.execPath, ['--input-type=module-typescript', '-e', code], {
      cwd: root,
      env: { ...process.env, HERALD_DATA_DIR: dataDirectory },
      encoding: 'utf8',
      timeout: 30_000,
    });
    assert.equal(
      run.status,
      0,
      `example exited with ${run.status}\nstdout:\n${run.stdout}\nstderr:\n${run.stderr}`,
    );
    const lines = run.stdout.trim().split('\n').sort();
    assert.equal(lines.length, 2, `expected two lines, got:\n${run.stdout}`);
    assert.match(lines[0]!, /^inventory: reserve stock for order-123$/);
    assert.match(lines[1]!, /^notification: confirm order-123 \(event [0-9a-f-]{36}\)$/);
  } finally {
    rmSync(dataDirectory, { recursive: true, force: true });
  }
});
