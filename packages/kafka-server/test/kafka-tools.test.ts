/**
 * Apache Kafka 4.1's own command-line tools (the classes behind kafka-topics.sh,
 * kafka-console-producer.sh, kafka-console-consumer.sh, kafka-consumer-groups.sh and Kafka's
 * system-test clients VerifiableProducer/VerifiableConsumer) against `herald serve`, run with
 * `java -cp "$HERALD_KAFKA_DIR/libs/*"` as `npm run setup` fetched them.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  eventually,
  startServe as startServeProcess,
  temporaryDirectory,
  withDeadline,
} from '@herald/test-support';
import { jsonLines, kafkaDirectory, runJava } from './client-tools.ts';
import { lines, type Serve, startServe } from './support.ts';

const TOPICS = 'org.apache.kafka.tools.TopicCommand';
const CONSOLE_PRODUCER = 'org.apache.kafka.tools.ConsoleProducer';
const CONSOLE_CONSUMER = 'org.apache.kafka.tools.consumer.ConsoleConsumer';
const CONSUMER_GROUPS = 'org.apache.kafka.tools.consumer.group.ConsumerGroupCommand';
const VERIFIABLE_PRODUCER = 'org.apache.kafka.tools.VerifiableProducer';
const GET_OFFSETS = 'org.apache.kafka.tools.GetOffsetShell';
const VERIFIABLE_CONSUMER = 'org.apache.kafka.tools.VerifiableConsumer';

async function tool(mainClass: string, args: readonly string[], input?: string): Promise<string> {
  const result = await runJava(mainClass, args, input === undefined ? {} : { input });
  assert.equal(result.code, 0, `${mainClass} ${args.join(' ')} failed:\n${result.stdout}\n${result.stderr}`);
  return result.stdout;
}

/** `kafka-consumer-groups --describe` rows: partition -> current offset, log-end offset, lag. */
function describedOffsets(output: string, topic: string): Map<number, string[]> {
  const rows = new Map<number, string[]>();
  for (const line of lines(output)) {
    const columns = line.trim().split(/\s+/);
    if (columns[1] === topic && /^\d+$/.test(columns[2] ?? ''))
      rows.set(Number(columns[2]), columns.slice(3, 6));
  }
  return rows;
}

describe('Apache Kafka 4.1 tools', { timeout: 240_000 }, () => {
  let serve: Serve;
  before(async () => {
    kafkaDirectory();
    serve = await startServe({ partitions: 2 });
  });
  after(async () => {
    await serve?.stop();
  });

  test('kafka-tools - kafka-topics creates, lists, describes and deletes a topic', async () => {
    const server = ['--bootstrap-server', serve.bootstrap];
    assert.match(
      await tool(TOPICS, [...server, '--create', '--topic', 'tools-topic', '--partitions', '3']),
      /Created topic tools-topic/,
    );
    assert.ok(lines(await tool(TOPICS, [...server, '--list'])).includes('tools-topic'));
    const described = await tool(TOPICS, [...server, '--describe', '--topic', 'tools-topic']);
    assert.match(described, /Topic: tools-topic\s+PartitionCount: 3\s+ReplicationFactor: 1\s+Configs:/);
    assert.equal(described.match(/Partition: \d+\s+Leader: 0/g)?.length, 3, described);
    await tool(TOPICS, [...server, '--delete', '--topic', 'tools-topic']);
    await eventually(
      async () => !lines(await tool(TOPICS, [...server, '--list'])).includes('tools-topic'),
      () => 'tools-topic to disappear from kafka-topics --list',
    );
  });

  test('kafka-tools - console producer, console consumer with --group, consumer-groups describe and reset', async () => {
    const server = ['--bootstrap-server', serve.bootstrap];
    await tool(TOPICS, [...server, '--create', '--topic', 'tools-console', '--partitions', '2']);
    const sent = Array.from({ length: 50 }, (_, index) => `line-${index}`);
    await tool(CONSOLE_PRODUCER, [...server, '--topic', 'tools-console'], `${sent.join('\n')}\n`);
    const consume = () =>
      tool(CONSOLE_CONSUMER, [
        ...server,
        '--topic',
        'tools-console',
        '--group',
        'tools-g',
        '--from-beginning',
        '--max-messages',
        '50',
        '--timeout-ms',
        '30000',
      ]);
    assert.deepEqual(lines(await consume()).sort(), [...sent].sort());
    const group = [...server, '--group', 'tools-g'];
    const described = describedOffsets(
      await tool(CONSUMER_GROUPS, [...group, '--describe']),
      'tools-console',
    );
    assert.equal(described.size, 2, 'both partitions described');
    let total = 0;
    for (const [current, logEnd, lag] of described.values()) {
      assert.equal(current, logEnd, 'committed up to the end');
      assert.equal(lag, '0');
      total += Number(current);
    }
    assert.equal(total, 50);
    const reset = await tool(CONSUMER_GROUPS, [
      ...group,
      '--reset-offsets',
      '--topic',
      'tools-console',
      '--to-earliest',
      '--execute',
    ]);
    assert.equal(describedOffsets(reset, 'tools-console').size, 2, reset);
    const after = describedOffsets(await tool(CONSUMER_GROUPS, [...group, '--describe']), 'tools-console');
    for (const [current] of after.values()) assert.equal(current, '0', 'reset to the earliest offset');
    assert.deepEqual(lines(await consume()).sort(), [...sent].sort(), 'everything again after the reset');
    // --delete-offsets (OffsetDelete) for one partition, then --delete (DeleteGroups).
    assert.match(
      await tool(CONSUMER_GROUPS, [...group, '--delete-offsets', '--topic', 'tools-console:0']),
      /tools-console\s+0\s+Successful/,
    );
    const remaining = describedOffsets(
      await tool(CONSUMER_GROUPS, [...group, '--describe']),
      'tools-console',
    );
    // An empty group is described by its committed partitions only, as Kafka describes it.
    assert.deepEqual([...remaining.keys()], [1], 'partition 0 has no committed offset any more');
    assert.match(
      await tool(CONSUMER_GROUPS, [...group, '--delete']),
      /Deletion of requested consumer groups \('tools-g'\) was successful/,
    );
    assert.ok(!lines(await tool(CONSUMER_GROUPS, [...server, '--list'])).includes('tools-g'));
  });
});

/** A long-running tool whose stdout is collected line by line. */
function startTool(
  mainClass: string,
  args: readonly string[],
): { child: ChildProcess; output: () => string } {
  const kafka = kafkaDirectory();
  const child = spawn(
    'java',
    [
      `-Dlog4j2.configurationFile=${path.join(kafka, 'log4j2.properties')}`,
      '-cp',
      path.join(kafka, 'libs', '*'),
      mainClass,
      ...args,
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let output = '';
  child.stdout!.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  child.stderr!.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  return { child, output: () => output };
}

describe('Apache Kafka 4.1 VerifiableProducer across a kill -9', { timeout: 240_000 }, () => {
  test('kafka-tools - no acknowledged message is lost when herald serve is killed and restarted', async () => {
    const dir = temporaryDirectory();
    let serve = await startServeProcess({ dir, partitions: 3 });
    const port = serve.port;
    const bootstrap = serve.bootstrap;
    const producer = startTool(VERIFIABLE_PRODUCER, [
      '--bootstrap-server',
      bootstrap,
      '--topic',
      'verifiable',
      '--max-messages',
      '8000',
      '--throughput',
      '1000',
      '--acks',
      '-1',
    ]);
    const producerExited = new Promise<number | null>((resolve) => producer.child.once('exit', resolve));
    const acked = () =>
      jsonLines(producer.output()).filter((event) => event.name === 'producer_send_success').length;
    try {
      await eventually(
        () => acked() >= 1500,
        () => `1500 acks from VerifiableProducer (${acked()} so far):\n${producer.output().slice(-2000)}`,
        60_000,
      );
      await serve.kill();
      const ackedBeforeKill = acked();
      // Same port: the producer reconnects and resends what was in flight.
      serve = await startServeProcess({ dir, partitions: 3, port });
      assert.equal(
        await withDeadline(producerExited, 90_000, 'VerifiableProducer to finish'),
        0,
        producer.output(),
      );
      const events = jsonLines(producer.output());
      const ackedValues = events
        .filter((event) => event.name === 'producer_send_success')
        .map((event) => event.value as string);
      const summary = events.find((event) => event.name === 'tool_data')!;
      assert.ok(
        ackedValues.length > ackedBeforeKill,
        `acks after the restart too (${ackedBeforeKill} before the kill, ${ackedValues.length} in all)`,
      );
      assert.equal(summary.acked, ackedValues.length);

      // Everything stored: the sum of the partitions' end offsets.
      const ends = await tool(GET_OFFSETS, ['--bootstrap-server', bootstrap, '--topic', 'verifiable']);
      const storedCount = lines(ends).reduce((sum, line) => sum + Number(line.split(':')[2]), 0);
      assert.ok(storedCount >= ackedValues.length, `${storedCount} stored, ${ackedValues.length} acked`);
      const stored = jsonLines(
        (
          await runJava(VERIFIABLE_CONSUMER, [
            '--bootstrap-server',
            bootstrap,
            '--topic',
            'verifiable',
            '--group-id',
            'verifiable-check',
            '--reset-policy',
            'earliest',
            '--max-messages',
            String(storedCount),
            '--verbose',
          ])
        ).stdout,
      );
      const consumed = stored
        .filter((event) => event.name === 'record_data')
        .map((event) => event.value as string);
      const present = new Set(consumed);
      const lost = ackedValues.filter((value) => !present.has(value));
      assert.deepEqual(lost.slice(0, 20), [], `${lost.length} acknowledged values missing after the restart`);
      assert.equal(
        present.size,
        consumed.length,
        `no value stored twice: ${consumed.length - present.size} duplicates`,
      );
    } finally {
      producer.child.kill('SIGKILL');
      await serve.stop().catch(() => serve.kill());
    }
  });
});
