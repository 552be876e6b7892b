/**
 * A real terminal session (tmux): on a TTY `herald` draws a progress bar on stderr, `tail` and
 * `--pretty` print in colour; with NO_COLOR or --no-color they do not; `consume` prints raw values
 * on a terminal and on a pipe alike, as kcat does. The pane is captured with `capture-pane -e`,
 * which keeps the escape sequences. Needs Debian's tmux.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { eventually, HERALD_BIN, requireTool, temporaryDirectory } from '@herald/test-support';
import { heraldOk } from './support.ts';

const SOCKET = `herald-cli-test-${process.pid}`;
const tmuxAvailable = spawnSync('tmux', ['-V']).status === 0;
let sessions = 0;

function tmux(...args: string[]): string {
  return execFileSync('tmux', ['-L', SOCKET, '-f', '/dev/null', ...args], { encoding: 'utf8' });
}

// Without tmux the test fails at once saying `run npm run setup`: never a silent skip.
before(() => requireTool('tmux', ['-V'], "tmux (Debian's tmux)"));
after(() => {
  if (tmuxAvailable) spawnSync('tmux', ['-L', SOCKET, 'kill-server']);
});

const quote = (text: string) => `'${text.replaceAll("'", "'\\''")}'`;

/** Runs `command` in a fresh 160x50 tmux pane and resolves the pane's text with escape sequences. */
async function inTerminal(command: string): Promise<string> {
  // A session that lives for the whole test keeps the tmux server up: otherwise killing the last
  // session stops the server, and the next new-session can race its exit ("server exited unexpectedly").
  if (sessions === 0) tmux('new-session', '-d', '-s', 'keep', 'cat');
  const session = `s${sessions++}`;
  const herald = `${quote(process.execPath)} ${quote(HERALD_BIN)}`;
  // `read` keeps the pane open for the capture once the command is done (no fixed sleep).
  const script = `herald() { ${herald} "$@"; }; ${command}; echo "__DONE__$?"; read`;
  tmux(
    'new-session',
    '-d',
    '-s',
    session,
    '-x',
    '160',
    '-y',
    '50',
    `env -u NO_COLOR TERM=xterm-256color bash --noprofile --norc -c ${quote(script)}`,
  );
  let screen = '';
  await eventually(
    () => {
      screen = tmux('capture-pane', '-p', '-e', '-J', '-t', session);
      return /__DONE__\d+/.test(screen);
    },
    () => `"${command}" to finish in tmux; screen:\n${screen}`,
    30_000,
  );
  tmux('kill-session', '-t', session);
  return screen;
}

// An ANSI SGR sequence (ESC [ … m): the escape character is the point of the match.
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching terminal escapes on purpose.
const ESCAPE = /\u001b\[[0-9;]*m/;

test('cli terminal - progress bar and colours on a TTY, none with NO_COLOR, consume prints raw values on a TTY and a pipe', {
  timeout: 120_000,
}, async () => {
  const dir = temporaryDirectory();
  const file = path.join(dir, 'events.jsonl');
  writeFileSync(
    file,
    `${Array.from({ length: 2000 }, (_, index) => JSON.stringify({ n: index })).join('\n')}\n`,
  );
  const data = `--data ${quote(path.join(dir, 'data'))}`;

  const produced = await inTerminal(
    `herald produce -t events --cloudevent Counted -l ${quote(file)} ${data}`,
  );
  assert.match(produced, /__DONE__0/);
  assert.match(
    produced,
    /produce events [█░]+ 100% \d+\/\d+ bytes/,
    `a progress bar on stderr:\n${produced}`,
  );
  assert.match(produced, /produced 2000 messages to events/);

  for (const command of [
    `herald tail -t events -n 1 -e ${data}`,
    `herald consume -t events -c 2 --pretty ${data}`,
  ]) {
    const coloured = await inTerminal(command);
    assert.match(coloured, /__DONE__0/);
    assert.match(coloured, ESCAPE, `colours on a TTY: ${command}\n${coloured}`);
    assert.match(coloured, /Counted/, 'CloudEvents pretty-printed with their type');
    assert.match(coloured, /"n": \d+/, 'the data indented');
  }

  for (const plain of [
    `NO_COLOR=1 herald tail -t events -n 1 -e ${data}`,
    `herald tail -t events -n 1 -e --no-color ${data}`,
  ]) {
    const screen = await inTerminal(plain);
    assert.match(screen, /Counted/);
    assert.doesNotMatch(screen.split('__DONE__')[0]!, ESCAPE, `no colours: ${plain}\n${screen}`);
  }

  // consume is kcat -C: the value and a newline, on a terminal and on a pipe alike.
  for (const command of [
    `herald consume -t events -c 2 -q ${data}`,
    `herald consume -t events -c 2 -q ${data} | cat`,
    `herald tail -t events -n 1 -e -q ${data} | cat`,
  ]) {
    const screen = await inTerminal(command);
    const values = screen.split('\n').filter((line) => /^\{"n":\d+\}$/.test(line));
    assert.ok(values.length >= 2, `raw values: ${command}\n${screen}`);
    assert.doesNotMatch(screen.split('__DONE__')[0]!, ESCAPE, `no colours: ${command}\n${screen}`);
    assert.doesNotMatch(screen, /Counted|specversion|"topic"/, `no envelope: ${command}\n${screen}`);
  }

  // Without a terminal at all, stderr has no bar either.
  const noTty = await heraldOk(['produce', '-t', 'events', '-l', file, '--data', path.join(dir, 'data')]);
  assert.doesNotMatch(noTty.stderr, /█/);
});
