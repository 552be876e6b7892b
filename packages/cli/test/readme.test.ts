/**
 * The README's "CLI in five minutes" block, line by line, in an empty directory with `herald` on
 * PATH resolving to this repository's bin: every line must exit 0.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { HERALD_BIN, temporaryDirectory, withDeadline } from '@herald/test-support';

/** The lines of the first ```sh block after the "CLI in five minutes" heading. */
function fiveMinuteLines(): string[] {
  const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
  const section = readme.slice(readme.indexOf('## CLI in five minutes'));
  const block = /```sh\n([\s\S]*?)```/.exec(section)?.[1];
  assert.ok(block !== undefined, 'the README has a "CLI in five minutes" sh block');
  return block.split('\n').filter((line) => line.trim() !== '' && !line.trim().startsWith('#'));
}

/** Longest one README line may run; then its process group is killed and the test fails. */
const LINE_TIMEOUT_MS = 30_000;

function bash(
  line: string,
  cwd: string,
  env: NodeJS.ProcessEnv,
): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    // Its own process group, so a line that hangs is killed with every process of its pipeline.
    const child = spawn('bash', ['-c', line], {
      cwd,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    const timer = setTimeout(() => {
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {}
    }, LINE_TIMEOUT_MS);
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    child.stderr.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    child.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}

test('cli readme - every command of "CLI in five minutes" runs and exits 0', {
  timeout: 180_000,
}, async () => {
  const lines = fiveMinuteLines();
  assert.ok(lines.length >= 10);
  const home = temporaryDirectory('herald-cli-readme-');
  const bin = path.join(home, 'bin');
  mkdirSync(bin);
  const wrapper = path.join(bin, 'herald');
  writeFileSync(wrapper, `#!/bin/sh\nexec '${process.execPath}' '${HERALD_BIN}' "$@"\n`);
  chmodSync(wrapper, 0o755);
  const work = path.join(home, 'work');
  mkdirSync(work);
  const env = {
    ...process.env,
    PATH: `${bin}:${process.env.PATH}`,
    HERALD_BROKER: '',
    HERALD_DATA_DIR: '',
    NO_COLOR: '',
  };
  const outputs: string[] = [];
  for (const line of lines) {
    const result = await withDeadline(bash(line, work, env), LINE_TIMEOUT_MS + 5_000, line);
    assert.equal(result.code, 0, `README line failed: ${line}\n${result.output}`);
    outputs.push(result.output);
  }
  const outputOf = (start: string) => {
    const index = lines.findIndex((line) => line.startsWith(start));
    assert.ok(index >= 0, `the tour has a line starting "${start}"`);
    return outputs[index]!;
  };
  const rows = (text: string, pattern: RegExp) => text.split('\n').filter((line) => pattern.test(line));
  // kcat's default: the value and a newline (stderr's summary is the only other line).
  assert.equal(rows(outputOf('herald consume -t numbers -e -c 3'), /^\d+$/).length, 3);
  assert.equal(rows(outputOf('herald consume -t numbers -e -c 5 -f'), /^\d+:\d+ \d+$/).length, 5);
  const envelopes = rows(outputOf('herald consume -t orders -e -J'), /^\{/).map((line) => JSON.parse(line));
  assert.equal(envelopes.length, 2);
  assert.equal(typeof envelopes[0].offset, 'number');
  assert.ok(envelopes[0].headers.includes('OrderCreated'), 'ce_type among the headers');
  const events = rows(outputOf('herald consume -t orders -e --json'), /^\{/).map((line) => JSON.parse(line));
  assert.deepEqual(
    events.map((event) => event.type),
    ['OrderCreated', 'OrderCreated'],
  );
  assert.deepEqual(events.map((event) => event.partitionkey).sort(), ['o-1', 'o-2']);
  assert.match(outputOf('herald consume -t orders -e --pretty'), /OrderCreated/);
  assert.equal(rows(outputOf('herald consume -t numbers -o s@0 -o e@'), /^\d+$/).length, 100);
  assert.match(outputOf('herald --version'), /^herald \d+\.\d+\.\d+\n$/);
});
