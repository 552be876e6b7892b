/**
 * The README's "Errors" for servers set up otherwise than the transport needs, each on a
 * nats-server of the test's own: one without JetStream, and one that requires a user and password.
 * Both are ConfigurationErrors saying what to change (retrying cannot help), and the password is
 * never printed.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { ConfigurationError } from '@herald/bus';
import { PrivateServer } from '@herald/test-support';
import { natsTransport } from '@herald/transport-nats';
import { NATS_SERVER_SPEC } from './private-server.ts';

const servers: PrivateServer[] = [];
after(async () => {
  for (const server of servers.splice(0)) await server.stop();
});

async function start(args: (directory: string) => string[]): Promise<PrivateServer> {
  const server = await PrivateServer.start({
    ...NATS_SERVER_SPEC,
    args: ({ port, directory }) => [
      '-a',
      '127.0.0.1',
      '-p',
      String(port),
      '-l',
      path.join(directory, 'server.log'),
      ...args(directory),
    ],
  });
  servers.push(server);
  return server;
}

describe('nats transport - server set-up errors', { timeout: 60_000 }, () => {
  it('a server without JetStream is a ConfigurationError saying to start it with -js', async () => {
    const server = await start(() => []);
    await assert.rejects(
      natsTransport({ servers: server.url, requestTimeoutMs: 2_000 }),
      (error: unknown) => {
        assert.ok(error instanceof ConfigurationError, String(error));
        assert.match(error.message, /has no JetStream: start nats-server with -js/);
        return true;
      },
    );
  });

  it('wrong credentials are a ConfigurationError at once that never prints the password', async () => {
    const server = await start((directory) => [
      '-js',
      '-sd',
      path.join(directory, 'jetstream'),
      '--user',
      'herald',
      '--pass',
      'right-one',
    ]);
    const startedMs = performance.now();
    await assert.rejects(
      natsTransport({ servers: server.url, user: 'herald', pass: 'wrong-secret', connectTimeoutMs: 20_000 }),
      (error: unknown) => {
        assert.ok(error instanceof ConfigurationError, String(error));
        assert.match(error.message, /refused the credentials.*check user\/pass or token/);
        assert.doesNotMatch(error.message, /wrong-secret/);
        return true;
      },
    );
    // A ConfigurationError ends the connect loop: no waiting out connectTimeoutMs.
    assert.ok(performance.now() - startedMs < 10_000, 'gave up at once, not after connectTimeoutMs');
    const transport = await natsTransport({ servers: server.url, user: 'herald', pass: 'right-one' });
    await transport.close();
  });
});
