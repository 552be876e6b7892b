import assert from 'node:assert/strict';
import net from 'node:net';
import { describe, it } from 'node:test';
import { freePort } from '../src/servers.ts';
import { startProxy } from '../src/tcp-proxy.ts';

/** Sends `text` to `port` and resolves the first answer, or rejects when the connection closes first. */
function roundTrip(port: number, text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1', () => socket.write(text));
    socket.setEncoding('utf8');
    socket.once('data', (data: string) => {
      socket.destroy();
      resolve(data);
    });
    socket.once('error', reject);
    socket.once('close', () => reject(new Error('closed before an answer')));
  });
}

describe('tcp proxy', { timeout: 30_000 }, () => {
  it('tcp proxy - on the server port of another loopback address, it relays and cuts connections', async () => {
    // An echo server on 127.0.0.2:<port>, the proxy on 127.0.0.1:<the same port>: what a server
    // that advertises its own port needs (scripts/jepsen puts herald serve behind it so).
    const port = await freePort();
    const sockets = new Set<net.Socket>();
    const server = net.createServer((socket) => {
      sockets.add(socket);
      socket.once('close', () => sockets.delete(socket));
      socket.on('data', (data) => socket.write(data));
    });
    await new Promise<void>((resolve) => server.listen(port, '127.0.0.2', resolve));
    const proxy = await startProxy(port, { targetHost: '127.0.0.2', port });
    try {
      assert.equal(proxy.port, port);
      assert.equal(await roundTrip(port, 'hello'), 'hello');
      const held = net.connect(port, '127.0.0.1');
      const closed = new Promise<void>((resolve) => held.once('close', () => resolve()));
      held.on('error', () => {});
      await new Promise<void>((resolve) => held.once('connect', () => resolve()));
      proxy.dropConnections();
      await closed;
      assert.equal(await roundTrip(port, 'again'), 'again', 'new connections are accepted after a cut');
      await assert.rejects(startProxy(port, { targetHost: '127.0.0.2', port }), /EADDRINUSE/);
    } finally {
      await proxy.close();
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
});
