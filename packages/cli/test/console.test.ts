/**
 * `herald console`: serves the console on a data directory, prints its URL, answers the API and
 * stops on SIGTERM with exit 0; a non-loopback bind without --token is refused.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { temporaryDirectory } from '@herald/test-support';
import { herald, heraldOk, start } from './support.ts';

const URL_LINE = /Herald console on data directory .*: (http:\/\/127\.0\.0\.1:\d+\/)/;
const STARTUP_DEADLINE_MS = 30_000;

test('console - serves the page and the API on --data until SIGTERM', { timeout: 90_000 }, async () => {
  const dir = temporaryDirectory('herald-cli-console-');
  await heraldOk(['topics', 'create', 'orders', '-p', '1', '--data', dir]);
  const running = start(['console', '--data', dir, '--port', '0']);
  try {
    const deadline = Date.now() + STARTUP_DEADLINE_MS;
    let match: RegExpMatchArray | null = null;
    while ((match = URL_LINE.exec(running.stdout())) === null) {
      assert.ok(
        Date.now() < deadline,
        `no console URL within ${STARTUP_DEADLINE_MS} ms: ${running.stderr()}`,
      );
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const url = match[1]!;
    const page = await fetch(url, { signal: AbortSignal.timeout(10_000) });
    assert.match(await page.text(), /<title>Herald console<\/title>/);
    const script = await fetch(`${url}app.js`, { signal: AbortSignal.timeout(10_000) });
    assert.ok((await script.text()).length > 1000, 'the page script is served');
    const topics = await fetch(`${url}api/topics`, { signal: AbortSignal.timeout(10_000) });
    assert.deepEqual(
      ((await topics.json()) as { name: string }[]).map((topic) => topic.name),
      ['orders'],
    );
  } finally {
    running.child.kill('SIGTERM');
    assert.equal(await running.exited(), 0, running.stderr());
  }
});

test('console - binding beyond loopback needs --token', { timeout: 60_000 }, async () => {
  const dir = temporaryDirectory('herald-cli-console-');
  await heraldOk(['topics', 'create', 'orders', '--data', dir]);
  const result = await herald(['console', '--data', dir, '--host', '0.0.0.0', '--port', '0']);
  assert.equal(result.code, 2, result.stderr);
  assert.match(result.stderr, /--token/);
});
