/**
 * The `peers` charts, three per payload size: produce-only throughput against the ceiling, ack
 * p99 with one outstanding against fdatasync, and end-to-end throughput; bars coloured by
 * durability class.
 */
import { barChartSvg, writeResult } from '../_common.ts';
import { ceilingFor } from './limits.ts';
import type { Report } from './report.ts';
import type { Measurement, ScenarioId } from './scenarios.ts';
import type { DurabilityClass } from './system.ts';

const COLOURS: Record<DurabilityClass, string> = {
  fsync: '#2e86de',
  'page cache': '#f0ad4e',
  memory: '#d9534f',
};

/**
 * Writes three SVG charts per payload size into `directory`; returns their paths. Rows on an
 * emulator are left out: their bars would compare an emulator with real servers.
 */
export function writeCharts(report: Report, directory: string): string[] {
  const systems = new Map(
    report.systems.filter((system) => system.emulator === undefined).map((system) => [system.id, system]),
  );
  const files: string[] = [];
  for (const payloadBytes of report.payloads) {
    const of = (scenario: ScenarioId) =>
      report.measurements.filter(
        (m) => m.scenario === scenario && m.payloadBytes === payloadBytes && systems.has(m.system),
      );
    const bars = (scenario: ScenarioId, value: (m: Measurement) => number | undefined) =>
      of(scenario).map((m) => {
        const system = systems.get(m.system);
        return {
          label: system?.label ?? m.system,
          note: system?.durability,
          value: value(m),
          colour: system === undefined ? undefined : COLOURS[system.durability],
        };
      });
    const produce = barChartSvg({
      title: `Produce-only throughput, ${payloadBytes} B (blue: fsync; orange: page cache; red: memory)`,
      unit: 'messages/s',
      bars: bars('produce', (m) => m.perSecond),
      reference: { label: 'ceiling', value: ceilingFor(report.limits, payloadBytes) },
      logScale: true,
    });
    files.push(writeResult(directory, `peers-produce-${payloadBytes}.svg`, produce));
    const ack = barChartSvg({
      title: `Ack latency p99 with 1 outstanding, ${payloadBytes} B`,
      unit: 'milliseconds (lower is better)',
      bars: bars('ack-1', (m) => m.latencyMs?.p99),
      reference: { label: 'fdatasync p50', value: report.limits.smallSyncMs.p50 },
      logScale: true,
    });
    files.push(writeResult(directory, `peers-ack-latency-${payloadBytes}.svg`, ack));
    const e2e = barChartSvg({
      title: `End-to-end throughput, one group, ${payloadBytes} B`,
      unit: 'messages/s',
      bars: bars('end-to-end', (m) => m.perSecond),
      logScale: true,
    });
    files.push(writeResult(directory, `peers-end-to-end-${payloadBytes}.svg`, e2e));
  }
  return files;
}
