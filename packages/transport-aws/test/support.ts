/** Test helpers: the emulator's endpoint and dummy credentials, and a port probe. */
import { connect as connectTcp } from 'node:net';
import type { AwsTransportOptions } from '@herald/transport-aws';

/** The moto_server the tests use (`npm run setup` starts it on HERALD_AWS_PORT, default 4566). */
export const AWS_ENDPOINT =
  process.env.HERALD_AWS_ENDPOINT ?? `http://127.0.0.1:${process.env.HERALD_AWS_PORT ?? 4566}`;

/** Options for the emulator: its endpoint, dummy static credentials, short waits for quick tests. */
export function emulatorOptions(namePrefix: string): AwsTransportOptions {
  return {
    endpoint: AWS_ENDPOINT,
    region: 'us-east-1',
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
    namePrefix,
  };
}

/**
 * Throws, naming the address and `npm run setup`, unless the emulator's port accepts a connection
 * within 2 s: tests then fail at once instead of retrying against nothing.
 */
export async function requireEmulator(endpoint: string = AWS_ENDPOINT): Promise<void> {
  const { hostname, port } = new URL(endpoint);
  await new Promise<void>((resolve, reject) => {
    const socket = connectTcp({ host: hostname, port: Number(port || 80) });
    const fail = (reason: string) => {
      socket.destroy();
      reject(
        new Error(`the AWS emulator is not reachable at ${hostname}:${port} (${reason}): run npm run setup`),
      );
    };
    socket.setTimeout(2_000, () => fail('no answer within 2 s'));
    socket.once('error', (error) => fail(error.message));
    socket.once('connect', () => {
      socket.destroy();
      resolve();
    });
  });
}
