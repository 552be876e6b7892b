/**
 * `herald console` through the real binary: the CLI finds the command in this package, serves the
 * page and the API on a data directory, prints its URL and stops on SIGTERM with exit 0;
 * `--read-only` refuses a produce; a non-loopback bind without --token is a usage error.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { HERALD_BIN, runTool, spawnChild, temporaryDirectory } from '@herald/test-support';

const URL_LINE = /Herald console on data directory .*: (http:\/\/127\.0\.0\.1:\d+\/)/;
/** From sources the page is bundled on start: allow for a loaded machine. */
const STARTUP_TIMEOUT_MS = 30_000;
const REQUEST_TIMEOUT_MS = 10_000;
/** No HERALD_BROKER or HERALD_DATA_DIR from the caller's shell. */
const ENV = { ...process.env, NO_COLOR: '', HERALD_BROKER: '', HERALD_DATA_DIR: '' };

function herald(args: readonly string[]) {
  return runTool(process.execPath, [HERALD_BIN, ...args], { input: '', timeoutMs: 30_000, env: ENV });
}

test('console command - serves the page and the API on --data until SIGTERM; --read-only refuses writes', {
  timeout: 90_000,
}, async () => {
  const dir = temporaryDirectory('herald-console-command-');
  assert.equal((await herald(['topics', 'create', 'orders', '-p', '1', '--data', dir])).code, 0);
  const child = spawnChild(
    process.execPath,
    [HERALD_BIN, 'console', '--data', dir, '--port', '0', '--read-only'],
    {
      env: ENV,
    },
  );
  try {
    const [, url] = await child.waitForLine(URL_LINE, STARTUP_TIMEOUT_MS, 'the console URL');
    const page = await fetch(url!, { signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
    assert.match(await page.text(), /<title>Herald console<\/title>/);
    const script = await fetch(`${url}app.js`, { signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
    assert.ok((await script.text()).length > 1000, 'the page script is served');
    const topics = await fetch(`${url}api/topics`, { signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
    assert.deepEqual(
      ((await topics.json()) as { name: string }[]).map((topic) => topic.name),
      ['orders'],
    );
    const produce = await fetch(`${url}api/produce`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ topic: 'orders', key: null, headers: {}, value: 'x', valueKind: 'text' }),
      signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
    });
    assert.equal(produce.status, 403);
    assert.equal(((await produce.json()) as { code: string }).code, 'CONSOLE_READ_ONLY');
  } finally {
    assert.equal(await child.stop(), 0, child.stderr());
  }
});

test('console command - binding beyond loopback needs --token', { timeout: 60_000 }, async () => {
  const dir = temporaryDirectory('herald-console-command-');
  assert.equal((await herald(['topics', 'create', 'orders', '--data', dir])).code, 0);
  const result = await herald(['console', '--data', dir, '--host', '0.0.0.0', '--port', '0']);
  assert.equal(result.code, 2, result.stderr);
  assert.match(result.stderr, /--token/);
});
