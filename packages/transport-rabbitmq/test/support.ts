/**
 * Helpers of the RabbitMQ tests: topology clean-up, and dropping connections with rabbitmqctl. The
 * broker's URL and reachability check come from `@herald/test-support`.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { RABBITMQ_URL } from '@herald/test-support';
import { connect } from 'amqplib';

const run = promisify(execFile);

/** Exchanges and queues to delete after a test. */
export interface TopologyRecord {
  readonly exchanges: Set<string>;
  readonly queues: Set<string>;
}

/** Deletes every queue and exchange in `record`; missing ones are fine. */
export async function deleteTopology(record: TopologyRecord): Promise<void> {
  if (record.exchanges.size === 0 && record.queues.size === 0) return;
  const connection = await connect(RABBITMQ_URL);
  try {
    const channel = await connection.createChannel();
    for (const queue of record.queues) await channel.deleteQueue(queue);
    for (const exchange of record.exchanges) await channel.deleteExchange(exchange);
    await channel.close();
  } finally {
    await connection.close();
  }
}

/**
 * Closes, broker side, every connection whose client-provided name is `connectionName`, like a
 * network failure would; resolves with how many were closed. Only these connections: tests of
 * other files run at the same time against the same broker.
 */
export async function dropConnections(connectionName: string): Promise<number> {
  const { stdout } = await run('rabbitmqctl', [
    'list_connections',
    'pid',
    'client_properties',
    '--no-table-headers',
    '--quiet',
  ]);
  const pids = stdout
    .split('\n')
    .filter((line) => line.includes(`{"connection_name","${connectionName}"}`))
    .map((line) => line.split('\t')[0]!.trim());
  for (const pid of pids) {
    await run('rabbitmqctl', ['close_connection', pid, 'herald test: dropping connections on purpose']);
  }
  return pids.length;
}

/** `rabbitmqctl list_queues` type and arguments of `queue` (arguments as rabbitmqctl prints them). */
export async function describeQueue(queue: string): Promise<{ type: string; arguments: string } | undefined> {
  const { stdout } = await run('rabbitmqctl', [
    'list_queues',
    'name',
    'type',
    'arguments',
    '--no-table-headers',
    '--quiet',
  ]);
  for (const line of stdout.split('\n')) {
    const [name, type, args] = line.split('\t');
    if (name === queue) return { type: type!.trim(), arguments: (args ?? '').trim() };
  }
  return undefined;
}
