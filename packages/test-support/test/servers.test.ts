import assert from 'node:assert/strict';
import net from 'node:net';
import { describe, it } from 'node:test';
import { accepts, ephemeralPortRange, freePort, requireReachable, serverPort } from '../src/servers.ts';

describe('servers', { timeout: 30_000 }, () => {
  it('servers - requireReachable resolves on a listening port and names npm run setup when refused', async () => {
    const server = net.createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as net.AddressInfo;
    try {
      await requireReachable('Example', '127.0.0.1', port);
      assert.equal(await accepts(port), true);
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
    const closed = await freePort();
    assert.equal(await accepts(closed), false);
    await assert.rejects(
      requireReachable('Example', '127.0.0.1', closed),
      new RegExp(
        `^Error: Example is not reachable at 127\\.0\\.0\\.1:${closed} \\(.*\\): run npm run setup$`,
      ),
    );
  });

  it('servers - ports come from HERALD_*_PORT, and a bad value says what to do', () => {
    const saved = process.env.HERALD_REDIS_PORT;
    try {
      delete process.env.HERALD_REDIS_PORT;
      assert.equal(serverPort('redis'), 6379);
      process.env.HERALD_REDIS_PORT = '16379';
      assert.equal(serverPort('redis'), 16379);
      process.env.HERALD_REDIS_PORT = 'x';
      assert.throws(() => serverPort('redis'), /HERALD_REDIS_PORT=x is not a port: unset it or give 1-65535/);
    } finally {
      if (saved === undefined) delete process.env.HERALD_REDIS_PORT;
      else process.env.HERALD_REDIS_PORT = saved;
    }
  });

  it('servers - freePort hands out distinct bindable ports below the ephemeral range', async () => {
    const [ephemeralLow, ephemeralHigh] = ephemeralPortRange();
    assert.ok(
      ephemeralLow > 20_000 && ephemeralHigh >= ephemeralLow,
      `range ${ephemeralLow}-${ephemeralHigh}`,
    );
    const ports: number[] = [];
    for (let index = 0; index < 50; index++) ports.push(await freePort());
    assert.equal(new Set(ports).size, ports.length, `no port twice: ${ports.join(',')}`);
    for (const port of ports) {
      assert.ok(port >= 20_000 && port < ephemeralLow, `${port} is below the ephemeral range`);
      assert.notEqual(port, 25_672, "RabbitMQ's distribution port is never handed out");
    }
    // Each one can be bound now, which is what a caller does next.
    for (const port of ports) {
      const server = net.createServer();
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, '127.0.0.1', resolve);
      });
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
});
