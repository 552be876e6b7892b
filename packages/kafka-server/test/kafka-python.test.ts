/**
 * kafka-python 2.0.2 (Debian python3-kafka) against `herald serve`: it probes with ApiVersions v0 +
 * Metadata v0 pipelined, then uses fixed old versions (Produce 7, Fetch 4, JoinGroup 2, ...).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { eventually, requireTool, runTool, spawnChild } from '@herald/test-support';
import { type Serve, startServe } from './support.ts';

const PYTHON = '/usr/bin/python3';
const CLIENT = fileURLToPath(new URL('./fixtures/kafka_python_client.py', import.meta.url));

async function python(args: readonly string[]): Promise<Record<string, unknown>> {
  const result = await runTool(PYTHON, [CLIENT, ...args], { timeoutMs: 90_000 });
  assert.equal(result.code, 0, `kafka-python ${args.join(' ')} failed:\n${result.stderr}`);
  const last = result.stdout.trim().split('\n').at(-1)!;
  return JSON.parse(last) as Record<string, unknown>;
}

describe('kafka-python', { timeout: 600_000 }, () => {
  let serve: Serve;
  before(async () => {
    requireTool(PYTHON, ['-c', 'import kafka'], "kafka-python (Debian's python3-kafka)");
    serve = await startServe({ partitions: 4 });
  });
  after(async () => {
    await serve?.stop();
  });

  test("kafka-python - producer with acks='all' and gzip, and with acks=0", async () => {
    const acked = await python(['produce', serve.bootstrap, 'kp-produce', '100', 'all', 'gzip']);
    assert.equal((acked.offsets as unknown[]).length, 100);
    await python(['produce', serve.bootstrap, 'kp-produce', '50', '0', 'none']);
    const read = await python(['consume', serve.bootstrap, 'kp-produce', '-', '150', 'no-commit']);
    const values = read.values as string[];
    assert.equal(values.length, 150);
    assert.equal(new Set(values).size, 100, 'the acks=0 run sent the same 50 values again');
  });

  test('kafka-python - a group consumer commits and a new consumer resumes after it', async () => {
    await python(['produce', serve.bootstrap, 'kp-resume', '40', 'all', 'none']);
    const first = await python(['consume', serve.bootstrap, 'kp-resume', 'kp-group', '40', 'commit']);
    assert.equal((first.values as string[]).length, 40);
    await python(['produce', serve.bootstrap, 'kp-resume', '5', 'all', 'none']);
    const second = await python(['consume', serve.bootstrap, 'kp-resume', 'kp-group', '5', 'commit']);
    assert.deepEqual((second.values as string[]).sort(), ['m-0', 'm-1', 'm-2', 'm-3', 'm-4']);
  });

  test('kafka-python - two members share 4 partitions; the survivor owns all 4 after a kill', async () => {
    await python(['produce', serve.bootstrap, 'kp-shared', '8', 'all', 'none']);
    const members = [0, 1].map(() => {
      const child = spawnChild(PYTHON, [CLIENT, 'member', serve.bootstrap, 'kp-shared', 'kp-shared-group']);
      const state = {
        child,
        assigned: [] as number[],
        get log() {
          return child.output();
        },
      };
      child.onLine((line) => {
        if (line !== '') state.assigned = (JSON.parse(line) as { assigned: number[] }).assigned;
      });
      return state;
    });
    try {
      const [a, b] = members as [(typeof members)[0], (typeof members)[0]];
      await eventually(
        () => a.assigned.length === 2 && b.assigned.length === 2,
        () => `two partitions each (a ${a.assigned}, b ${b.assigned})\n${a.log}\n${b.log}`,
        40_000,
      );
      assert.deepEqual([...a.assigned, ...b.assigned].sort(), [0, 1, 2, 3]);
      const killedAt = performance.now();
      await b.child.kill();
      await eventually(
        () => a.assigned.length === 4,
        () => `the survivor owning all 4 (a ${a.assigned})\n${a.log}`,
        30_000,
      );
      // Session timeout 6 s, plus the rebalance and the member's next poll.
      assert.ok(performance.now() - killedAt < 6_000 + 8_000, 'rebalanced within the session timeout');
    } finally {
      await Promise.all(members.map((member) => member.child.kill()));
    }
  });

  test('kafka-python - KafkaAdminClient lists and describes consumer groups', async () => {
    await python(['produce', serve.bootstrap, 'kp-groups', '8', 'all', 'none']);
    await python(['consume', serve.bootstrap, 'kp-groups', 'kp-groups-done', '8', 'commit']);
    const live = spawnChild(PYTHON, [CLIENT, 'member', serve.bootstrap, 'kp-groups', 'kp-groups-live']);
    let assigned: number[] = [];
    live.onLine((line) => {
      if (line !== '') assigned = (JSON.parse(line) as { assigned: number[] }).assigned;
    });
    try {
      await eventually(
        () => assigned.length === 4,
        () => `the live member to own 4 partitions (has ${assigned.length})`,
        30_000,
      );
      const result = (await python([
        'groups',
        serve.bootstrap,
        'kp-groups-live',
        'kp-groups-done',
        'nobody',
      ])) as {
        listed: [string, string][];
        described: {
          group: string;
          error_code: number;
          state: string;
          protocol_type: string;
          protocol: string;
          members: { client_id: string; client_host: string; subscription: string[]; assignment: unknown }[];
        }[];
      };
      assert.deepEqual(
        result.listed.filter(([group]) => group.startsWith('kp-groups')),
        [
          ['kp-groups-done', 'consumer'],
          ['kp-groups-live', 'consumer'],
        ],
      );
      const [liveGroup, doneGroup, nobody] = result.described;
      assert.equal(liveGroup!.state, 'Stable');
      assert.equal(liveGroup!.protocol_type, 'consumer');
      assert.equal(liveGroup!.protocol, 'range');
      assert.equal(liveGroup!.members.length, 1);
      assert.equal(liveGroup!.members[0]!.client_id, 'kafka-python-2.0.2');
      assert.equal(liveGroup!.members[0]!.client_host, '/127.0.0.1');
      assert.deepEqual(liveGroup!.members[0]!.subscription, ['kp-groups']);
      assert.deepEqual(liveGroup!.members[0]!.assignment, [['kp-groups', [0, 1, 2, 3]]]);
      assert.deepEqual(
        [
          doneGroup!.group,
          doneGroup!.error_code,
          doneGroup!.state,
          doneGroup!.protocol_type,
          doneGroup!.members,
        ],
        ['kp-groups-done', 0, 'Empty', 'consumer', []],
      );
      assert.deepEqual(
        [nobody!.group, nobody!.error_code, nobody!.state, nobody!.protocol_type],
        ['nobody', 0, 'Dead', ''],
      );
    } finally {
      await live.kill();
    }
  });

  test('kafka-python - KafkaAdminClient creates, lists and deletes topics', async () => {
    const created = await python(['admin', serve.bootstrap, 'create', 'kp-admin-a', 'kp-admin-b']);
    assert.ok((created.topics as string[]).includes('kp-admin-a'));
    assert.ok((created.topics as string[]).includes('kp-admin-b'));
    const deleted = await python(['admin', serve.bootstrap, 'delete', 'kp-admin-a']);
    assert.ok(!(deleted.topics as string[]).includes('kp-admin-a'));
    assert.ok((deleted.topics as string[]).includes('kp-admin-b'));
  });
});
