/**
 * The fuzzer against an authenticating (SASL SCRAM-SHA-256) listener: seeded random and mutated
 * frames (HERALD_FUZZ_FRAMES, 100,000 by default; HERALD_FUZZ_SEED replays) on connections that
 * have not authenticated (they may only speak ApiVersions and SASL, so most are closed at once)
 * and on connections that completed a real SCRAM exchange first. Passes with zero uncaught
 * exceptions, zero programming errors, a bounded heap, and the authenticated clients answered.
 */
import assert from 'node:assert/strict';
import { createHash, createHmac, pbkdf2Sync } from 'node:crypto';
import type net from 'node:net';
import { test } from 'node:test';
import {
  API_KEY,
  decodeResponse,
  encodeRequest,
  type SaslAuthenticateResponse,
} from '@herald/kafka-protocol';
import { createRandom, seedFromEnv, temporaryDirectory, withDeadline } from '@herald/test-support';
import { addUser, startKafkaServer } from '../src/index.ts';
import { corpus, FakeSocket, mutate } from './fuzz-frames.ts';

const FRAMES = Number(process.env.HERALD_FUZZ_FRAMES ?? 100_000);
const SEED = seedFromEnv('HERALD_FUZZ_SEED');
const PASSWORD = 'fuzz-secret';

function frame(apiKey: number, apiVersion: number, correlationId: number, body: object): Buffer {
  return Buffer.concat(encodeRequest({ apiKey, apiVersion, correlationId, clientId: 'fuzz' }, body));
}

/** The SaslAuthenticate v1 responses among the bytes written so far. */
function authResponses(socket: FakeSocket): SaslAuthenticateResponse[] {
  const bytes = Buffer.concat(socket.kept);
  const responses: SaslAuthenticateResponse[] = [];
  for (let at = 0; at + 4 <= bytes.length; ) {
    const size = bytes.readInt32BE(at);
    if (at + 4 + size > bytes.length) break;
    const body = bytes.subarray(at + 4, at + 4 + size);
    if (body.readInt32BE(0) === 2 || body.readInt32BE(0) === 3) {
      responses.push(decodeResponse(API_KEY.SaslAuthenticate, 1, body).body as SaslAuthenticateResponse);
    }
    at += 4 + size;
  }
  return responses;
}

/**
 * Polls `condition` on every turn of the event loop (which also runs I/O callbacks, such as the
 * server's stat of the users file) until it holds or 10 s pass.
 */
async function settle(condition: () => boolean): Promise<boolean> {
  const deadline = performance.now() + 10_000;
  while (!condition() && performance.now() < deadline) await new Promise((resolve) => setImmediate(resolve));
  return condition();
}

const saltedCache = new Map<string, Buffer>();

/** Runs a SCRAM-SHA-256 exchange over `socket`; resolves whether the server accepted it. */
async function authenticate(socket: FakeSocket, nonce: string): Promise<boolean> {
  const clientFirstBare = `n=fuzz,r=${nonce}`;
  socket.emit('data', frame(API_KEY.SaslHandshake, 1, 1, { mechanism: 'SCRAM-SHA-256' }));
  socket.emit(
    'data',
    frame(API_KEY.SaslAuthenticate, 1, 2, { authBytes: Buffer.from(`n,,${clientFirstBare}`) }),
  );
  if (!(await settle(() => authResponses(socket).length >= 1))) return false;
  const serverFirst = Buffer.from(authResponses(socket)[0]!.authBytes).toString();
  const fields = new Map(serverFirst.split(',').map((part) => [part[0]!, part.slice(2)] as const));
  const key = `${fields.get('s')}:${fields.get('i')}`;
  let salted = saltedCache.get(key);
  if (salted === undefined) {
    salted = pbkdf2Sync(
      PASSWORD,
      Buffer.from(fields.get('s')!, 'base64'),
      Number(fields.get('i')),
      32,
      'sha256',
    );
    saltedCache.set(key, salted);
  }
  const withoutProof = `c=biws,r=${fields.get('r')}`;
  const clientKey = createHmac('sha256', salted).update('Client Key').digest();
  const storedKey = createHash('sha256').update(clientKey).digest();
  const signature = createHmac('sha256', storedKey)
    .update(`${clientFirstBare},${serverFirst},${withoutProof}`)
    .digest();
  const proof = Buffer.from(clientKey.map((byte, index) => byte ^ signature[index]!));
  socket.emit(
    'data',
    frame(API_KEY.SaslAuthenticate, 1, 3, {
      authBytes: Buffer.from(`${withoutProof},p=${proof.toString('base64')}`),
    }),
  );
  if (!(await settle(() => authResponses(socket).length >= 2))) return false;
  return authResponses(socket)[1]!.errorCode === 0;
}

test('fuzz auth - frames before and after SCRAM authentication: no crash, bounded memory', {
  timeout: 300_000,
}, async () => {
  console.log(`fuzz auth seed ${SEED} (replay with HERALD_FUZZ_SEED=${SEED}), ${FRAMES} frames`);
  const random = createRandom(SEED);
  const programmingErrors: unknown[] = [];
  let uncaught = 0;
  const onUncaught = () => {
    uncaught++;
  };
  process.on('uncaughtException', onUncaught);
  process.on('unhandledRejection', onUncaught);
  const dir = temporaryDirectory('herald-fuzz-auth-');
  await addUser(dir, 'fuzz', PASSWORD);
  const server = await startKafkaServer({
    dir,
    port: 0,
    partitions: 2,
    sasl: { mechanisms: ['SCRAM-SHA-256'] },
    onError: (error) => {
      if (error instanceof TypeError || error instanceof RangeError || error instanceof ReferenceError) {
        programmingErrors.push(error);
      }
    },
  });
  const frames = corpus();
  let heapBytesMax = 0;
  const sent = { before: 0, after: 0 };
  let authenticated = 0;
  let connections = 0;
  try {
    while (sent.before + sent.after < FRAMES) {
      const socket = new FakeSocket(true);
      server.handle(socket as unknown as net.Socket);
      connections++;
      // Half the connections authenticate first; the other half fuzz an unauthenticated one.
      const afterAuth = random() < 0.5;
      if (afterAuth) {
        const accepted = await authenticate(socket, `n${connections}x${Math.floor(random() * 1e9)}`);
        if (!accepted) {
          const seen = authResponses(socket).map(
            (response) => `${response.errorCode} ${response.errorMessage}`,
          );
          assert.fail(
            `SCRAM refused on connection ${connections}: ${seen.join('; ')}, destroyed ${socket.destroyed}`,
          );
        }
        authenticated++;
      }
      const count = 1 + Math.floor(random() * 20);
      for (let index = 0; index < count && sent.before + sent.after < FRAMES && !socket.destroyed; index++) {
        const bytes = mutate(random, frames);
        const cut = Math.floor(random() * bytes.length);
        socket.emit('data', bytes.subarray(0, cut));
        socket.emit('data', bytes.subarray(cut));
        if (afterAuth) sent.after++;
        else sent.before++;
        if (index % 4 === 3) await new Promise((resolve) => setImmediate(resolve));
      }
      for (let turn = 0; turn < 3; turn++) await new Promise((resolve) => setImmediate(resolve));
      socket.kept.length = 0;
      socket.destroy();
      if (connections % 500 === 0) heapBytesMax = Math.max(heapBytesMax, process.memoryUsage().heapUsed);
    }
    console.log(
      `fuzz auth: ${sent.before} frames before and ${sent.after} after authentication over ${connections} connections ` +
        `(${authenticated} authenticated), heap max ${(heapBytesMax / 2 ** 20).toFixed(0)} MiB, ${uncaught} uncaught, ` +
        `${programmingErrors.length} programming errors`,
    );
  } finally {
    await withDeadline(server.close(), 30_000, 'server close');
    process.off('uncaughtException', onUncaught);
    process.off('unhandledRejection', onUncaught);
  }
  assert.equal(uncaught, 0, 'uncaught exceptions');
  assert.deepEqual(programmingErrors, [], 'programming errors reported by handlers');
  assert.ok(heapBytesMax < 512 * 2 ** 20, `heap stayed below 512 MiB (max ${heapBytesMax})`);
  assert.ok(sent.before > FRAMES / 4 && sent.after > FRAMES / 4, 'frames on both sides of authentication');
});
