import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { runTool, spawnChild } from '../src/child.ts';
import { eventually } from '../src/poll.ts';

const node = process.execPath;
const CHILD_MODULE = new URL('../src/child.ts', import.meta.url).href;

/**
 * Whether a process with this pid runs: it exists (signal 0 probes without sending) and is not a
 * zombie waiting for a parent that may never reap it (an orphan's new parent, PID 1 in a container).
 */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    return !/^\d+ \(.*\) Z /.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false; // gone between the probe and the read
  }
}

/** SIGKILLs `pid` if it still runs: the clean-up of a test that failed. */
function killIfAlive(pid: number): void {
  if (pid > 0 && alive(pid)) process.kill(pid, 'SIGKILL');
}

describe('child', { timeout: 60_000 }, () => {
  it('child - waitForLine matches a stdout line seen before or after the call; stop waits for the exit', async () => {
    const child = spawnChild(node, [
      '-e',
      "console.log('first'); setTimeout(() => console.log('port 4321'), 50); setInterval(() => {}, 1000);",
    ]);
    try {
      await child.waitForLine(/^first$/, 10_000);
      const match = await child.waitForLine(/^port (\d+)$/, 10_000);
      assert.equal(match[1], '4321');
      assert.equal(await child.stop(), null, 'ended by SIGTERM');
      assert.match(child.output(), /first\nport 4321\n/);
    } finally {
      await child.kill();
    }
  });

  it('child - waitForLine rejects with the output when the child exits first, or after the deadline', async () => {
    const early = spawnChild(node, ['-e', "console.error('cannot start'); process.exit(3)"]);
    await assert.rejects(early.waitForLine(/listening/, 10_000, 'it to listen'), (error: Error) => {
      assert.match(error.message, /exited with 3 before it to listen/);
      assert.match(error.message, /cannot start/);
      return true;
    });
    const silent = spawnChild(node, ['-e', 'setInterval(() => {}, 1000)']);
    try {
      await assert.rejects(
        silent.waitForLine(/never/, 100, 'a line'),
        /timed out after 100 ms waiting for a line/,
      );
    } finally {
      await silent.kill();
    }
  });

  it('child - onLine sees every complete line; input reaches stdin', async () => {
    const child = spawnChild(
      node,
      ['-e', "process.stdin.on('data', (d) => process.stdout.write(String(d).toUpperCase()))"],
      {
        input: 'a\nb\n',
      },
    );
    const lines: string[] = [];
    const stop = child.onLine((line) => lines.push(line));
    try {
      await child.waitForLine(/^B$/, 10_000);
      assert.deepEqual(lines, ['A', 'B']);
    } finally {
      stop();
      await child.kill();
    }
  });

  it('child - runTool collects output and exit code; a program past its deadline is killed (code null)', async () => {
    const done = await runTool(node, ['-e', "process.stdin.pipe(process.stdout); console.error('e')"], {
      input: 'hi',
    });
    assert.deepEqual(done, { code: 0, stdout: 'hi', stderr: 'e\n' });
    const slow = await runTool(node, ['-e', 'setInterval(() => {}, 1000)'], { timeoutMs: 100 });
    assert.equal(slow.code, null);
    await assert.rejects(runTool('/nonexistent/program', []), /ENOENT/);
  });

  it('child - runTool past its deadline kills what the program started too (its process group)', async () => {
    // The grandchild's output goes elsewhere, so only the kill decides whether it outlives the tool.
    const script = 'sleep 300 </dev/null >/dev/null 2>&1 & echo $!; wait';
    const result = await runTool('sh', ['-c', script], { timeoutMs: 1_000 });
    const grandchild = Number(result.stdout.trim());
    try {
      assert.equal(result.code, null, 'killed at the deadline');
      assert.ok(grandchild > 0, `the grandchild's pid: ${result.stdout}`);
      await eventually(() => !alive(grandchild), 'the grandchild to be killed', 10_000);
    } finally {
      killIfAlive(grandchild);
    }
  });

  it('child - killWithThisProcess kills a child spawned elsewhere when this process ends by an error', async () => {
    const script = [
      "import { spawn } from 'node:child_process';",
      `import { killWithThisProcess } from ${JSON.stringify(CHILD_MODULE)};`,
      "const child = spawn('sleep', ['300'], { stdio: 'ignore' });",
      'killWithThisProcess(child);',
      'console.log(child.pid);',
      "setTimeout(() => { throw new Error('the owner fails'); }, 50);",
    ].join('\n');
    const result = await runTool(node, ['--input-type=module', '-e', script], { timeoutMs: 30_000 });
    const orphan = Number(result.stdout.trim());
    try {
      assert.equal(result.code, 1, `ended by the uncaught error: ${result.stderr}`);
      assert.match(result.stderr, /the owner fails/);
      assert.ok(orphan > 0, `the child's pid: ${result.stdout}`);
      await eventually(() => !alive(orphan), 'the child to be killed', 10_000);
    } finally {
      killIfAlive(orphan);
    }
  });
});
