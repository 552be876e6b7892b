import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { runTool, spawnChild } from '../src/child.ts';

const node = process.execPath;

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
});
