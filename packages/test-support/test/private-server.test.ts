/**
 * The private-server helper on a real redis-server (it starts in milliseconds): a kill -9 and a
 * restart on the same port and data, an orderly SIGTERM, freeze and thaw, the failures of a start
 * (a missing command, a server that exits, one never ready), and a test process killed without its
 * hooks taking its server with it.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { connect } from 'node:net';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { requireTool, spawnChild } from '../src/child.ts';
import { eventually } from '../src/poll.ts';
import { PrivateServer, type PrivateServerSpec } from '../src/private-server.ts';
import { accepts } from '../src/servers.ts';

/** A redis-server persisting every write before answering (AOF, fsync always), logging to server.log. */
const REDIS: PrivateServerSpec = {
  name: 'redis-server',
  command: 'redis-server',
  args: ({ port, directory }) => [
    '--bind',
    '127.0.0.1',
    '--port',
    String(port),
    '--dir',
    directory,
    '--save',
    '',
    '--appendonly',
    'yes',
    '--appendfsync',
    'always',
    '--logfile',
    path.join(directory, 'server.log'),
  ],
  url: ({ port }) => `redis://127.0.0.1:${port}`,
  install: 'run npm run setup (installs redis-server)',
  // Answering PING, not just accepting: Redis accepts while it still replays its AOF.
  ready: async ({ port }) => (await command(port, 'PING').catch(() => '')) === '+PONG',
};

/** Sends one inline Redis command; resolves its reply without the final CRLF, rejects after `timeoutMs`. */
function command(port: number, line: string, timeoutMs = 2_000): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port });
    let reply = '';
    const done = (error?: Error) => {
      socket.destroy();
      if (error === undefined) resolve(reply.replace(/\r\n$/, '').replace(/^\$\d+\r\n/, ''));
      else reject(error);
    };
    socket.setTimeout(timeoutMs, () => done(new Error(`no reply to ${line} within ${timeoutMs} ms`)));
    socket.once('error', done);
    socket.once('connect', () => socket.write(`${line}\r\n`));
    socket.setEncoding('utf8').on('data', (chunk: string) => {
      reply += chunk;
      // A whole reply: a simple one (+OK, -ERR, :1, $-1) or a bulk string ($<length>, then the text).
      if (/^([+\-:].*|\$-1|\$\d+\r\n[\s\S]*)\r\n$/.test(reply)) done();
    });
  });
}

describe('private server', { timeout: 120_000 }, () => {
  const started: PrivateServer[] = [];
  before(() => requireTool('redis-server', ['--version'], 'redis-server'));
  after(async () => {
    for (const server of started.splice(0)) await server.stop();
  });

  it('private server - kill -9 and restart keep the port and the data; stop removes the directory', async () => {
    const server = await PrivateServer.start(REDIS);
    started.push(server);
    assert.equal(server.url, `redis://127.0.0.1:${server.port}`);
    assert.ok(server.running);
    assert.equal(await command(server.port, 'SET survivor yes'), '+OK');
    await server.kill();
    assert.equal(server.running, false);
    assert.equal(await accepts(server.port), false, 'the port is closed once kill resolves');
    await server.kill(); // Killing a stopped server does nothing.
    await server.restart();
    assert.equal(await command(server.port, 'GET survivor'), 'yes', 'the write survived the kill -9');
    await assert.rejects(server.restart(), /running already/);
    assert.ok(existsSync(path.join(server.directory, 'server.log')));
    await server.stop();
    assert.equal(existsSync(server.directory), false);
    assert.equal(await accepts(server.port), false);
  });

  it('private server - SIGTERM is an orderly stop; freeze stops answers until thaw', async () => {
    const server = await PrivateServer.start(REDIS);
    started.push(server);
    await server.freeze();
    await assert.rejects(command(server.port, 'PING', 300), /no reply to PING within 300 ms/);
    server.thaw();
    assert.equal(await command(server.port, 'PING'), '+PONG');
    await server.freeze();
    // A frozen server is continued first, or it could not act on the SIGTERM.
    await server.kill('SIGTERM');
    assert.equal(server.running, false);
    assert.match(readFileSync(path.join(server.directory, 'server.log'), 'utf8'), /ready to exit, bye bye/i);
  });

  it('private server - a start fails at once, leaving nothing running, for a missing command or a server that exits', async () => {
    await assert.rejects(
      PrivateServer.start({ ...REDIS, name: 'no-such-server', command: 'herald-no-such-server' }),
      /no-such-server: herald-no-such-server is not installed here: run npm run setup \(installs redis-server\)/,
    );
    await assert.rejects(
      PrivateServer.start({ ...REDIS, args: (place) => [...REDIS.args(place), '--no-such-option', 'x'] }),
      (error: Error) => {
        assert.match(
          error.message,
          /the private redis-server exited during its start \(1\); see .*server\.log/,
        );
        return true;
      },
    );
  });

  it('private server - one never ready is killed after startTimeoutMs, naming its port', async () => {
    const error = await PrivateServer.start({
      ...REDIS,
      ready: async () => false,
      startTimeoutMs: 1_000,
    }).then(
      () => assert.fail('a server never ready started'),
      (error: Error) => error,
    );
    const port = /on port (\d+)/.exec(error.message)?.[1];
    assert.match(
      error.message,
      /timed out after 1000 ms waiting for the private redis-server on port \d+ to be ready/,
    );
    assert.equal(await accepts(Number(port)), false, 'the server was killed');
  });

  it('private server - a test process killed with SIGKILL (no hook runs) takes its server and directory with it', async () => {
    const child = spawnChild(process.execPath, [
      path.join(import.meta.dirname, 'fixtures', 'private-server-child.ts'),
    ]);
    try {
      const [, portText, directory] = await child.waitForLine(
        /^port (\d+) directory (.+)$/,
        30_000,
        'the child to start its server',
      );
      const port = Number(portText);
      assert.ok(await accepts(port));
      assert.ok(existsSync(directory!));
      await child.kill();
      // The supervisor looks for the test process once a second, and removes the directory 2 s later.
      await eventually(
        async () => !(await accepts(port)),
        () => `the server on port ${port} to go`,
        10_000,
      );
      await eventually(
        () => !existsSync(directory!),
        () => `${directory} to be removed`,
        10_000,
      );
    } finally {
      await child.kill();
    }
  });
});
