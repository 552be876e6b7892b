/**
 * A nats-server of a test's own, with JetStream in its directory: `PrivateServer` of
 * `@herald/test-support` (a free loopback port, kill -9 and restart on the same data and port,
 * gone with the test process). It starts in well under a second.
 */
import path from 'node:path';
import { PrivateServer, type PrivateServerSpec } from '@herald/test-support';

/** The Debian package's server binary (installed by npm run setup). */
export const NATS_SERVER = '/usr/sbin/nats-server';

/** nats-server with JetStream storing under `<directory>/jetstream`, logging to `<directory>/server.log`. */
export const NATS_SERVER_SPEC: PrivateServerSpec = {
  name: 'nats-server',
  command: NATS_SERVER,
  args: ({ port, directory }) => [
    '-a',
    '127.0.0.1',
    '-p',
    String(port),
    '-js',
    '-sd',
    path.join(directory, 'jetstream'),
    '-l',
    path.join(directory, 'server.log'),
  ],
  url: ({ port }) => `nats://127.0.0.1:${port}`,
  install: 'run npm run setup (installs nats-server)',
};

/** Starts a private nats-server; resolves once it accepts connections. */
export function startNatsServer(): Promise<PrivateServer> {
  return PrivateServer.start(NATS_SERVER_SPEC);
}
