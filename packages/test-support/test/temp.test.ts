import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { runTool } from '../src/child.ts';
import { eventually } from '../src/poll.ts';
import { ownedTemporaryDirectory } from '../src/temp.ts';

/** Whether `pid` is a live process (not gone, not a zombie), from /proc (Linux). */
function isRunning(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]![0] !== 'Z';
  } catch {
    return false;
  }
}

describe('temp', { timeout: 60_000 }, () => {
  it('temp - temporaryDirectory lives until the process exits, after its children are killed', async () => {
    // A child process makes a directory and a sleeping grandchild, then exits: both must be gone.
    const script = `
      import { temporaryDirectory, spawnChild } from '@herald/test-support';
      const directory = temporaryDirectory('herald-temp-test-');
      const sleeper = spawnChild(process.execPath, ['-e', 'setInterval(() => {}, 1000)']);
      console.log(JSON.stringify({ directory, pid: sleeper.pid }));
      process.exit(0);
    `;
    const result = await runTool(process.execPath, ['--input-type=module', '-e', script], {
      timeoutMs: 30_000,
    });
    assert.equal(result.code, 0, result.stderr);
    const { directory, pid } = JSON.parse(result.stdout) as { directory: string; pid: number };
    assert.equal(existsSync(directory), false, `${directory} outlived the process`);
    // SIGKILL is sent at exit; the orphan is gone (or a zombie nobody reaps) shortly after.
    await eventually(() => !isRunning(pid), `the child ${pid} to die with its parent`, 10_000);
  });

  it('temp - ownedTemporaryDirectory is removed when disposed', async () => {
    let directory: string;
    {
      await using owned = await ownedTemporaryDirectory('herald-owned-test-');
      directory = owned.directory;
      writeFileSync(path.join(directory, 'file'), 'x');
      assert.ok(existsSync(directory));
    }
    assert.equal(existsSync(directory), false);
  });
});
