/**
 * The scenarios every row runs per payload size: produce-only throughput (256 outstanding);
 * end-to-end throughput (one group); ack latency with 1 and 64 outstanding; end-to-end latency at
 * fixed open-loop rates (1k, 10k, 50k events/s); fan-out to 3 groups; a 4-partition topic with 2
 * consumers in one group. Every message carries its send time (or, open-loop, its scheduled send
 * time); every consumer runs in this process, so end-to-end latency is one clock.
 */
import { format, type LatencySummary, openLoop, summarize } from '../_common.ts';
import type { System, Topic, TopicSpec } from './system.ts';

/** Outstanding publishes in the throughput scenarios. */
export const THROUGHPUT_OUTSTANDING = 256;
const RATES = [1_000, 10_000, 50_000] as const;
const ACK_OUTSTANDING = [1, 64] as const;
const FAN_OUT_GROUPS = 3;

/** How long and how much each row runs. */
export interface Budget {
  readonly durationMs: number;
  /** Most messages per measurement. */
  readonly messages: number;
  /** Longest wait for consumers to catch up after publishing stops. */
  readonly drainMs: number;
  /** Longest wait for a warm-up message to reach every group (consumer start-up, group joins). */
  readonly warmUpMs: number;
}

/** Every scenario, by id. */
export type ScenarioId =
  | 'produce'
  | 'end-to-end'
  | 'ack-1'
  | 'ack-64'
  | 'rate-1000'
  | 'rate-10000'
  | 'rate-50000'
  | 'fan-out'
  | 'partitions';

/** One system's figure in one scenario. */
export interface Measurement {
  readonly scenario: ScenarioId;
  readonly payloadBytes: number;
  readonly system: string;
  /** Messages per second (throughput scenarios; the achieved rate in fixed-rate ones). */
  readonly perSecond?: number;
  /** Latency in ms (ack latency: publish to ack; fixed rates: scheduled send to consume). */
  readonly latencyMs?: LatencySummary;
  readonly messages: number;
  /** Fixed-rate rows: false when the system could not keep up (see `note`). */
  readonly keptUp?: boolean;
  readonly note?: string;
  /** Set when the measurement failed; the row shows the error. */
  readonly error?: string;
}

let topicCounter = 0;

async function withTopic<T>(
  system: System,
  spec: Omit<TopicSpec, 'name'>,
  body: (topic: Topic) => Promise<T>,
): Promise<T> {
  const topic = await system.topic({ ...spec, name: `t${topicCounter++}` });
  try {
    return await body(topic);
  } finally {
    await topic.remove().catch(() => {});
  }
}

/** `concurrency` loops publishing until `durationMs` or `count` publishes; latencies if asked. */
async function closedLoop(
  topic: Topic,
  concurrency: number,
  budget: Budget,
  latencies?: number[],
  perPublish = 1,
): Promise<{ messages: number; seconds: number; failed: number }> {
  let next = 0;
  let done = 0;
  let failed = 0;
  const started = performance.now();
  const stopAt = started + budget.durationMs;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      // Bounded by time and by the message budget.
      while (performance.now() < stopAt && next * perPublish < budget.messages) {
        const index = next++;
        const sentMs = performance.now();
        try {
          await topic.publish(index, sentMs);
          latencies?.push(performance.now() - sentMs);
          done += perPublish;
        } catch {
          failed++;
          if (failed > 100) throw new Error('more than 100 publishes failed');
        }
      }
    }),
  );
  return { messages: done, seconds: (performance.now() - started) / 1000, failed };
}

/** Counts deliveries per group and wakes waiters. */
function deliveries(groups: number) {
  const counts = new Array<number>(groups).fill(0);
  const latencies: number[] = [];
  let lastMs = 0;
  let waiter: (() => void) | undefined;
  return {
    counts,
    latencies,
    get lastMs() {
      return lastMs;
    },
    onMessage(group: number, stampMs: number): void {
      const now = performance.now();
      counts[group] = (counts[group] ?? 0) + 1;
      if (stampMs > 0) latencies.push(now - stampMs);
      lastMs = now;
      waiter?.();
    },
    /** Resolves true once every group has `target` deliveries, false after `timeoutMs`. */
    async reached(target: number, timeoutMs: number): Promise<boolean> {
      const deadline = performance.now() + timeoutMs;
      // Bounded by the deadline.
      while (counts.some((count) => count < target)) {
        const left = deadline - performance.now();
        if (left <= 0) return false;
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, Math.min(left, 50));
          waiter = () => {
            if (counts.every((count) => count >= target)) {
              clearTimeout(timer);
              resolve();
            }
          };
        });
        waiter = undefined;
      }
      return true;
    },
  };
}

/**
 * Starts consumers, publishes one warm-up message (stamp 0, excluded from latencies) and waits until
 * every group has it, so consumer start-up (group joins, rebalances) is not measured.
 */
async function startConsumers(topic: Topic, groups: number, consumersPerGroup: number, budget: Budget) {
  const counter = deliveries(groups);
  const consumers = await topic.consume(consumersPerGroup, (group, stampMs) =>
    counter.onMessage(group, stampMs),
  );
  await topic.publish(-1, 0);
  if (!(await counter.reached(1, budget.warmUpMs))) {
    await consumers.close();
    throw new Error(`the warm-up message did not reach every group within ${budget.warmUpMs / 1000} s`);
  }
  counter.counts.fill(0);
  return { counter, consumers };
}

async function measureThroughput(
  system: System,
  scenario: 'produce' | 'end-to-end' | 'fan-out' | 'partitions',
  payloadBytes: number,
  budget: Budget,
): Promise<Omit<Measurement, 'scenario' | 'payloadBytes' | 'system'>> {
  const groups = scenario === 'fan-out' ? FAN_OUT_GROUPS : 1;
  const partitions = scenario === 'partitions' ? 4 : 1;
  const consumersPerGroup = scenario === 'partitions' ? 2 : 1;
  const groupNames = Array.from({ length: groups }, (_, index) => `g${index}`);
  return withTopic(system, { partitions, groups: groupNames, payloadBytes }, async (topic) => {
    if (scenario === 'produce') {
      const result = await closedLoop(
        topic,
        THROUGHPUT_OUTSTANDING,
        budget,
        undefined,
        system.messagesPerPublish ?? 1,
      );
      return { perSecond: result.messages / result.seconds, messages: result.messages };
    }
    const { counter, consumers } = await startConsumers(topic, groups, consumersPerGroup, budget);
    try {
      const started = performance.now();
      const result = await closedLoop(topic, THROUGHPUT_OUTSTANDING, budget);
      const drained = await counter.reached(result.messages, budget.drainMs);
      const delivered = Math.min(...counter.counts);
      const seconds = ((drained ? counter.lastMs : performance.now()) - started) / 1000;
      return {
        perSecond: delivered / seconds,
        messages: delivered,
        ...(drained
          ? {}
          : {
              note: `delivered ${delivered} of ${result.messages} within ${budget.drainMs / 1000} s of the end`,
            }),
      };
    } finally {
      await consumers.close();
    }
  });
}

async function measureAckLatency(
  system: System,
  outstanding: number,
  payloadBytes: number,
  budget: Budget,
): Promise<Omit<Measurement, 'scenario' | 'payloadBytes' | 'system'>> {
  return withTopic(system, { partitions: 1, groups: ['g0'], payloadBytes }, async (topic) => {
    // A few unmeasured publishes first: connections, JIT.
    await closedLoop(topic, outstanding, {
      ...budget,
      messages: Math.min(200, budget.messages),
      durationMs: 200,
    });
    const latencies: number[] = [];
    const result = await closedLoop(topic, outstanding, budget, latencies);
    return {
      perSecond: result.messages / result.seconds,
      latencyMs: summarize(latencies),
      messages: result.messages,
    };
  });
}

async function measureFixedRate(
  system: System,
  ratePerSecond: number,
  payloadBytes: number,
  budget: Budget,
): Promise<Omit<Measurement, 'scenario' | 'payloadBytes' | 'system'>> {
  return withTopic(system, { partitions: 1, groups: ['g0'], payloadBytes }, async (topic) => {
    const { counter, consumers } = await startConsumers(topic, 1, 1, budget);
    try {
      // A backlog of more than a second of arrivals (or 0.25 s in short runs) means the system is
      // not keeping up: the loop stops there, and the row says so.
      const backlogMax = Math.max(500, ratePerSecond * Math.min(1, budget.durationMs / 4000));
      let sent = 0;
      const started = performance.now();
      const result = await openLoop({
        ratePerSecond,
        durationMs: budget.durationMs,
        count: budget.messages,
        outstandingMax: backlogMax,
        isBacklogged: () => sent - (counter.counts[0] ?? 0) > backlogMax,
        send: (index, scheduledMs) => {
          sent++;
          return topic.publish(index, scheduledMs);
        },
      });
      const drained = await counter.reached(result.completed, budget.drainMs);
      const delivered = counter.counts[0] ?? 0;
      // Delivered over the time from the first scheduled send to the last delivery, less the
      // fastest delivery seen (the pipeline's fixed delay, which says nothing of its rate), and at
      // least the schedule's own length, so a burst delivered early cannot flatter the rate.
      const fastestMs = counter.latencies.reduce(
        (min, value) => Math.min(min, value),
        Number.POSITIVE_INFINITY,
      );
      const spanMs = counter.lastMs - started - (Number.isFinite(fastestMs) ? fastestMs : 0);
      const seconds = Math.max(spanMs / 1000, result.scheduled / ratePerSecond);
      const achieved = delivered / seconds;
      const reasons = [
        ...(result.saturated
          ? [`stopped after ${result.sent} of the scheduled sends: backlog over ${format(backlogMax)}`]
          : []),
        ...(drained
          ? []
          : [`${result.completed - delivered} not delivered within ${budget.drainMs / 1000} s`]),
        ...(result.failed > 0 ? [`${result.failed} publishes failed`] : []),
        ...(achieved < ratePerSecond * 0.9 && !result.saturated ? ['achieved < 90% of the rate'] : []),
      ];
      return {
        perSecond: achieved,
        latencyMs: summarize(counter.latencies),
        messages: delivered,
        keptUp: reasons.length === 0,
        ...(reasons.length === 0 ? {} : { note: reasons.join('; ') }),
      };
    } finally {
      await consumers.close();
    }
  });
}

/** A scenario as the report titles it and the run dispatches it. */
export interface ScenarioInfo {
  readonly id: ScenarioId;
  readonly title: string;
  readonly kind: 'throughput' | 'ack' | 'rate';
  readonly rate?: number;
  readonly outstanding?: number;
}

/** Every scenario, in the report's order. */
export const SCENARIOS: readonly ScenarioInfo[] = [
  {
    id: 'produce',
    title: `Produce-only throughput (${THROUGHPUT_OUTSTANDING} outstanding, one message per publish)`,
    kind: 'throughput',
  },
  {
    id: 'end-to-end',
    title: `End-to-end throughput (${THROUGHPUT_OUTSTANDING} outstanding publishes, one group, one consumer)`,
    kind: 'throughput',
  },
  ...ACK_OUTSTANDING.map((outstanding) => ({
    id: `ack-${outstanding}` as ScenarioId,
    title: `Ack latency, ${outstanding} outstanding publish${outstanding === 1 ? '' : 'es'}`,
    kind: 'ack' as const,
    outstanding,
  })),
  ...RATES.map((rate) => ({
    id: `rate-${rate}` as ScenarioId,
    title: `End-to-end latency at ${format(rate)} events/s (open loop, from the scheduled send)`,
    kind: 'rate' as const,
    rate,
  })),
  {
    id: 'fan-out',
    title: `Fan-out to ${FAN_OUT_GROUPS} groups (messages/s delivered to every group)`,
    kind: 'throughput',
  },
  {
    id: 'partitions',
    title: '4-partition topic, 2 consumers in one group (end-to-end messages/s)',
    kind: 'throughput',
  },
];

/** Runs scenario `info` on `system` at `payloadBytes`: the row's figure, or its error. */
export async function measure(
  system: System,
  info: ScenarioInfo,
  payloadBytes: number,
  budget: Budget,
): Promise<Measurement> {
  const base = { scenario: info.id, payloadBytes, system: system.id };
  try {
    const result =
      info.kind === 'throughput'
        ? await measureThroughput(system, info.id as 'produce', payloadBytes, budget)
        : info.kind === 'ack'
          ? await measureAckLatency(system, info.outstanding!, payloadBytes, budget)
          : await measureFixedRate(system, info.rate!, payloadBytes, budget);
    return { ...base, ...result };
  } catch (error) {
    return { ...base, messages: 0, error: (error as Error).message.split('\n')[0]!.slice(0, 160) };
  }
}
