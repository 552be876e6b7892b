/**
 * The bounds table of the kafka-server README, each limit set small through its option on an
 * in-process server and observed over real sockets: connections, idle timeout, request frame size,
 * in-flight requests per connection, group members and groups; and the Fetch promises around
 * them: a long-poll woken by an append, OFFSET_OUT_OF_RANGE outside the log.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { describe, test } from 'node:test';
import {
  API_KEY,
  decodeResponse,
  ERROR_CODE,
  encodeRequest,
  type FetchResponse,
  type ProduceResponse,
  type RequestHeader,
} from '@herald/kafka-protocol';
import { encodeRecordBatch } from '@herald/log';
import { eventually, temporaryDirectory, withDeadline } from '@herald/test-support';
import { GroupCoordinator, type JoinInput } from '../src/group-coordinator.ts';
import { type KafkaServer, type KafkaServerOptions, startKafkaServer } from '../src/index.ts';
import { WireClient } from './wire-client.ts';

/** A server on a fresh directory and a free port, with `options` laid over. */
async function serve(options: Partial<KafkaServerOptions> = {}): Promise<KafkaServer> {
  const dir = temporaryDirectory('herald-kafka-server-bounds-');
  return startKafkaServer({ dir, port: 0, partitions: 1, ...options });
}

let correlation = 1;
const header = (apiKey: number, apiVersion: number): RequestHeader => ({
  apiKey,
  apiVersion,
  correlationId: correlation++,
  clientId: 'bounds',
});

/** ApiVersions v0: answered by any open connection. */
const apiVersions = (client: WireClient) => client.send(header(API_KEY.ApiVersions, 0), {});

function produceBody(topic: string, values: string[]) {
  const records = encodeRecordBatch(
    values.map((value) => ({ key: null, value: Buffer.from(value), headers: [], timestampMs: Date.now() })),
    { timestampMs: Date.now() },
  );
  return {
    transactionalId: null,
    acks: -1,
    timeoutMs: 5000,
    topicData: [{ name: topic, partitionData: [{ index: 0, records }] }],
  };
}

function fetchBody(topic: string, fetchOffset: bigint, maxWaitMs: number) {
  return {
    replicaId: -1,
    maxWaitMs,
    minBytes: 1,
    maxBytes: 1024 * 1024,
    isolationLevel: 0,
    sessionId: 0,
    sessionEpoch: -1,
    topics: [
      {
        topic,
        partitions: [
          {
            partition: 0,
            currentLeaderEpoch: -1,
            fetchOffset,
            logStartOffset: -1n,
            partitionMaxBytes: 1024 * 1024,
          },
        ],
      },
    ],
    forgottenTopicsData: [],
    rackId: '',
  };
}

/** The one partition of a Fetch v11 response: its error code and how many record bytes it carried. */
function fetched(frame: Buffer | null): {
  errorCode: number;
  recordBytes: number;
  highWatermark: bigint;
  lastStableOffset: bigint | undefined;
} {
  assert.ok(frame !== null, 'a Fetch response');
  const body = decodeResponse(API_KEY.Fetch, 11, frame).body as FetchResponse;
  const partition = body.responses[0]!.partitions[0]!;
  const records = partition.records as Uint8Array | null;
  return {
    errorCode: partition.errorCode,
    recordBytes: records?.byteLength ?? 0,
    highWatermark: partition.highWatermark,
    lastStableOffset: partition.lastStableOffset,
  };
}

function produced(frame: Buffer | null): { errorCode: number; baseOffset: bigint } {
  assert.ok(frame !== null, 'a Produce response');
  const body = decodeResponse(API_KEY.Produce, 7, frame).body as ProduceResponse;
  return body.responses[0]!.partitionResponses[0]!;
}

describe('kafka-server bounds', { timeout: 180_000 }, () => {
  test('bounds - connections beyond connectionsMax are closed; a freed slot is served again', async () => {
    const server = await serve({ connectionsMax: 3 });
    const clients: WireClient[] = [];
    try {
      for (let index = 0; index < 3; index++) {
        const client = new WireClient(server.port);
        clients.push(client);
        assert.notEqual(await apiVersions(client), null, `connection ${index + 1} of 3 is served`);
      }
      const fourth = new WireClient(server.port);
      clients.push(fourth);
      assert.equal(await apiVersions(fourth), null, 'the 4th connection is closed unanswered');
      clients[0]!.close();
      // The server notices the close asynchronously: a new connection is served once it has.
      let served = false;
      await eventually(
        async () => {
          const next = new WireClient(server.port);
          clients.push(next);
          served = (await apiVersions(next)) !== null;
          return served;
        },
        () => 'a connection served after one of the three closed',
      );
      assert.ok(served);
    } finally {
      for (const client of clients) client.close();
      await server.close();
    }
  });

  test('bounds - an idle connection is closed after idleTimeoutMs', async () => {
    const server = await serve({ idleTimeoutMs: 300 });
    const client = new WireClient(server.port);
    try {
      assert.notEqual(await apiVersions(client), null);
      const answeredAtMs = performance.now();
      await eventually(
        () => client.closed,
        () => 'the idle connection to be closed',
      );
      const idleMs = client.closedAtMs! - answeredAtMs;
      assert.ok(idleMs >= 250, `closed only once idle (after ${Math.round(idleMs)} ms)`);
    } finally {
      client.close();
      await server.close();
    }
  });

  test('bounds - a frame above requestBytesMax closes the connection before it is buffered', async () => {
    const server = await serve({ requestBytesMax: 4096 });
    await server.broker.createTopic('frames', { partitions: 1 });
    const client = new WireClient(server.port);
    const refused = new WireClient(server.port);
    try {
      const within = produced(
        await client.send(header(API_KEY.Produce, 7), produceBody('frames', ['x'.repeat(2000)])),
      );
      assert.equal(within.errorCode, ERROR_CODE.NONE, 'a frame under the limit is served');
      // Only the size prefix of a 5000-byte frame: the server closes without waiting for the rest.
      const prefix = Buffer.alloc(8);
      prefix.writeInt32BE(5000, 0);
      assert.equal(await refused.sendRaw(prefix), null, 'closed on the size prefix alone');
      assert.notEqual(await apiVersions(client), null, 'other connections are unaffected');
    } finally {
      client.close();
      refused.close();
      await server.close();
    }
  });

  test('bounds - reading pauses at inFlightRequestsMax requests; a long-poll is woken by an append', async () => {
    // Two long-polling fetches and then a Produce on one connection. With room for three requests
    // the Produce is read at once and its append wakes the fetches; with room for two it is read
    // only after a fetch gave up, so both fetches come back empty.
    const run = async (inFlightRequestsMax: number) => {
      const server = await serve({ inFlightRequestsMax });
      await server.broker.createTopic('polled', { partitions: 1 });
      const client = new WireClient(server.port);
      try {
        const startedMs = performance.now();
        const fetches = [0, 1].map(() =>
          client.send(header(API_KEY.Fetch, 11), fetchBody('polled', 0n, 2_000)),
        );
        const produce = client.send(header(API_KEY.Produce, 7), produceBody('polled', ['woken']));
        const answers = (await Promise.all(fetches)).map(fetched);
        const elapsedMs = performance.now() - startedMs;
        assert.equal(produced(await produce).errorCode, ERROR_CODE.NONE);
        return { answers, elapsedMs };
      } finally {
        client.close();
        await server.close();
      }
    };
    const roomy = await run(3);
    assert.ok(
      roomy.answers.every((answer) => answer.errorCode === ERROR_CODE.NONE && answer.recordBytes > 0),
      'with room, the append wakes both fetches with its records',
    );
    assert.ok(
      roomy.elapsedMs < 1_500,
      `woken by the append, not by max_wait_ms (${Math.round(roomy.elapsedMs)} ms)`,
    );
    const paused = await run(2);
    assert.deepEqual(
      paused.answers.map((answer) => answer.recordBytes),
      [0, 0],
      'the Produce was not read while two requests were in flight',
    );
    assert.ok(
      paused.elapsedMs >= 1_900,
      `the fetches waited out max_wait_ms (${Math.round(paused.elapsedMs)} ms)`,
    );
  });

  test('bounds - reading pauses while more than 32 MiB of responses wait for a client that does not read', async () => {
    let fetchesAnswered = 0;
    const server = await serve({
      onResponse: ({ apiKey }) => {
        if (apiKey === API_KEY.Fetch) fetchesAnswered += 1;
      },
    });
    await server.broker.createTopic('bulk', { partitions: 1 });
    await server.broker.createTopic('probe', { partitions: 1 });
    const writer = new WireClient(server.port);
    const socket = net.connect(server.port, '127.0.0.1');
    socket.on('error', () => {});
    try {
      // 8 MiB stored as 1 MiB batches; each fetch below answers all of it.
      for (let index = 0; index < 8; index++) {
        const values = Array.from({ length: 8 }, () => 'v'.repeat(128 * 1024));
        assert.equal(
          produced(await writer.send(header(API_KEY.Produce, 7), produceBody('bulk', values))).errorCode,
          0,
        );
      }
      if (socket.connecting) {
        await withDeadline(
          new Promise<void>((resolve) => socket.once('connect', () => resolve())),
          10_000,
          'the silent client to connect',
        );
      }
      socket.pause(); // This client never reads: the server's unsent output grows.
      const fetches = 6; // 48 MiB of responses, beyond what the kernel's buffers take.
      const big = fetchBody('bulk', 0n, 0);
      const partition = big.topics[0]!.partitions[0]!;
      Object.assign(big, { maxBytes: 16 * 1024 * 1024 });
      Object.assign(partition, { partitionMaxBytes: 16 * 1024 * 1024 });
      for (let index = 0; index < fetches; index++) {
        socket.write(Buffer.concat(encodeRequest(header(API_KEY.Fetch, 11), big)));
      }
      await eventually(
        () => fetchesAnswered >= fetches,
        () => `the ${fetches} fetches answered (${fetchesAnswered})`,
      );
      // Sent only now, so it arrives while the output is over 32 MiB: it must not be read yet.
      socket.write(Buffer.concat(encodeRequest(header(API_KEY.Produce, 7), produceBody('probe', ['late']))));
      const probe = async () => (await server.broker.describeTopic('probe')).partitions[0]!.highWatermark;
      // A window of 1 s for the Produce to be (wrongly) read and stored.
      const windowEndMs = performance.now() + 1_000;
      const storedMeanwhile: bigint[] = [];
      while (performance.now() < windowEndMs) {
        storedMeanwhile.push(await probe());
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      assert.deepEqual(
        [...new Set(storedMeanwhile)],
        [0n],
        'the Produce was read while 32 MiB of output waited',
      );
      socket.resume(); // Draining the output lets the server read again.
      socket.on('data', () => {});
      await eventually(
        async () => (await probe()) === 1n,
        () => 'the Produce stored once the client read',
      );
    } finally {
      socket.destroy();
      writer.close();
      await server.close();
    }
  });

  test('bounds - a fetch outside the log is OFFSET_OUT_OF_RANGE; last_stable_offset is the high watermark', async () => {
    const server = await serve();
    await server.broker.createTopic('ranged', { partitions: 1 });
    const client = new WireClient(server.port);
    try {
      produced(await client.send(header(API_KEY.Produce, 7), produceBody('ranged', ['a', 'b'])));
      const inside = fetched(await client.send(header(API_KEY.Fetch, 11), fetchBody('ranged', 1n, 0)));
      assert.equal(inside.errorCode, ERROR_CODE.NONE);
      assert.ok(inside.recordBytes > 0);
      const atEnd = fetched(await client.send(header(API_KEY.Fetch, 11), fetchBody('ranged', 2n, 0)));
      assert.deepEqual(
        atEnd,
        { errorCode: ERROR_CODE.NONE, recordBytes: 0, highWatermark: 2n, lastStableOffset: 2n },
        'the end is in range; last_stable_offset is the high watermark',
      );
      const beyond = fetched(await client.send(header(API_KEY.Fetch, 11), fetchBody('ranged', 3n, 0)));
      assert.equal(beyond.errorCode, ERROR_CODE.OFFSET_OUT_OF_RANGE);
      assert.equal(beyond.recordBytes, 0);
      const negative = fetched(await client.send(header(API_KEY.Fetch, 11), fetchBody('ranged', -5n, 0)));
      assert.equal(negative.errorCode, ERROR_CODE.OFFSET_OUT_OF_RANGE);
    } finally {
      client.close();
      await server.close();
    }
  });

  test('bounds - a Fetch response carries at most fetchResponseBytesMax, the first partition with data one batch over', async () => {
    const server = await serve({ fetchResponseBytesMax: 1024 });
    await server.broker.createTopic('capped', { partitions: 2 });
    const client = new WireClient(server.port);
    try {
      // Two batches of ~2 kB on each partition: each one alone is over the 1 KiB cap.
      for (const partition of [0, 1]) {
        for (const round of [0, 1]) {
          const body = produceBody('capped', [`${partition}-${round}-${'x'.repeat(2000)}`]);
          body.topicData[0]!.partitionData[0]!.index = partition;
          assert.equal(
            produced(await client.send(header(API_KEY.Produce, 7), body)).errorCode,
            ERROR_CODE.NONE,
          );
        }
      }
      const request = fetchBody('capped', 0n, 0);
      request.topics[0]!.partitions.push({ ...request.topics[0]!.partitions[0]!, partition: 1 });
      const frame = await client.send(header(API_KEY.Fetch, 11), request); // Asks for up to 1 MiB.
      assert.ok(frame !== null);
      const partitions = (decodeResponse(API_KEY.Fetch, 11, frame).body as FetchResponse).responses[0]!
        .partitions;
      const sizes = partitions.map((partition) => (partition.records as Uint8Array | null)?.byteLength ?? 0);
      assert.ok(
        sizes[0]! > 1024 && sizes[0]! < 4000,
        `partition 0: one batch over the cap (${sizes[0]} bytes)`,
      );
      assert.equal(sizes[1], 0, 'partition 1: nothing, the cap is spent');
      assert.deepEqual(
        partitions.map((partition) => partition.highWatermark),
        [2n, 2n],
      );
    } finally {
      client.close();
      await server.close();
    }
  });

  test('bounds - members per group and groups are bounded', async () => {
    const coordinator = new GroupCoordinator({
      membersPerGroupMax: 2,
      groupsMax: 2,
      initialRebalanceDelayMs: 0,
    });
    const join = (groupId: string) => {
      const input: JoinInput = {
        groupId,
        memberId: '',
        groupInstanceId: null,
        clientId: 'c',
        sessionTimeoutMs: 10_000,
        rebalanceTimeoutMs: 10_000,
        protocolType: 'consumer',
        protocols: [{ name: 'range', metadata: new Uint8Array(0) }],
      };
      return coordinator.join(input);
    };
    try {
      const members = [join('g'), join('g')];
      const third = await withDeadline(join('g'), 5_000, 'the third join');
      assert.equal(third.errorCode, ERROR_CODE.GROUP_MAX_SIZE_REACHED);
      const joined = await withDeadline(Promise.all(members), 10_000, 'the first two joins');
      assert.deepEqual(
        joined.map((result) => result.errorCode),
        [ERROR_CODE.NONE, ERROR_CODE.NONE],
      );
      const second = await withDeadline(join('h'), 10_000, 'a second group');
      assert.equal(second.errorCode, ERROR_CODE.NONE);
      const refused = await withDeadline(join('i'), 5_000, 'a third group');
      assert.equal(refused.errorCode, ERROR_CODE.COORDINATOR_NOT_AVAILABLE);
    } finally {
      coordinator.close();
    }
  });
});
