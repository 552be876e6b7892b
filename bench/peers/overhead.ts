/**
 * The `peers` report's overhead section: each Herald transport row next to the raw-client row on
 * the same server (`SystemRow.rawPeer`), Herald ÷ raw per scenario, read against the target of
 * issue 21: Herald's overhead on a broker at most 15% of the raw client's throughput.
 */
import { format, markdownTable } from '../_common.ts';
import type { Report } from './report.ts';
import type { Measurement, ScenarioId } from './scenarios.ts';

/** The target: a Herald row's throughput at least this share of its raw client's (overhead ≤ 15%). */
export const OVERHEAD_RATIO_MIN = 0.85;

/** The throughput scenarios the verdict reads (Herald ÷ raw messages/s). */
const THROUGHPUTS: readonly { readonly id: ScenarioId; readonly title: string }[] = [
  { id: 'produce', title: 'produce' },
  { id: 'end-to-end', title: 'end-to-end' },
  { id: 'fan-out', title: 'fan-out' },
  { id: 'partitions', title: '4 partitions' },
];

/** The latency scenarios shown beside them (Herald p99 ÷ raw p99: above 1× is slower). */
const LATENCIES: readonly { readonly id: ScenarioId; readonly title: string }[] = [
  { id: 'ack-1', title: 'ack p99, 1 out' },
  { id: 'ack-64', title: 'ack p99, 64 out' },
];

function ratio(value: number | undefined): string {
  return value === undefined || !Number.isFinite(value) ? '' : `${format(value, 2)}×`;
}

/** One table per payload size: a line per Herald row with a raw peer that both ran. */
function overheadTable(report: Report, payloadBytes: number): string | undefined {
  const find = (system: string, scenario: ScenarioId): Measurement | undefined =>
    report.measurements.find(
      (m) =>
        m.system === system &&
        m.scenario === scenario &&
        m.payloadBytes === payloadBytes &&
        m.error === undefined,
    );
  const labels = new Map(report.systems.map((system) => [system.id, system.label]));
  const pairs = report.systems.filter((system) => system.rawPeer !== undefined && labels.has(system.rawPeer));
  if (pairs.length === 0) return undefined;
  const rows = pairs.map((herald) => {
    const raw = herald.rawPeer!;
    const throughputs = THROUGHPUTS.map(({ id, title }) => {
      const mine = find(herald.id, id)?.perSecond;
      const theirs = find(raw, id)?.perSecond;
      return { title, value: mine === undefined || theirs === undefined ? undefined : mine / theirs };
    });
    const latencies = LATENCIES.map(({ id }) => {
      const mine = find(herald.id, id)?.latencyMs?.p99;
      const theirs = find(raw, id)?.latencyMs?.p99;
      return mine === undefined || theirs === undefined ? undefined : mine / theirs;
    });
    const measured = throughputs.filter((entry) => entry.value !== undefined);
    const missed = measured.filter((entry) => entry.value! < OVERHEAD_RATIO_MIN).map((entry) => entry.title);
    const verdict =
      measured.length === 0 ? 'not measured' : missed.length === 0 ? 'met' : `NOT met (${missed.join(', ')})`;
    return [
      herald.label,
      labels.get(raw)!,
      ...throughputs.map((entry) => ratio(entry.value)),
      ...latencies.map(ratio),
      verdict,
    ];
  });
  return markdownTable(
    [
      'Herald row',
      'raw client row',
      ...THROUGHPUTS.map(({ title }) => `${title} ÷ raw`),
      ...LATENCIES.map(({ title }) => `${title} ÷ raw`),
      `throughput ≥ ${format(OVERHEAD_RATIO_MIN, 2)}× (overhead ≤ ${format((1 - OVERHEAD_RATIO_MIN) * 100)}%)`,
    ],
    rows,
    { align: ['left', 'left', 'right', 'right', 'right', 'right', 'right', 'right', 'left'] },
  );
}

/** The section's markdown lines (none when no Herald row ran beside its raw client). */
export function overheadSection(report: Report): string[] {
  const lines: string[] = [];
  for (const payloadBytes of report.payloads) {
    const table = overheadTable(report, payloadBytes);
    if (table === undefined) continue;
    if (lines.length === 0) lines.push('', '### Herald transports ÷ their raw clients (same server)');
    lines.push('', `${payloadBytes === 1024 ? '1 KiB' : `${payloadBytes} B`}:`, '', table);
  }
  if (lines.length > 0) {
    lines.push(
      '',
      `Each Herald transport row divided by the raw-client row on the same server, in the same run: throughput (messages/s) above 1× is faster than the raw client, latency (p99) above 1× is slower. The target (issue 21) is an overhead of at most ${format((1 - OVERHEAD_RATIO_MIN) * 100)}% in throughput: Herald ÷ raw ≥ ${format(OVERHEAD_RATIO_MIN, 2)}× in every throughput scenario measured (read, not asserted). Rows on an emulator have no raw row here.`,
    );
  }
  return lines;
}
