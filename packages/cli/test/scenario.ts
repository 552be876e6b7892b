/**
 * The user session every target must pass, driven through the real binary: topics, produce
 * (stdin, file, keys, headers, CloudEvents), consume (offsets, formats, partitions, -e, -c, JSON,
 * groups that commit and resume), tail, groups (describe, lag, reset), replay, dead letters, and
 * the exit codes of usage errors and missing things. `targetArgs` is `--data DIR` or `--broker X`.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { temporaryDirectory } from '@herald/test-support';
import { herald, heraldOk, jsonLines } from './support.ts';

type Json = Record<string, unknown>;

/** kcat's `-J` headers (`[name, value, …]`) as a map. */
function headersOf(record: Json): Record<string, string | null> {
  const flat = (record.headers ?? []) as (string | null)[];
  const headers: Record<string, string | null> = {};
  for (let index = 0; index < flat.length; index += 2) headers[flat[index]!] = flat[index + 1]!;
  return headers;
}

/** Topics, produce, consume, tail, groups, replay, and usage errors against one target. */
export async function topicsProduceConsume(
  targetArgs: readonly string[],
  kind: 'data' | 'broker',
): Promise<void> {
  const run = (args: string[], input?: string) =>
    herald([...args, ...targetArgs], input === undefined ? {} : { input });
  const ok = (args: string[], input?: string) =>
    heraldOk([...args, ...targetArgs], input === undefined ? {} : { input });

  // topics create / exists / list / describe
  assert.deepEqual(JSON.parse((await ok(['topics', 'create', 'orders', '-p', '3', '-J'])).stdout), {
    created: 'orders',
    partitionCount: 3,
  });
  const again = await run(['topics', 'create', 'orders']);
  assert.equal(again.code, 4, 'creating an existing topic is a conflict');
  assert.match(again.stderr, /already exists/);
  await ok(['topics', 'create', '-t', 'orders', '--if-not-exists']);

  // produce: stdin lines with a key and headers, a file with key delimiters, a CloudEvent
  const produced = await ok(
    ['produce', '-t', 'orders', '-k', 'k1', '-H', 'src=test', '-H', 'n=1', '--json'],
    'a\nb\n\nc\nd\ne\n',
  );
  assert.deepEqual(JSON.parse(produced.stdout), { topic: 'orders', produced: 5, interrupted: false });
  const file = path.join(temporaryDirectory(), 'lines.txt');
  writeFileSync(
    file,
    Array.from({ length: 100 }, (_, index) => `key-${index % 7}:value-${index}`).join('\n'),
  );
  assert.equal(
    (JSON.parse((await ok(['produce', '-t', 'orders', '-l', file, '-K', ':', '--json'])).stdout) as Json)
      .produced,
    100,
  );
  await ok(
    ['produce', '-t', 'orders', '--cloudevent', 'OrderCreated', '--source', '/test', '-k', 'o-1'],
    '{"orderId":"o-1"}\n',
  );

  const listed = JSON.parse((await ok(['topics', 'list', '-J'])).stdout) as Json[];
  const listedOrders = listed.find((topic) => topic.name === 'orders');
  const { sizeBytes, ...counts } = listedOrders ?? {};
  assert.deepEqual(counts, { name: 'orders', partitionCount: 3, messages: 106 });
  // A data directory knows the topic's size on disk; through a broker it is unknown (null).
  if (kind === 'data') assert.ok(typeof sizeBytes === 'number' && sizeBytes > 0, `sizeBytes ${sizeBytes}`);
  else assert.equal(sizeBytes, null);
  const described = JSON.parse((await ok(['topics', 'describe', 'orders', '-J'])).stdout) as {
    partitions: { partition: number; highWatermark: number; sizeBytes: number | null }[];
    retention: Json;
  };
  assert.equal(described.partitions.length, 3);
  assert.equal(
    described.partitions.reduce((sum, partition) => sum + partition.highWatermark, 0),
    106,
  );
  if (kind === 'data')
    assert.ok(
      described.partitions.every((partition) => (partition.sizeBytes ?? 0) > 0),
      'sizes on disk',
    );
  assert.equal(typeof described.retention.note, 'string');
  const missing = await run(['topics', 'describe', 'nope']);
  assert.equal(missing.code, 3);
  assert.match(missing.stderr, /"nope" does not exist/);

  // consume everything: raw values by default, kcat's -J envelope, CloudEvents JSON with --json
  const raw = (await ok(['consume', '-t', 'orders', '-e', '-q'])).stdout;
  assert.equal(raw.split('\n').length - 1, 106, 'one value and a newline per message');
  const all = jsonLines((await ok(['consume', '-t', 'orders', '-e', '-J'])).stdout) as Json[];
  assert.equal(all.length, 106);
  const k1 = all.filter((record) => record.key === 'k1');
  assert.deepEqual(
    k1.map((record) => record.payload),
    ['a', 'b', 'c', 'd', 'e'],
    'one key: one partition, in order',
  );
  assert.deepEqual(k1[0]!.headers, ['src', 'test', 'n', '1']);
  const events = jsonLines((await ok(['consume', '-t', 'orders', '-e', '--json'])).stdout) as Json[];
  const event = events.find((record) => record.specversion === '1.0');
  assert.equal(event?.type, 'OrderCreated');
  assert.equal(event?.partitionkey, 'o-1', 'extensions are top-level attributes');
  assert.deepEqual(event?.data, { orderId: 'o-1' });
  const k1Partition = k1[0]!.partition as number;

  // kcat format tokens, one partition, a count
  const formatted = await ok([
    'consume',
    '-t',
    'orders',
    '-p',
    String(k1Partition),
    '-c',
    '2',
    '-q',
    '-f',
    '%t|%p|%o|%k|%s|%h|%T\\n',
  ]);
  const rows = formatted.stdout.trimEnd().split('\n');
  assert.equal(rows.length, 2);
  const [topic, partition, offset, key, value, headers, timestamp] = rows[0]!.split('|');
  assert.deepEqual(
    [topic, partition, key, value, headers],
    ['orders', String(k1Partition), 'k1', 'a', 'src=test,n=1'],
  );
  assert.match(offset!, /^\d+$/);
  assert.ok(Math.abs(Number(timestamp) - Date.now()) < 600_000, 'timestamp in ms');
  assert.equal(formatted.stderr, '', '-q: no summary');

  // -o -1 (one before the end of each partition), -o @time, -o N
  const lastOnes = jsonLines((await ok(['consume', '-t', 'orders', '-o', '-1', '-e', '-J'])).stdout);
  assert.equal(lastOnes.length, described.partitions.filter((entry) => entry.highWatermark !== 0).length);
  const newest = Math.max(...all.map((record) => record.ts as number));
  assert.equal(
    jsonLines((await ok(['consume', '-t', 'orders', '-o', `@${newest + 1}`, '-e', '-J'])).stdout).length,
    0,
  );
  assert.equal(
    jsonLines((await ok(['consume', '-t', 'orders', '-o', '@1970-01-01T00:00:00Z', '-e', '-J'])).stdout)
      .length,
    106,
  );
  assert.equal(
    jsonLines(
      (await ok(['consume', '-t', 'orders', '-p', String(k1Partition), '-o', '3', '-e', '-J'])).stdout,
    ).length,
    Number(described.partitions[k1Partition]!.highWatermark) - 3,
  );

  // groups: consume 10 and commit, describe the lag, resume, reset
  assert.equal(
    jsonLines((await ok(['consume', '-t', 'orders', '-g', 'audit', '-c', '10', '-J'])).stdout).length,
    10,
  );
  const lagOf = async (group: string) => {
    const [position] = JSON.parse(
      (await ok(['groups', 'describe', '-g', group, '-t', 'orders', '-J'])).stdout,
    ) as Json[];
    return position as {
      lag: number;
      timeLagMs: number;
      kind: string;
      partitions: { lag: number; committed: number | null }[];
    };
  };
  const afterTen = await lagOf('audit');
  assert.equal(afterTen.kind, 'kafka');
  assert.equal(afterTen.lag, 96, 'lag is a JSON number');
  assert.equal(
    afterTen.partitions.reduce((sum, entry) => sum + entry.lag, 0),
    96,
    'lag per partition adds up',
  );
  assert.ok(afterTen.timeLagMs >= 0);
  assert.equal(
    jsonLines((await ok(['consume', '-t', 'orders', '-g', 'audit', '-e', '-J'])).stdout).length,
    96,
    'resumes at the commit',
  );
  assert.equal((await lagOf('audit')).lag, 0);
  // Both targets list the group; through herald serve (ListGroups, DescribeGroups) it is a
  // Kafka group whose consumer has left: 0 live members.
  const audit = (JSON.parse((await ok(['groups', 'list', '-J'])).stdout) as Json[]).find(
    (group) => group.group === 'audit',
  );
  assert.ok(audit !== undefined, 'groups list shows audit');
  assert.deepEqual(audit.topics, ['orders']);
  if (kind === 'broker') {
    assert.equal(audit.kind, 'kafka');
    assert.equal(audit.members, 0);
    const [described] = JSON.parse((await ok(['groups', 'describe', '-g', 'audit', '-J'])).stdout) as Json[];
    assert.equal(described!.members, 0);
  }
  const dryRun = JSON.parse(
    (await ok(['groups', 'reset', '-g', 'audit', '-t', 'orders', '--to', 'earliest', '--dry-run', '-J']))
      .stdout,
  ) as Json[];
  assert.equal(dryRun[0]!.dryRun, true);
  assert.equal((await lagOf('audit')).lag, 0, 'a dry run moves nothing');
  await ok(['groups', 'reset', '-g', 'audit', '-t', 'orders', '--to', 'earliest']);
  assert.equal((await lagOf('audit')).lag, 106);
  await ok(['groups', 'reset', '-g', 'audit', '-t', 'orders', '--to', 'time:2999-01-01T00:00:00Z']);
  assert.equal((await lagOf('audit')).lag, 0, 'a time after every record is the end');
  await ok(['groups', 'reset', '-g', 'audit', '-t', 'orders', '--to', 'offset:1']);
  assert.equal(
    (await lagOf('audit')).lag,
    106 - described.partitions.filter((entry) => entry.highWatermark !== 0).length,
  );
  const noGroup = await run(['groups', 'describe', '-g', 'nobody', '-t', 'orders']);
  assert.equal(noGroup.code, 3);

  // tail -n 1 -e: the last message of every partition
  assert.equal(
    jsonLines((await ok(['tail', '-t', 'orders', '-n', '1', '-e', '-J'])).stdout).length,
    lastOnes.length,
  );

  // replay a window into another topic
  const replayed = JSON.parse(
    (await ok(['replay', '-t', 'orders', '--to', 'orders-copy', '--from', '0', '--until', '2', '-J'])).stdout,
  ) as Json;
  const windowSize = described.partitions.reduce(
    (sum, entry) => sum + Math.min(2, Number(entry.highWatermark)),
    0,
  );
  assert.equal(replayed.replayed, windowSize);
  const copies = jsonLines((await ok(['consume', '-t', 'orders-copy', '-e', '-J'])).stdout) as Json[];
  assert.equal(copies.length, windowSize);
  assert.ok(
    copies.some((record) => record.key === 'k1' && headersOf(record).src === 'test'),
    'keys and headers kept',
  );

  // delete, and the exit codes of what is missing and of bad usage
  await ok(['topics', 'delete', 'orders-copy']);
  assert.equal((await run(['topics', 'delete', 'orders-copy'])).code, 3);
  await ok(['topics', 'delete', 'orders-copy', '--if-exists']);
  assert.equal((await run(['consume', '-t', 'nope', '-e'])).code, 3);
  assert.equal((await run(['consume', '-e'])).code, 2);
  assert.equal((await run(['consume', '-t', 'orders', '-o', 'sideways'])).code, 2);
  assert.equal((await run(['groups', 'reset', '-g', 'audit', '-t', 'orders'])).code, 2);
  assert.equal((await run(['topics', 'frobnicate'])).code, 2);
}

/** Runs the dead-letter fixture (a bus that fails messages) on `dir`. */
export async function writeDeadLetters(dir: string): Promise<void> {
  const fixture = new URL('./fixtures/dead-letters.ts', import.meta.url).pathname;
  const code = await new Promise<number | null>((resolve, reject) => {
    const child = spawn(process.execPath, [fixture, dir], { stdio: 'ignore' });
    child.on('error', reject);
    child.on('exit', resolve);
  });
  assert.equal(code, 0, 'the dead-letter fixture');
}

/** dlq list, filters, show, redrive (dry run, then for real) against a target holding the fixture's dead letters. */
export async function deadLetters(targetArgs: readonly string[]): Promise<void> {
  const run = (args: string[]) => herald([...args, ...targetArgs]);
  const ok = (args: string[]) => heraldOk([...args, ...targetArgs]);
  const list = async (args: string[] = []) =>
    JSON.parse((await ok(['dlq', 'list', '-t', 'orders', '-J', ...args])).stdout) as Json[];
  const all = await list();
  assert.equal(all.length, 3);
  assert.deepEqual(all.map((entry) => entry.reason).sort(), [
    'undecodable',
    'unrecoverable',
    'unrecoverable',
  ]);
  assert.equal((await list(['--reason', 'undecodable'])).length, 1);
  assert.equal((await list(['-g', 'billing', '--limit', '2'])).length, 2);
  assert.equal((await list(['-g', 'shipping'])).length, 0);
  const first = all.find((entry) => entry.reason === 'unrecoverable')!;
  assert.equal(first.type, 'OrderCreated');
  const shown = JSON.parse(
    (await ok(['dlq', 'show', '-t', 'orders', '--id', first.id as string, '-J'])).stdout,
  ) as Json;
  assert.match(shown.errorStack as string, /card declined/);
  assert.equal((shown.cloudEvent as Json).type, 'OrderCreated');
  assert.equal((shown.cloudEvent as Json).extensions, undefined, 'the CloudEvents JSON format, flat');
  assert.equal(typeof (shown.deadLetter as Json).offset, 'number', 'offsets are JSON numbers');
  assert.equal((await run(['dlq', 'show', '-t', 'orders', '--id', 'no-such-id'])).code, 3);
  assert.equal((await run(['dlq', 'show', '-t', 'orders'])).code, 2, 'show needs --id');
  assert.equal(
    (
      JSON.parse(
        (await ok(['dlq', 'redrive', '-t', 'orders', '--reason', 'unrecoverable', '--dry-run', '-J'])).stdout,
      ) as Json[]
    ).length,
    2,
  );
  assert.equal((await list()).length, 3, 'a dry run redrives nothing');
  const redriven = JSON.parse(
    (await ok(['dlq', 'redrive', '-t', 'orders', '--reason', 'unrecoverable', '-J'])).stdout,
  ) as Json;
  assert.equal(redriven.redriven, 2);
  assert.deepEqual(
    (await list()).map((entry) => entry.reason),
    ['undecodable'],
    'redriven letters leave the list',
  );
  const originals = jsonLines((await ok(['consume', '-t', 'orders', '-e', '-J'])).stdout) as Json[];
  const redelivered = originals.filter((record) => headersOf(record).herald_target_group === 'billing');
  assert.equal(redelivered.length, 2, 'originals republished for the failed group');
  assert.ok(redelivered.every((record) => headersOf(record).ce_type === 'OrderCreated'));
}
