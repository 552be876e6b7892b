/**
 * `startHealthServer` over a bus on the embedded broker, with real HTTP requests: not ready
 * before `start()`, ready after, an extra route on the same port (where `/metrics` goes), 404 and
 * 405, and not live once the bus stopped.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { temporaryDirectory } from '@herald/test-support';
import {
  type BusHealth,
  createBus,
  defineEvent,
  type HealthServer,
  silentLogger,
  startHealthServer,
} from 'herald';
import { z } from 'zod';

const Noted = defineEvent('HealthNoted', {
  topic: 'health-notes',
  schema: z.object({ text: z.string() }),
});

async function get(server: HealthServer, path: string, method = 'GET') {
  const response = await fetch(`${server.url}${path}`, { method, signal: AbortSignal.timeout(10_000) });
  const text = await response.text();
  return { status: response.status, type: response.headers.get('content-type'), text };
}

describe('herald - startHealthServer', { timeout: 120_000 }, () => {
  it('serves /live, /ready and /health from bus.health() through the bus lifecycle', async () => {
    const bus = createBus({ embedded: { dir: temporaryDirectory('herald-health-') }, logger: silentLogger });
    bus.on(Noted, { group: 'reader' }, () => {});
    const server = await startHealthServer({
      port: 0,
      report: () => bus.health(),
      routes: { '/metrics': () => ({ status: 200, contentType: 'text/plain', body: '# metrics go here\n' }) },
    });
    try {
      assert.deepEqual(await get(server, '/live'), {
        status: 200,
        type: 'application/json; charset=utf-8',
        text: '{"live":true}',
      });
      assert.equal((await get(server, '/ready')).status, 503, 'not ready before start()');

      await bus.start();
      assert.deepEqual(await get(server, '/ready'), {
        status: 200,
        type: 'application/json; charset=utf-8',
        text: '{"ready":true}',
      });
      const health = await get(server, '/health');
      assert.equal(health.status, 200);
      const report = JSON.parse(health.text) as BusHealth;
      assert.deepEqual(report.transport, { name: 'embedded', reported: true, connected: true });
      assert.deepEqual(report.subscriptions, [
        { topic: 'health-notes', group: 'reader', state: 'active', inFlight: 0 },
      ]);

      assert.deepEqual(await get(server, '/metrics'), {
        status: 200,
        type: 'text/plain',
        text: '# metrics go here\n',
      });
      assert.equal((await get(server, '/ready', 'HEAD')).status, 200);
      assert.equal((await get(server, '/nope')).status, 404);
      assert.equal((await get(server, '/ready', 'POST')).status, 405);

      await bus.stop();
      assert.equal((await get(server, '/live')).status, 503, 'a stopped bus is not live');
      const stopped = JSON.parse((await get(server, '/health')).text) as BusHealth;
      assert.deepEqual([stopped.state, stopped.transport.connected], ['stopped', false]);
    } finally {
      await server.close();
      await bus.stop();
    }
  });

  it('refuses an extra route that would replace a probe, and answers 503 when a route throws or hangs', async () => {
    await assert.rejects(
      startHealthServer({
        port: 0,
        report: () => ({ live: true, ready: true }),
        routes: { '/ready': () => ({ status: 200, contentType: 'text/plain', body: '' }) },
      }),
      /must start with "\/" and not be/,
    );
    const server = await startHealthServer({
      port: 0,
      report: () => {
        throw new Error('report failed');
      },
      routeTimeoutMs: 200,
      routes: { '/slow': () => new Promise(() => {}) },
    });
    try {
      const failed = await get(server, '/ready');
      assert.equal(failed.status, 503);
      assert.match(failed.text, /report failed/);
      const slow = await get(server, '/slow');
      assert.equal(slow.status, 503);
      assert.match(slow.text, /took longer than 200 ms/);
    } finally {
      await server.close();
    }
  });
});
