/**
 * `herald serve --health-port`, through the real binary: /live, /ready and /health over HTTP
 * while it serves, a taken health port refused with a usage error (and the data directory
 * released), nothing listening after SIGTERM.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type ServeProcess, startServe, temporaryDirectory } from '@herald/test-support';

const HEALTH_LINE = /health on (http:\/\/[\d.]+:\d+)/;

async function get(url: string) {
  const response = await fetch(url, { signal: AbortSignal.timeout(10_000) });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

test('serve --health-port - probes over HTTP while serving, gone after SIGTERM', {
  timeout: 120_000,
}, async () => {
  const dir = temporaryDirectory('herald-serve-health-');
  let serve: ServeProcess | undefined;
  let second: ServeProcess | undefined;
  try {
    serve = await startServe({ dir, args: ['--health-port', '0'] });
    const [, base] = await serve.child.waitForLine(HEALTH_LINE, 10_000, 'the health URL');
    assert.deepEqual(await get(`${base}/live`), { status: 200, body: { live: true } });
    assert.deepEqual(await get(`${base}/ready`), { status: 200, body: { ready: true } });
    const health = await get(`${base}/health`);
    assert.equal(health.status, 200);
    assert.equal(health.body.listening, serve.bootstrap);
    assert.equal(health.body.data, dir);
    assert.equal(typeof health.body.connections, 'number');

    // The health port is taken: a conflict, and the second server exits (releasing its directory).
    const port = new URL(base!).port;
    const otherDir = temporaryDirectory('herald-serve-health-');
    await assert.rejects(
      startServe({ dir: otherDir, args: ['--health-port', port] }).then((started) => {
        second = started;
      }),
      /--health-port/,
    );

    assert.equal(await serve.stop(), 0);
    await assert.rejects(fetch(`${base}/live`, { signal: AbortSignal.timeout(10_000) }), 'nothing listens');
  } finally {
    await serve?.kill().catch(() => {});
    await second?.kill().catch(() => {});
  }
});
