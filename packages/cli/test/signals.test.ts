/**
 * Conflicts and interruptions through the real binary: a data directory held by herald serve,
 * an unreachable broker, Ctrl-C on a group consumer (stops, commits, exit 0) on both targets,
 * Ctrl-C during produce (exit 130, what was read is published), and a reset refused while a
 * Kafka consumer is a live member of the group.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { eventually, temporaryDirectory, withDeadline } from '@herald/test-support';
import { Consumer, MessagesStreamFallbackModes, MessagesStreamModes } from '@platformatic/kafka';
import { herald, heraldOk, start, startServe } from './support.ts';

test('cli signals - a data directory held by herald serve names the pid and suggests --broker (exit 4)', {
  timeout: 180_000,
}, async () => {
  const serve = await startServe();
  try {
    const locked = await herald(['topics', 'list', '--data', serve.dir]);
    assert.equal(locked.code, 4);
    assert.match(locked.stderr, new RegExp(`locked by pid ${serve.pid}`));
    assert.match(locked.stderr, /--broker/);
    await heraldOk(['topics', 'list', '--broker', serve.broker]);
    const viaEnvironment = await herald(['topics', 'list'], { env: { HERALD_BROKER: serve.broker } });
    assert.equal(viaEnvironment.code, 0, 'HERALD_BROKER picks the broker');
  } finally {
    await serve.stop();
  }
  const unreachable = await herald(['topics', 'list', '--broker', '127.0.0.1:1']);
  assert.equal(unreachable.code, 5);
  assert.match(unreachable.stderr, /cannot reach broker 127\.0\.0\.1:1/);
  assert.equal((await herald(['topics', 'list', '--data', temporaryDirectory(), '--broker', 'x:1'])).code, 2);
});

async function ctrlCCommits(targetArgs: string[]): Promise<void> {
  await heraldOk(['produce', '-t', 'events', ...targetArgs], { input: 'one\ntwo\nthree\n' });
  // Only this consumer may hold a data directory, so the second batch comes after it stops.
  const follower = start(['consume', '-t', 'events', '-g', 'followers', '-f', '%s\\n', ...targetArgs]);
  await eventually(
    () => follower.stdout().split('\n').length > 3,
    () => `three messages printed, got ${JSON.stringify(follower.stdout())} ${follower.stderr()}`,
  );
  follower.child.kill('SIGINT');
  assert.equal(await follower.exited(), 0, `exit code after Ctrl-C:\n${follower.stderr()}`);
  assert.deepEqual(follower.stdout().trimEnd().split('\n').sort(), ['one', 'three', 'two']);
  assert.match(
    follower.stderr(),
    /consumed 3 messages from events; group followers committed \(interrupted\)/,
  );
  const [position] = JSON.parse(
    (await heraldOk(['groups', 'describe', '-g', 'followers', '-t', 'events', '-J', ...targetArgs])).stdout,
  );
  assert.equal(position.lag, 0, 'the position was committed on Ctrl-C');
}

test('cli signals - Ctrl-C stops a group consumer cleanly and commits (data dir)', {
  timeout: 180_000,
}, async () => {
  await ctrlCCommits(['--data', temporaryDirectory()]);
});

test('cli signals - Ctrl-C stops a group consumer cleanly and commits (herald serve); Ctrl-C during produce exits 130', {
  timeout: 180_000,
}, async () => {
  const serve = await startServe();
  try {
    await ctrlCCommits(['--broker', serve.broker]);
    const producer = start(['produce', '-t', 'partial', '--json', '--broker', serve.broker], {
      input: 'x\ny\n',
    });
    // stdin stays open; the lines are published once input pauses.
    await eventually(
      async () =>
        (await herald(['consume', '-t', 'partial', '-e', '-q', '--broker', serve.broker])).stdout.split('\n')
          .length > 2,
      () => `the producer to publish x and y: ${producer.stderr()}`,
    );
    producer.child.kill('SIGINT');
    assert.equal(await producer.exited(), 130, producer.stderr());
    assert.deepEqual(JSON.parse(producer.stdout()), { topic: 'partial', produced: 2, interrupted: true });
  } finally {
    await serve.stop();
  }
});

test('cli signals - groups reset and consume -g are refused while a Kafka consumer is a live member (exit 4)', {
  timeout: 180_000,
}, async () => {
  const serve = await startServe();
  const consumer = new Consumer({
    groupId: 'live',
    clientId: 'live-member',
    bootstrapBrokers: [serve.broker],
  });
  try {
    await heraldOk(['produce', '-t', 'busy', '--broker', serve.broker], { input: 'a\nb\n' });
    const stream = await consumer.consume({
      topics: ['busy'],
      mode: MessagesStreamModes.COMMITTED,
      fallbackMode: MessagesStreamFallbackModes.EARLIEST,
      autocommit: false,
      sessionTimeout: 10_000,
      heartbeatInterval: 500,
    });
    await withDeadline(
      (async () => {
        for await (const message of stream) {
          await message.commit();
          break;
        }
      })(),
      20_000,
      'the live member to read',
    );
    const refused = await herald([
      'groups',
      'reset',
      '-g',
      'live',
      '-t',
      'busy',
      '--to',
      'earliest',
      '--broker',
      serve.broker,
    ]);
    assert.equal(refused.code, 4, refused.stderr);
    // herald serve answers DescribeGroups, so the CLI sees the member before trying the commit.
    assert.match(refused.stderr, /group "live" has 1 live member\(s\) on busy.*stop them first/);
    const consumeRefused = await herald([
      'consume',
      '-t',
      'busy',
      '-g',
      'live',
      '-e',
      '--broker',
      serve.broker,
    ]);
    assert.equal(consumeRefused.code, 4, consumeRefused.stderr);
    await stream.close();
  } finally {
    await consumer.close(true);
    await serve.stop();
  }
});
