/**
 * `herald` as a kcat user expects it, checked against real kcat (Debian's `kcat`) on one
 * `herald serve`: the same flags print the same bytes (default output, -K, -D, -Z, -f, -J), -o s@
 * and e@ pick the same messages, and produce reads files as kcat -P does. Where Herald differs on
 * purpose (packages/cli/README.md, "Differences from kcat"), the Herald behaviour is asserted.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { HERALD_BIN, runTool, temporaryDirectory } from '@herald/test-support';
import { herald, heraldOk, jsonLines, type Serve, startServe } from './support.ts';

const kcatAvailable = spawnSync('kcat', ['-V']).status === 0;
const skip = !kcatAvailable && 'kcat is not installed (apt-get install kcat)';

let serve: Serve;
let topicCount = 0;

before(async () => {
  if (kcatAvailable) serve = await startServe();
});

after(async () => {
  if (kcatAvailable) await serve.stop();
});

/** Runs kcat against the server; asserts exit 0 and resolves stdout. */
async function kcat(args: readonly string[], input?: string | Buffer): Promise<string> {
  const result = await runTool('kcat', ['-b', serve.broker, ...args], {
    input: input ?? '',
    timeoutMs: 30_000,
  });
  assert.equal(result.code, 0, `kcat ${args.join(' ')} exited ${result.code}:\n${result.stderr}`);
  return result.stdout;
}

/** `herald ...args --broker` on the server; asserts exit 0 and resolves stdout. */
async function heraldOn(args: readonly string[], input?: string): Promise<string> {
  return (await heraldOk([...args, '--broker', serve.broker], input === undefined ? {} : { input })).stdout;
}

/** A new one-partition topic, so both tools see one order of messages. */
async function singlePartitionTopic(): Promise<string> {
  const topic = `kcat-${process.pid}-${topicCount++}`;
  await heraldOn(['topics', 'create', topic, '-p', '1']);
  return topic;
}

test('cli kcat - consume prints what kcat -C prints: values, -K, -D, -Z, -f and -J', { skip }, async () => {
  const topic = await singlePartitionTopic();
  await kcat(['-P', '-t', topic, '-K', ':', '-H', 'source=kcat', '-H', 'n=1'], 'k1:one\nk2:two\n');
  await kcat(['-P', '-t', topic], 'no-key\n{"json":true}\n');
  const same = async (flags: string[]) => {
    const expected = await kcat(['-C', '-t', topic, '-e', '-q', ...flags]);
    assert.equal(await heraldOn(['consume', '-t', topic, '-e', '-q', ...flags]), expected, flags.join(' '));
    return expected;
  };
  assert.equal(await same([]), 'one\ntwo\nno-key\n{"json":true}\n', 'the value and a newline, no JSON');
  await same(['-K', '|']);
  await same(['-K', '|', '-Z']);
  await same(['-D', '\\n--\\n']);
  await same(['-f', '%t %p %o %k %K %s %S [%h] %T\\n']);
  await same(['-f', 'key=%k\\tvalue=%s\\x21\\n']);
  const envelopes = jsonLines(await same(['-J'])) as Record<string, unknown>[];
  assert.deepEqual(Object.keys(envelopes[0]!), [
    'topic',
    'partition',
    'offset',
    'tstype',
    'ts',
    'broker',
    'headers',
    'key',
    'payload',
  ]);
  assert.equal(typeof envelopes[0]!.offset, 'number', 'offsets are JSON numbers');
  assert.deepEqual(envelopes[0]!.headers, ['source', 'kcat', 'n', '1']);
  assert.equal(envelopes[2]!.key, null);

  // tail on a pipe prints what consume prints.
  assert.equal(await heraldOn(['tail', '-t', topic, '-n', '1', '-e', '-q']), '{"json":true}\n');
});

test('cli kcat - keys and values that are not UTF-8 reach a pipe as the bytes kcat writes', {
  skip,
}, async () => {
  const topic = await singlePartitionTopic();
  // Key ff fe, value c3 28 (an invalid UTF-8 sequence), then a plain record.
  await kcat(
    ['-P', '-t', topic, '-K', ':'],
    Buffer.from([0xff, 0xfe, 0x3a, 0xc3, 0x28, 0x0a, ...Buffer.from('k:plain\n')]),
  );
  // Through bash and od, so no JavaScript string decoding sits between the tools and the comparison.
  const bytesOf = async (command: string) => {
    const result = await runTool('bash', ['-c', `set -o pipefail; ${command} | od -An -tx1`], {
      timeoutMs: 30_000,
    });
    assert.equal(result.code, 0, `${command}:\n${result.stderr}`);
    return result.stdout;
  };
  const heraldCommand = `'${process.execPath}' '${HERALD_BIN}' consume --broker ${serve.broker} -t ${topic} -e -q`;
  const kcatCommand = `kcat -C -b ${serve.broker} -t ${topic} -e -q`;
  for (const flags of ["-K '|'", "-f '%k=%s %S\\n'"]) {
    assert.equal(await bytesOf(`${heraldCommand} ${flags}`), await bytesOf(`${kcatCommand} ${flags}`), flags);
  }
  assert.match(await bytesOf(`${heraldCommand} -K '|'`), /^ ff fe 7c c3 28 0a/);
});

test('cli kcat - -o s@MS and -o e@MS pick the messages kcat picks; e@ exits once reached', {
  skip,
}, async () => {
  const topic = await singlePartitionTopic();
  for (const value of ['m1', 'm2', 'm3', 'm4']) {
    await kcat(['-P', '-t', topic], `${value}\n`);
    await new Promise((resolve) => setTimeout(resolve, 5)); // distinct millisecond timestamps
  }
  const stamps = (await kcat(['-C', '-t', topic, '-e', '-q', '-f', '%T\\n'])).trimEnd().split('\n');
  assert.equal(new Set(stamps).size, 4, `distinct timestamps: ${stamps.join(',')}`);
  const [, second, third] = stamps;
  const same = async (flags: string[], expected: string) => {
    assert.equal(await kcat(['-C', '-t', topic, '-q', ...flags]), expected, `kcat ${flags.join(' ')}`);
    assert.equal(await heraldOn(['consume', '-t', topic, '-q', ...flags]), expected, flags.join(' '));
  };
  await same(['-e', '-o', `s@${second}`], 'm2\nm3\nm4\n');
  // e@ alone, without -e: both stop before the first message at the end time and exit.
  await same(['-o', `e@${third}`], 'm1\nm2\n');
  await same(['-o', `s@${second}`, '-o', `e@${third}`], 'm2\n');
  // Herald also exits where kcat would wait: a partition with nothing at or after e@ (here every
  // message is older) is done once the end time has passed.
  assert.equal(await heraldOn(['consume', '-t', topic, '-q', '-o', `e@${Date.now()}`]), 'm1\nm2\nm3\nm4\n');
  const bad = await herald(['consume', '-t', topic, '-o', 'e@soon', '--broker', serve.broker]);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /-o e@: "soon" is not a time/);
});

test('cli kcat - produce reads files as kcat -P does: whole files, or -l line by line', {
  skip,
}, async () => {
  const dir = temporaryDirectory();
  const first = path.join(dir, 'first.txt');
  const second = path.join(dir, 'second.txt');
  const lines = path.join(dir, 'lines.txt');
  writeFileSync(first, 'x\ny\n');
  writeFileSync(second, 'zz');
  writeFileSync(lines, 'l1\nl2\n\nl3');
  const sizes = ['-C', '-e', '-q', '-f', '%S:%s|'];
  const byKcat = await singlePartitionTopic();
  const byHerald = await singlePartitionTopic();
  await kcat(['-P', '-t', byKcat, first, second]);
  await heraldOn(['produce', '-t', byHerald, first, second]);
  assert.equal(await kcat([...sizes, '-t', byHerald]), await kcat([...sizes, '-t', byKcat]));
  assert.equal(await kcat([...sizes, '-t', byHerald]), '4:x\ny\n|2:zz|', 'one message per file');
  await kcat(['-P', '-t', byKcat, '-l', lines]);
  await heraldOn(['produce', '-t', byHerald, '-l', lines]);
  assert.equal(await kcat([...sizes, '-t', byHerald]), await kcat([...sizes, '-t', byKcat]));
  assert.match(await kcat([...sizes, '-t', byHerald]), /\|2:l1\|2:l2\|2:l3\|$/, 'one message per line');

  // -f is consume's output format, as in kcat; produce says what to use instead.
  const refused = await herald(['produce', '-t', byHerald, '-f', lines, '--broker', serve.broker]);
  assert.equal(refused.code, 2);
  assert.match(refused.stderr, /-f is the output format of herald consume.*-l FILE/);
  assert.equal((await herald(['produce', '-t', byHerald, '-l', '--broker', serve.broker])).code, 2);
  const missing = await herald(['produce', '-t', byHerald, path.join(dir, 'nope'), '--broker', serve.broker]);
  assert.equal(missing.code, 3);
  // kcat -P prints nothing on stdout; Herald's summary goes to stderr (JSON on stdout with --json).
  const quiet = await heraldOk(['produce', '-t', byHerald, '--broker', serve.broker], { input: 'a\n' });
  assert.equal(quiet.stdout, '');
  assert.match(quiet.stderr, /produced 1 message to /);
});

test('cli kcat - -X takes the client properties Herald supports and refuses the others', {
  skip,
}, async () => {
  const topic = await singlePartitionTopic();
  await kcat(['-P', '-t', topic], 'a\nb\n');
  assert.equal(
    await heraldOn([
      'consume',
      '-t',
      topic,
      '-e',
      '-q',
      '-X',
      'fetch.wait.max.ms=100',
      '-X',
      'client.id=audit-tool',
      '-X',
      'socket.timeout.ms=5000',
      '-X',
      'max.partition.fetch.bytes=65536',
      '-X',
      'security.protocol=PLAINTEXT',
    ]),
    'a\nb\n',
  );
  const unknown = await herald([
    'consume',
    '-t',
    topic,
    '-X',
    'enable.auto.commit=false',
    '--broker',
    serve.broker,
  ]);
  assert.equal(unknown.code, 2);
  assert.match(
    unknown.stderr,
    /-X enable\.auto\.commit: not a property Herald supports; use one of fetch\.wait\.max\.ms, client\.id/,
  );
  const badValue = await herald(['topics', 'list', '-X', 'fetch.wait.max.ms=soon', '--broker', serve.broker]);
  assert.equal(badValue.code, 2);
  assert.match(badValue.stderr, /fetch\.wait\.max\.ms: must be a whole number/);
  assert.equal(
    (await herald(['topics', 'list', '-X', 'security.protocol=carrier_pigeon', '--broker', serve.broker]))
      .code,
    2,
  );
  const listed = await heraldOk(['consume', '-X', 'list']);
  assert.match(listed.stdout, /^fetch\.wait\.max\.ms\s+how long a fetch waits/m);
});

test('cli kcat - --json prints Herald messages in the CloudEvents JSON format; other records as -J', {
  skip,
}, async () => {
  const topic = await singlePartitionTopic();
  await heraldOn(
    ['produce', '-t', topic, '-k', 'o-1', '--cloudevent', 'OrderCreated', '--source', '/shop'],
    '{"orderId":"o-1"}\n',
  );
  await kcat(['-P', '-t', topic], 'plain\n');
  const [event, plain] = jsonLines(await heraldOn(['consume', '-t', topic, '-e', '-q', '--json'])) as Record<
    string,
    unknown
  >[];
  assert.deepEqual(Object.keys(event!), [
    'specversion',
    'id',
    'source',
    'type',
    'time',
    'datacontenttype',
    'dataversion',
    'partitionkey',
    'data',
  ]);
  assert.equal(event!.specversion, '1.0');
  assert.equal(event!.source, '/shop');
  assert.equal(event!.partitionkey, 'o-1', 'extensions are top-level attributes, not nested');
  assert.equal(event!.dataversion, 1);
  assert.deepEqual(event!.data, { orderId: 'o-1' });
  assert.equal(plain!.payload, 'plain');
  assert.equal(plain!.offset, 1);
  const both = await herald(['consume', '-t', topic, '-e', '-J', '--json', '--broker', serve.broker]);
  assert.equal(both.code, 2, 'one output layout at a time');
});

test('cli kcat - JSON only with -J or --json: admin commands print their table on a pipe', {
  skip,
}, async () => {
  const topic = await singlePartitionTopic();
  assert.match(await heraldOn(['topics', 'describe', topic]), /^Topic: /);
  const described = JSON.parse(await heraldOn(['topics', 'describe', topic, '-J'])) as {
    partitions: { highWatermark: unknown }[];
  };
  assert.equal(described.partitions[0]!.highWatermark, 0, 'offsets are JSON numbers');
});

test('cli kcat - --version and -V print the package version', async () => {
  const manifest = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
    version: string;
  };
  for (const args of [['--version'], ['-V'], ['consume', '-V']]) {
    const result = await heraldOk(args);
    assert.equal(result.stdout, `herald ${manifest.version}\n`, args.join(' '));
  }
});
