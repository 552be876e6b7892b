/**
 * `herald-aws`: Herald-on-AWS (`awsTransport`: SNS FIFO topic → one SQS FIFO queue per group)
 * against **moto**, the emulator `scripts/setup.sh` starts. No AWS account is reachable here, so
 * the row measures an in-memory emulator written in Python (tens of messages a second), not AWS:
 * it is marked as an emulator, left out of the headline and the goals, and has no raw peer row
 * (`npm run bench -- aws` compares it with the raw SDK on the same emulator).
 */
import { awsTransport } from '@herald/transport-aws';
import { PEER_PORTS } from '../../_servers.ts';
import type { ScenarioId } from '../scenarios.ts';
import type { SystemEntry } from '../system.ts';
import { transportTopic } from './transport-topic.ts';

const ENDPOINT = process.env.HERALD_AWS_ENDPOINT ?? `http://127.0.0.1:${PEER_PORTS.aws}`;
/**
 * Long poll of an idle member: a subscription's close waits for its poll, so 1 s (not the 5 s
 * default) keeps each scenario's tear-down short.
 */
const WAIT_TIME_MS = 1000;
/**
 * The open-loop rates of 10k and 50k events/s are left out: the emulator serves tens of messages a
 * second, so those rows would only queue thousands of HTTP requests (minutes each) to say "NO".
 */
const SCENARIOS: readonly ScenarioId[] = [
  'produce',
  'end-to-end',
  'ack-1',
  'ack-64',
  'rate-1000',
  'fan-out',
  'partitions',
];

/** The Herald-on-AWS row, on the emulator. */
export const heraldAws: SystemEntry = {
  id: 'herald-aws',
  label: 'Herald-on-AWS (moto emulator)',
  open: async (context) => {
    await context.peer('aws');
    context.note(
      `Herald-on-AWS runs against moto (${ENDPOINT}), an in-memory AWS emulator, not AWS: its figures measure the emulator, ` +
        'so the row is left out of the headline and the goals, and runs neither 10k nor 50k events/s.',
    );
    return {
      id: 'herald-aws',
      label: 'Herald-on-AWS (transport), emulator (moto)',
      durability: 'memory',
      durabilityNote:
        'awsTransport: SNS FIFO PublishBatch answered; moto keeps topics and queues in memory only (on AWS: stored redundantly by SNS/SQS)',
      emulator: 'moto',
      scenarios: SCENARIOS,
      close: async () => {},
      topic: async (spec) => {
        const transport = await awsTransport({
          endpoint: ENDPOINT,
          region: 'us-east-1',
          credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
          namePrefix: `hp-${context.runId}-${spec.name}-`,
          waitTimeMs: WAIT_TIME_MS,
        });
        // SQS keeps nothing for a group whose queue is not subscribed yet (no replay): each
        // group's queue is created first, so the produce-only scenario stores what it publishes.
        for (const group of spec.groups) {
          await (
            await transport.subscribe({ topic: spec.name, group, inFlightMax: 1 }, async () => {})
          ).close();
        }
        const topic = transportTopic(transport, spec);
        return {
          ...topic,
          remove: async () => {
            await transport.close();
            await transport.deleteTopology();
          },
        };
      },
    };
  },
};
