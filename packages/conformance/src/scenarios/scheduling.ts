/**
 * Scheduled messages (`publish` with `deliverAt` / `delayMs`, `bus.cancelScheduled`), through a
 * bus on the transport, so a transport whose schedule lives in the bus (a schedule topic) runs the
 * same checks as one that keeps it natively. Skipped where `features.scheduling` says unsupported.
 */
import assert from 'node:assert/strict';
import {
  type Bus,
  createBus,
  defineEvent,
  type StandardSchemaV1,
  silentLogger,
  type Transport,
  type TransportFeatures,
} from '@herald/bus';
import { eventually } from '../harness.ts';
import type { Scenario } from '../scenario.ts';

/** A schema accepting `{ name: string }`, so the suite needs no validation library. */
const named: StandardSchemaV1<{ name: string }> = {
  '~standard': {
    version: 1,
    vendor: 'herald-conformance',
    validate: (value) =>
      typeof (value as { name?: unknown })?.name === 'string'
        ? { value: value as { name: string } }
        : { issues: [{ message: 'expected { name: string }' }] },
  },
};

/** Why the scheduling scenarios cannot run, or undefined. */
function schedulingSkip(features: TransportFeatures): string | undefined {
  const scheduling = features.scheduling;
  if (scheduling === undefined) return 'transport declares no scheduling';
  if (scheduling.mode === 'unsupported') return `scheduling unsupported: ${scheduling.reason}`;
  return undefined;
}

/** A bus on `transport` (which the scenario's harness closes) publishing `Tick`s to `topic`. */
function busOn(transport: Transport, topic: string) {
  const Tick = defineEvent(`conformance.Tick.${topic}`, { topic, schema: named });
  const bus: Bus = createBus({ transport, ownsTransport: false, logger: silentLogger });
  return { bus, Tick };
}

/** Records when each `name` arrived on `topic` (a raw group of the transport). */
async function arrivals(transport: Transport, topic: string): Promise<Map<string, number[]>> {
  const seen = new Map<string, number[]>();
  await transport.subscribe({ topic, group: 'schedule-reader', inFlightMax: 64 }, async (message) => {
    const { name } = JSON.parse(new TextDecoder().decode(message.body)) as { name: string };
    seen.set(name, [...(seen.get(name) ?? []), Date.now()]);
    await message.ack();
  });
  return seen;
}

export const schedulingScenarios: Scenario[] = [
  {
    name: 'scheduling - a scheduled message arrives once, not before its time; a cancelled one never',
    skip: schedulingSkip,
    async run({ transport, topic }) {
      const seen = await arrivals(transport, topic);
      const { bus, Tick } = busOn(transport, topic);
      try {
        await bus.start();
        const startMs = Date.now();
        const cancelled = await bus.publish(Tick, { name: 'cancelled' }, { delayMs: 1000 });
        const later = await bus.publish(Tick, { name: 'later' }, { deliverAt: new Date(startMs + 2000) });
        await bus.publish(Tick, { name: 'past' }, { deliverAt: startMs - 60_000 });
        const outcome = await bus.cancelScheduled(cancelled.id);
        assert.ok(outcome === 'cancelled' || outcome === 'requested', `cancel outcome ${outcome}`);
        await eventually(
          () => seen.has('later') && seen.has('past'),
          () => `"later" and "past" to arrive; arrived: ${[...seen.keys()].join(', ') || 'nothing'}`,
        );
        assert.ok(seen.get('later')![0]! >= startMs + 2000, 'the scheduled message arrived early');
        // "cancelled" was due a second before "later": had the cancel failed, it would be here.
        assert.equal(seen.has('cancelled'), false, 'the cancelled message was delivered');
        assert.equal(seen.get('later')!.length, 1, '"later" was delivered more than once');
        assert.equal(await bus.cancelScheduled(later.id).then((o) => o !== 'cancelled'), true);
      } finally {
        await bus.stop();
      }
    },
  },
  {
    name: 'scheduling - bad times are refused with ScheduleError before anything is scheduled',
    skip: schedulingSkip,
    async run({ transport, topic }) {
      const { bus, Tick } = busOn(transport, topic);
      const horizonMs = (transport.features.scheduling as { horizonMsMax: number }).horizonMsMax;
      const refused = async (options: object, reason: string) =>
        assert.rejects(bus.publish(Tick, { name: 'x' }, options), { name: 'ScheduleError', reason });
      try {
        await refused({ delayMs: Number.NaN }, 'SCHEDULE_INVALID_TIME');
        await refused({ deliverAt: new Date(Number.NaN) }, 'SCHEDULE_INVALID_TIME');
        await refused({ delayMs: 10, deliverAt: Date.now() }, 'SCHEDULE_OPTIONS_CONFLICT');
        await refused({ delayMs: horizonMs + 60_000 }, 'SCHEDULE_BEYOND_HORIZON');
      } finally {
        await bus.stop();
      }
    },
  },
  {
    name: 'scheduling - a scheduled message survives a restart and arrives after it',
    skip: (features, target) =>
      schedulingSkip(features) ??
      (!features.persistent
        ? 'transport is not persistent'
        : target.restart === undefined
          ? 'target declares no restart command'
          : undefined),
    async run(context) {
      const { topic } = context;
      const first = busOn(context.transport, topic);
      const dueMs = Date.now() + 1500;
      await first.bus.publish(first.Tick, { name: 'survivor' }, { deliverAt: dueMs });
      await first.bus.stop();
      const restarted = await context.target.restart!(context.transport);
      context.replaceTransport(restarted);
      const seen = await arrivals(restarted, topic);
      const second = busOn(restarted, topic);
      try {
        await second.bus.start();
        await eventually(
          () => seen.has('survivor'),
          () => '"survivor" to arrive after the restart',
        );
        assert.ok(seen.get('survivor')![0]! >= dueMs, 'the scheduled message arrived early');
      } finally {
        await second.bus.stop();
      }
    },
  },
];
