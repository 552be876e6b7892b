/**
 * `npm run bench -- kafka [--quick] [--json]`: produce and fetch throughput of 100-byte records
 * through a Kafka-protocol server, the same clients against `herald serve` (a child process, fsync
 * on every append) and against Apache Kafka 4.1 (one KRaft node from the jars `npm run setup`
 * fetched, 1 GiB heap, its default flush policy: acked in the page cache), side by side with the
 * ratio; acks=all everywhere, 4 partitions. Driven by librdkafka (kcat), @platformatic/kafka, a
 * minimal Fetch client and Kafka's own Java perf tools, next to the embedded in-process figure
 * (`@herald/log` raw batch appends and reads on the same disk).
 *
 * - kcat produce: `kcat -P -l FILE -X acks=all -X linger.ms=20` of N records (one per line).
 * - kcat produce: `-X batch.num.messages=10000 -X queue.buffering.max.messages=1000000` as well;
 *   librdkafka's `batch.size` (1,000,000 bytes) then closes batches at ~9,000 records, so the
 *   topic is stored as ~1 MB batches.
 * - kcat fetch: `kcat -C -e -o beginning -q -f '%o\n' -X fetch.wait.max.ms=100` of the same topic
 *   to /dev/null; every other fetch setting is librdkafka's default: `fetch.max.bytes` 50 MiB,
 *   `max.partition.fetch.bytes` 1 MiB (so one ~1 MB stored batch per partition per response),
 *   `fetch.min.bytes` 1, `queued.min.messages` 100,000, one fetch in flight. `-e` needs one empty
 *   fetch per partition to see the end, and an empty fetch long-polls for `fetch.wait.max.ms` (as
 *   on Kafka), so the default 500 ms would be a fixed tail, not throughput; 100 ms of it remains
 *   in the figure, as does kcat's start-up.
 * - platformatic produce: 32 concurrent `send` calls of 1,000 records each, acks=-1, until N.
 * - platformatic fetch: a consumer (string deserializers, otherwise default options: `minBytes` 1,
 *   `maxWaitTime` 5 s, stream `highWaterMark` 1,024 messages) with `maxBytes` 8 MiB (also the
 *   per-partition limit) from the earliest offset, read with `for await` until N records arrived.
 *   It keeps one fetch in flight and starts the next only once its stream buffer has drained, and
 *   it builds an object per record: its own CPU, not the server, bounds it (see the CPU table).
 * - CPU table: CPU seconds `herald serve` (from /proc, Linux) and the in-process clients used
 *   during each fetch row, next to its wall time.
 * - wire fetch: a minimal Fetch v11 client built on `@herald/kafka-protocol`, one connection per
 *   partition, one request in flight each: the server's own fetch rate without a client library's
 *   per-record work (librdkafka keeps one fetch in flight per broker and decodes every record).
 * - Java: `org.apache.kafka.tools.ProducerPerformance` (acks=all, `batch.size` 1,000,000,
 *   `linger.ms` 20, its own records/s and latency percentiles: the ack p99 column) and
 *   `ConsumerPerformance` (its `fetch.nMsg.sec`, group join left out); JVM start is not counted.
 * - embedded: `Partition.appendBatch` of 1,000-record batches (16 in flight), then `read` of
 *   everything in 1 MiB steps, counting records from the batch headers.
 * Targets (for `herald serve`): produce >= 250,000 records/s, fetch >= 1,000,000 records/s.
 * Markdown table on stdout, progress on stderr.
 */
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import {
  Consumer,
  MessagesStreamModes,
  Producer,
  stringDeserializers,
  stringSerializers,
} from '@platformatic/kafka';
import {
  API_KEY,
  decodeResponse,
  encodeRequest,
  type FetchResponse,
} from '../packages/kafka-protocol/src/index.ts';
import { encodeRecordBatch, openPartition } from '../packages/log/src/index.ts';
import {
  format,
  markdownTable,
  ownCpuSeconds,
  parseBenchArgs,
  processCpuSeconds,
  progressLine,
  runTimed,
  tempDir,
} from './_common.ts';
import { KAFKA_DIR, startBenchKafka, startHeraldServe } from './_servers.ts';

const RECORD_BYTES = 100;
const PRODUCE_TARGET = 250_000;
const FETCH_TARGET = 1_000_000;

/** A broker under test. */
interface Server {
  /** `herald serve` or `Apache Kafka`. */
  readonly name: string;
  readonly bootstrap: string;
  readonly port: number;
  /** The server process (for CPU accounting). */
  readonly pid: number | undefined;
}

const IN_PROCESS = 'in process';

interface Row {
  /** The broker the row ran against ({@link IN_PROCESS} for the embedded log). */
  readonly server: string;
  readonly client: string;
  readonly operation: 'produce' | 'fetch';
  readonly records: number;
  readonly seconds: number;
  readonly recordsPerSecond: number;
  readonly target: number;
  /** CPU seconds `herald serve` used during the run (fetch rows; undefined off Linux). */
  readonly serverCpuSeconds?: number;
  /** CPU seconds the client used during the run (in-process clients only). */
  readonly clientCpuSeconds?: number;
  /** 99th percentile of send-to-ack latency, where the client reports it (Java ProducerPerformance). */
  readonly ackP99Ms?: number;
  /** Why the row has no figure (e.g. the client refused the server). */
  readonly error?: string;
}

function row(
  server: string,
  client: string,
  operation: 'produce' | 'fetch',
  records: number,
  seconds: number,
  cpu: { readonly server?: number; readonly client?: number; readonly ackP99Ms?: number } = {},
): Row {
  return {
    server,
    client,
    operation,
    records,
    seconds,
    recordsPerSecond: Math.round(records / seconds),
    target: operation === 'produce' ? PRODUCE_TARGET : FETCH_TARGET,
    ...(cpu.server === undefined ? {} : { serverCpuSeconds: round2(cpu.server) }),
    ...(cpu.client === undefined ? {} : { clientCpuSeconds: round2(cpu.client) }),
    ...(cpu.ackP99Ms === undefined ? {} : { ackP99Ms: cpu.ackP99Ms }),
  };
}

function round2(value: number): number {
  return Math.round(value * 100) / 100;
}

/** CPU seconds `herald serve` (`pid`) uses while `work` runs, with `work`'s result. */
async function withServerCpu<T>(
  pid: number | undefined,
  work: () => Promise<T>,
): Promise<[T, number | undefined]> {
  const before = processCpuSeconds(pid);
  const result = await work();
  const after = processCpuSeconds(pid);
  return [result, before === undefined || after === undefined ? undefined : after - before];
}

function value(index: number): string {
  return `r${index}-`.padEnd(RECORD_BYTES, 'x');
}

async function kcatRows(server: Server, records: number, dir: string): Promise<Row[]> {
  const { bootstrap, pid: serverPid } = server;
  const file = path.join(dir, 'records.txt');
  writeFileSync(file, Array.from({ length: records }, (_, index) => value(index)).join('\n'));
  progressLine('kcat', `producing ${records} records to ${server.name}`);
  const produceSeconds = await runTimed('kcat', [
    '-b',
    bootstrap,
    '-P',
    '-t',
    'bench-kcat',
    '-l',
    file,
    '-X',
    'acks=all',
    '-X',
    'linger.ms=20',
    '-X',
    'batch.num.messages=10000',
    '-X',
    'queue.buffering.max.messages=1000000',
  ]);
  progressLine('kcat', 'fetching');
  const [fetchSeconds, serverCpu] = await withServerCpu(serverPid, () =>
    runTimed('kcat', [
      '-b',
      bootstrap,
      '-C',
      '-t',
      'bench-kcat',
      '-o',
      'beginning',
      '-e',
      '-q',
      '-f',
      '%o\n',
      '-X',
      'fetch.wait.max.ms=100',
    ]),
  );
  return [
    row(server.name, 'kcat (librdkafka 2.0.2)', 'produce', records, produceSeconds),
    row(server.name, 'kcat (librdkafka 2.0.2)', 'fetch', records, fetchSeconds, { server: serverCpu }),
  ];
}

/** Reads `partition` of `topic` from offset 0 to `end` with Fetch v11; resolves the records counted. */
function wireFetchPartition(port: number, topic: string, partition: number, end: bigint): Promise<number> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    let offset = 0n;
    let records = 0;
    let correlationId = 0;
    let pending: Buffer = Buffer.alloc(0);
    const request = () => {
      correlationId++;
      const frame = encodeRequest(
        { apiKey: API_KEY.Fetch, apiVersion: 11, correlationId, clientId: 'bench' },
        {
          maxWaitMs: 100,
          minBytes: 1,
          maxBytes: 64 * 1024 * 1024,
          isolationLevel: 0,
          topics: [
            { topic, partitions: [{ partition, fetchOffset: offset, partitionMaxBytes: 16 * 1024 * 1024 }] },
          ],
        },
      );
      for (const chunk of frame) socket.write(chunk);
    };
    socket.on('connect', request);
    socket.on('error', reject);
    // Chunks are collected and joined once per response (joining on every chunk is quadratic).
    const chunks: Buffer[] = [];
    let buffered = 0;
    let needed = 4;
    socket.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      buffered += chunk.length;
      if (needed === 4 && buffered >= 4) {
        needed = 4 + Buffer.concat(chunks, 4).readInt32BE(0);
      }
      if (buffered < needed) return;
      pending = Buffer.concat(chunks, buffered);
      chunks.length = 0;
      buffered = 0;
      needed = 4;
      const size = pending.readInt32BE(0);
      const { body } = decodeResponse(API_KEY.Fetch, 11, pending.subarray(4, 4 + size));
      pending = pending.subarray(4 + size);
      const data = (body as FetchResponse).responses[0]!.partitions[0]!.records as Uint8Array;
      const view = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
      for (let at = 0; at + 61 <= view.length; at += view.readInt32BE(at + 8) + 12) {
        const base = view.readBigInt64BE(at);
        const last = base + BigInt(view.readInt32BE(at + 23));
        if (last >= offset) records += Number(last - (base > offset ? base : offset)) + 1;
        offset = last + 1n;
      }
      if (offset >= end) {
        socket.end();
        resolve(records);
      } else {
        request();
      }
    });
  });
}

async function wireFetchRow(
  server: Server,
  topic: string,
  partitions: number,
  records: number,
): Promise<Row> {
  const { port, pid: serverPid } = server;
  progressLine('wire', 'fetching');
  const started = performance.now();
  const cpuStarted = process.cpuUsage();
  const serverCpuBefore = processCpuSeconds(serverPid);
  // The high watermark of each partition is unknown here; read until the total is reached.
  const ends = await Promise.all(
    Array.from({ length: partitions }, (_, partition) => highWatermark(port, topic, partition)),
  );
  const counted = await Promise.all(
    ends.map((end, partition) =>
      end > 0n ? wireFetchPartition(port, topic, partition, end) : Promise.resolve(0),
    ),
  );
  const total = counted.reduce((sum, count) => sum + count, 0);
  if (total !== records) throw new Error(`wire fetch counted ${total} records, expected ${records}`);
  const seconds = (performance.now() - started) / 1000;
  const serverCpuAfter = processCpuSeconds(serverPid);
  return row(server.name, 'wire Fetch v11 (kafka-protocol)', 'fetch', total, seconds, {
    client: ownCpuSeconds(cpuStarted),
    server:
      serverCpuBefore === undefined || serverCpuAfter === undefined
        ? undefined
        : serverCpuAfter - serverCpuBefore,
  });
}

function highWatermark(port: number, topic: string, partition: number): Promise<bigint> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1', () => {
      const frame = encodeRequest(
        { apiKey: API_KEY.ListOffsets, apiVersion: 1, correlationId: 1, clientId: 'bench' },
        {
          replicaId: -1,
          topics: [{ name: topic, partitions: [{ partitionIndex: partition, timestamp: -1n }] }],
        },
      );
      for (const chunk of frame) socket.write(chunk);
    });
    let pending: Buffer = Buffer.alloc(0);
    socket.on('error', reject);
    socket.on('data', (chunk: Buffer) => {
      pending = Buffer.concat([pending, chunk]);
      if (pending.length < 4 || pending.length < 4 + pending.readInt32BE(0)) return;
      const { body } = decodeResponse(
        API_KEY.ListOffsets,
        1,
        pending.subarray(4, 4 + pending.readInt32BE(0)),
      );
      socket.end();
      resolve((body as { topics: { partitions: { offset: bigint }[] }[] }).topics[0]!.partitions[0]!.offset);
    });
  });
}

async function platformaticRows(server: Server, records: number): Promise<Row[]> {
  const serverPid = server.pid;
  const bootstrapBrokers = [server.bootstrap];
  const producer = new Producer({
    clientId: 'bench',
    bootstrapBrokers,
    serializers: stringSerializers,
    acks: -1,
    autocreateTopics: true,
  });
  const batch = 1_000;
  const concurrency = 32;
  progressLine('platformatic', `producing ${records} records`);
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < records) {
        const first = next;
        next += batch;
        const count = Math.min(batch, records - first);
        await producer.send({
          messages: Array.from({ length: count }, (_, index) => ({
            topic: 'bench-plt',
            value: value(first + index),
          })),
        });
      }
    }),
  );
  const produceSeconds = (performance.now() - started) / 1000;
  await producer.close();
  progressLine('platformatic', 'fetching');
  const consumer = new Consumer({
    groupId: 'bench',
    clientId: 'bench',
    bootstrapBrokers,
    deserializers: stringDeserializers,
  });
  const fetchStarted = performance.now();
  const cpuStarted = process.cpuUsage();
  const serverCpuBefore = processCpuSeconds(serverPid);
  const stream = await consumer.consume({
    topics: ['bench-plt'],
    mode: MessagesStreamModes.EARLIEST,
    autocommit: false,
    maxBytes: 8 * 1024 * 1024,
  });
  let received = 0;
  const ticker = setInterval(() => progressLine('platformatic', `${received} records received`), 2000);
  for await (const _ of stream) {
    received++;
    if (received >= records) break;
  }
  clearInterval(ticker);
  const fetchSeconds = (performance.now() - fetchStarted) / 1000;
  const clientCpu = ownCpuSeconds(cpuStarted);
  const serverCpuAfter = processCpuSeconds(serverPid);
  await stream.close();
  await consumer.close(true);
  return [
    row(server.name, '@platformatic/kafka 2.12', 'produce', records, produceSeconds),
    row(server.name, '@platformatic/kafka 2.12', 'fetch', records, fetchSeconds, {
      client: clientCpu,
      server:
        serverCpuBefore === undefined || serverCpuAfter === undefined
          ? undefined
          : serverCpuAfter - serverCpuBefore,
    }),
  ];
}

/** The output of `java <args>` (the fetched Kafka jars on the classpath); rejects on a non-zero exit. */
function runJava(args: readonly string[]): Promise<string> {
  const java = [
    '-Xmx512m',
    `-Dlog4j2.configurationFile=${path.join(KAFKA_DIR, 'log4j2.properties')}`,
    '-cp',
    `${path.join(KAFKA_DIR, 'libs')}/*`,
    ...args,
  ];
  return new Promise((resolve, reject) => {
    execFile('java', java, { maxBuffer: 16 * 1024 * 1024, timeout: 300_000 }, (error, stdout, stderr) => {
      if (error)
        reject(
          new Error(
            `java ${args[0]} failed: ${String(stderr || error.message)
              .trim()
              .slice(-300)}`,
          ),
        );
      else resolve(stdout);
    });
  });
}

/**
 * Kafka's own Java tools: `ProducerPerformance` (acks=all, idempotent by default, `batch.size`
 * 1,000,000 and `linger.ms` 20 like the kcat row; it reports its own records/s and latency
 * percentiles, JVM start excluded) and `ConsumerPerformance` (a group from the earliest offset;
 * its `fetch.nMsg.sec`, which leaves out the group join).
 */
async function javaRows(server: Server, records: number): Promise<Row[]> {
  const client = 'Java kafka-clients 4.1 (perf tools)';
  const rows: Row[] = [];
  progressLine('java', `ProducerPerformance: ${records} records to ${server.name}`);
  try {
    const output = await runJava([
      'org.apache.kafka.tools.ProducerPerformance',
      '--topic',
      'bench-java',
      '--num-records',
      String(records),
      '--record-size',
      String(RECORD_BYTES),
      '--throughput',
      '-1',
      '--producer-props',
      `bootstrap.servers=${server.bootstrap}`,
      'acks=all',
      'batch.size=1000000',
      'linger.ms=20',
    ]);
    const summary = /(\d+) records sent, ([\d.]+) records\/sec.* (\d+) ms 99th/.exec(output);
    if (summary === null) throw new Error(`ProducerPerformance printed no summary: ${output.slice(-300)}`);
    const perSecond = Number(summary[2]);
    rows.push(
      row(server.name, client, 'produce', records, records / perSecond, { ackP99Ms: Number(summary[3]) }),
    );
  } catch (error) {
    rows.push({ ...row(server.name, client, 'produce', 0, 1), error: (error as Error).message });
    return rows;
  }
  progressLine('java', `ConsumerPerformance: ${records} records from ${server.name}`);
  try {
    const output = await runJava([
      'org.apache.kafka.tools.ConsumerPerformance',
      '--bootstrap-server',
      server.bootstrap,
      '--topic',
      'bench-java',
      '--messages',
      String(records),
      '--timeout',
      '60000',
      '--hide-header',
    ]);
    // start.time, end.time, MB, MB.sec, nMsg, nMsg.sec, rebalance.time.ms, fetch.time.ms, fetch.MB.sec, fetch.nMsg.sec
    const fields = output
      .trim()
      .split('\n')
      .at(-1)!
      .split(',')
      .map((field) => field.trim());
    const consumed = Number(fields[4]);
    const fetchPerSecond = Number(fields[9]);
    if (!(consumed >= records) || !(fetchPerSecond > 0)) {
      throw new Error(`ConsumerPerformance: ${output.trim().slice(-300)}`);
    }
    rows.push(row(server.name, client, 'fetch', consumed, consumed / fetchPerSecond));
  } catch (error) {
    rows.push({ ...row(server.name, client, 'fetch', 0, 1), error: (error as Error).message });
  }
  return rows;
}

async function embeddedRows(dir: string, records: number): Promise<Row[]> {
  progressLine('embedded', `appending ${records} records`);
  const partition = await openPartition({ directory: path.join(dir, 'embedded'), fsync: 'always' });
  const perBatch = 1_000;
  const batch = encodeRecordBatch(
    Array.from({ length: perBatch }, (_, index) => ({
      key: null,
      value: Buffer.from(value(index)),
      headers: [],
      timestampMs: 0,
    })),
    { timestampMs: Date.now() },
  );
  let appended = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: 16 }, async () => {
      while (appended < records) {
        appended += perBatch;
        await partition.appendBatch(batch);
      }
    }),
  );
  const produceSeconds = (performance.now() - started) / 1000;
  progressLine('embedded', 'reading');
  const readStarted = performance.now();
  let offset = 0n;
  let read = 0;
  while (offset < partition.highWatermark) {
    const result = await partition.read(offset, 1024 * 1024);
    const view = Buffer.from(result.batches.buffer, result.batches.byteOffset, result.batches.byteLength);
    for (let at = 0; at < view.length; at += view.readInt32BE(at + 8) + 12) read += view.readInt32BE(at + 57);
    offset = result.nextOffset;
  }
  const fetchSeconds = (performance.now() - readStarted) / 1000;
  await partition.close();
  return [
    row(IN_PROCESS, 'embedded @herald/log', 'produce', appended, produceSeconds),
    row(IN_PROCESS, 'embedded @herald/log', 'fetch', read, fetchSeconds),
  ];
}

/** One line per client and operation: herald serve and Apache Kafka side by side, with the ratio. */
function table(rows: readonly Row[]): string {
  const figure = (entry: Row | undefined) =>
    entry === undefined ? '' : entry.error !== undefined ? 'failed' : format(entry.recordsPerSecond);
  const p99 = (entry: Row | undefined) => (entry?.ackP99Ms === undefined ? '' : String(entry.ackP99Ms));
  const lines = new Map<string, Row[]>();
  for (const entry of rows) {
    const key = `${entry.client}\u0000${entry.operation}`;
    lines.set(key, [...(lines.get(key) ?? []), entry]);
  }
  const cells = [...lines.values()].map((entries) => {
    const first = entries[0]!;
    const herald = entries.find((entry) => entry.server === HERALD || entry.server === IN_PROCESS);
    const kafka = entries.find((entry) => entry.server === KAFKA);
    const ratio =
      herald?.error === undefined && kafka !== undefined && kafka.error === undefined && herald !== undefined
        ? `${format(herald.recordsPerSecond / kafka.recordsPerSecond, 2)}×`
        : '';
    return [
      first.client,
      first.operation,
      herald?.server === IN_PROCESS ? `${figure(herald)} (in process)` : figure(herald),
      figure(kafka),
      ratio,
      p99(herald),
      p99(kafka),
      format(first.target),
      [herald, kafka]
        .filter((entry) => entry?.error !== undefined)
        .map((entry) => `${entry!.server}: ${entry!.error!.split('\n')[0]!.slice(0, 120)}`)
        .join('; '),
    ];
  });
  return `${markdownTable(
    [
      'client',
      'operation',
      `${HERALD} records/s`,
      `${KAFKA} records/s`,
      'herald ÷ Kafka',
      'herald ack p99 ms',
      'Kafka ack p99 ms',
      'target',
      'notes',
    ],
    cells,
    { align: ['left', 'left', 'right', 'right', 'right', 'right', 'right', 'right', 'left'] },
  )}\n`;
}

/** CPU used during the fetch rows that measured it; '' when none did. */
function cpuTable(rows: readonly Row[]): string {
  const measured = rows.filter(
    (entry) => entry.serverCpuSeconds !== undefined || entry.clientCpuSeconds !== undefined,
  );
  if (measured.length === 0) return '';
  const seconds = (value: number | undefined) => (value === undefined ? '' : value.toFixed(2));
  const cells = measured.map((entry) => [
    entry.server,
    entry.client,
    entry.operation,
    entry.seconds.toFixed(2),
    seconds(entry.serverCpuSeconds),
    seconds(entry.clientCpuSeconds),
  ]);
  return `\nCPU seconds used during the run (client: in-process clients only)\n\n${markdownTable(
    ['server', 'client', 'operation', 'wall s', 'server CPU s', 'client CPU s'],
    cells,
    { align: ['left', 'left', 'left', 'right', 'right', 'right'] },
  )}\n`;
}

const HERALD = 'herald serve';
const KAFKA = 'Apache Kafka';

/** The same clients against one server. */
async function serverRows(server: Server, records: number, dir: string): Promise<Row[]> {
  const rows: Row[] = [];
  rows.push(...(await kcatRows(server, records, dir)));
  rows.push(await wireFetchRow(server, 'bench-kcat', 4, records));
  rows.push(...(await platformaticRows(server, records)));
  rows.push(...(await javaRows(server, records)));
  return rows;
}

/** Runs the suite. */
export async function run(args: string[]): Promise<void> {
  const { quick, json } = parseBenchArgs(args);
  const records = quick ? 200_000 : 1_000_000;
  const scratch = await tempDir('herald-bench-kafka');
  const dir = scratch.path;
  const rows: Row[] = [];
  try {
    rows.push(...(await embeddedRows(dir, records)));
    const serve = await startHeraldServe(path.join(dir, 'data'), 4);
    try {
      const server = { name: HERALD, bootstrap: serve.bootstrap, port: serve.port, pid: serve.child.pid };
      rows.push(...(await serverRows(server, records, dir)));
    } finally {
      await serve.stop();
    }
    progressLine('kafka', 'starting Apache Kafka');
    const kafka = await startBenchKafka({ partitions: 4 });
    try {
      const port = Number(kafka.bootstrap.split(':')[1]);
      const server = { name: KAFKA, bootstrap: kafka.bootstrap, port, pid: kafka.pid };
      rows.push(...(await serverRows(server, records, dir)));
    } finally {
      await kafka.stop();
    }
  } finally {
    await scratch.remove();
  }
  if (json) {
    process.stdout.write(
      `${JSON.stringify({ suite: 'kafka', quick, recordBytes: RECORD_BYTES, rows }, null, 2)}\n`,
    );
  } else {
    process.stdout.write(
      `\nKafka protocol, ${records} records of ${RECORD_BYTES} bytes, acks=all, 4 partitions. ` +
        `${HERALD}: fsync on every append. ${KAFKA} 4.1 (one KRaft node, 1 GiB heap, warmed up with 100,000 records): its default ` +
        'flush policy, so an ack means the page cache, not the disk (see `npm run bench -- peers` for ' +
        'Kafka with `log.flush.interval.messages=1`).\n\n',
    );
    process.stdout.write(table(rows));
    process.stdout.write(cpuTable(rows));
  }
}
