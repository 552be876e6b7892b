/**
 * Scheduled messages (`publish` with `deliverAt` / `delayMs`, `bus.cancelScheduled`), through a
 * bus on the transport, so a transport whose schedule lives in the bus (a schedule topic) runs the
 * same checks as one that keeps it natively. Skipped where `features.scheduling` says unsupported.
 */
import assert from 'node:assert/strict';
import type { Transport } from '@herald/bus';
import { eventually } from '../harness.ts';
import type { Scenario } from '../scenario.ts';
import { namedEvent, scenarioBus, skipUnlessSupported, withBus } from './bus-setup.ts';

/** Why the scheduling scenarios cannot run, or undefined. */
const schedulingSkip = skipUnlessSupported('scheduling', 'scheduling');

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
      const Tick = namedEvent('Tick', topic);
      await withBus(transport, async (bus) => {
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
      });
    },
  },
  {
    name: 'scheduling - bad times are refused with ScheduleError before anything is scheduled',
    skip: schedulingSkip,
    async run({ transport, topic }) {
      const Tick = namedEvent('Tick', topic);
      const horizonMs = (transport.features.scheduling as { horizonMsMax: number }).horizonMsMax;
      await withBus(transport, async (bus) => {
        const refused = async (options: object, reason: string) =>
          assert.rejects(bus.publish(Tick, { name: 'x' }, options), { name: 'ScheduleError', reason });
        await refused({ delayMs: Number.NaN }, 'SCHEDULE_INVALID_TIME');
        await refused({ deliverAt: new Date(Number.NaN) }, 'SCHEDULE_INVALID_TIME');
        await refused({ delayMs: 10, deliverAt: Date.now() }, 'SCHEDULE_OPTIONS_CONFLICT');
        await refused({ delayMs: horizonMs + 60_000 }, 'SCHEDULE_BEYOND_HORIZON');
      });
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
      const Tick = namedEvent('Tick', topic);
      const dueMs = Date.now() + 1500;
      const first = scenarioBus(context.transport);
      await first.publish(Tick, { name: 'survivor' }, { deliverAt: dueMs });
      await first.stop();
      const restarted = await context.target.restart!(context.transport);
      context.replaceTransport(restarted);
      const seen = await arrivals(restarted, topic);
      await withBus(restarted, async (bus) => {
        await bus.start();
        await eventually(
          () => seen.has('survivor'),
          () => '"survivor" to arrive after the restart',
        );
        assert.ok(seen.get('survivor')![0]! >= dueMs, 'the scheduled message arrived early');
      });
    },
  },
];
