/**
 * The `peers` report: the JSON shape and its markdown (limits, systems and durability classes,
 * headline, goals, a table per scenario and payload size). Charts are in `./charts.ts`.
 */
import { format, loadIsHigh, type MachineFacts, markdownTable, percent } from '../_common.ts';
import { ceilingFor, type Limits } from './limits.ts';
import { overheadSection } from './overhead.ts';
import {
  type Budget,
  type Measurement,
  SCENARIOS,
  type ScenarioId,
  type ScenarioInfo,
  THROUGHPUT_OUTSTANDING,
} from './scenarios.ts';
import type { DurabilityClass, Skipped } from './system.ts';
import { BATCH } from './systems/herald-embedded.ts';

const MEBIBYTE = 1024 * 1024;

/** The row every ratio divides by. */
const BASELINE = 'herald-embedded';

/** Milliseconds for a table cell. */
function ms(value: number | undefined): string {
  return value === undefined || !Number.isFinite(value) ? '' : format(value, value < 10 ? 3 : 1);
}

/** A ratio for a table cell. */
function times(value: number | undefined): string {
  if (value === undefined || !Number.isFinite(value)) return '';
  return `${format(value, value < 10 ? 2 : 1)}×`;
}

/** Everything a run measured: the JSON file, and what the markdown and charts are made from. */
export interface Report {
  readonly suite: 'peers';
  readonly quick: boolean;
  readonly budget: Budget;
  readonly payloads: readonly number[];
  readonly machine: MachineFacts & { readonly loadAverageEnd: readonly number[] };
  readonly versions: Readonly<Record<string, string>>;
  readonly limits: Limits;
  readonly systems: readonly {
    readonly id: string;
    readonly label: string;
    readonly durability: DurabilityClass;
    readonly durabilityNote: string;
    readonly rawPeer?: string;
    readonly emulator?: string;
  }[];
  readonly skipped: readonly Skipped[];
  readonly notes: readonly string[];
  readonly measurements: readonly Measurement[];
}

function scenarioTable(report: Report, info: ScenarioInfo, payloadBytes: number): string {
  const rows = report.measurements.filter((m) => m.scenario === info.id && m.payloadBytes === payloadBytes);
  const base = rows.find((m) => m.system === BASELINE);
  const systems = new Map(report.systems.map((system) => [system.id, system]));
  const ceiling = ceilingFor(report.limits, payloadBytes);
  const fsyncMs = report.limits.smallSyncMs.p50;
  const label = (m: Measurement) => systems.get(m.system)?.label ?? m.system;
  const durability = (m: Measurement) => systems.get(m.system)?.durability ?? '';
  if (info.kind === 'throughput') {
    return markdownTable(
      ['system', 'durability', 'messages/s', '÷ Herald embedded', 'of ceiling', 'notes'],
      rows.map((m) => [
        label(m),
        durability(m),
        m.error === undefined ? format(m.perSecond) : 'failed',
        times(
          m.perSecond === undefined || base?.perSecond === undefined
            ? undefined
            : m.perSecond / base.perSecond,
        ),
        percent(m.perSecond === undefined ? undefined : m.perSecond / ceiling),
        m.error ?? m.note ?? '',
      ]),
      { align: ['left', 'left', 'right', 'right', 'right', 'left'] },
    );
  }
  if (info.kind === 'ack') {
    return markdownTable(
      [
        'system',
        'durability',
        'p50 ms',
        'p99 ms',
        'p99.9 ms',
        'messages/s',
        'p99 ÷ Herald embedded',
        'p99 ÷ fdatasync',
        'notes',
      ],
      rows.map((m) => [
        label(m),
        durability(m),
        ms(m.latencyMs?.p50),
        ms(m.latencyMs?.p99),
        ms(m.latencyMs?.p999),
        format(m.perSecond),
        times(
          m.latencyMs === undefined || base?.latencyMs === undefined
            ? undefined
            : m.latencyMs.p99 / base.latencyMs.p99,
        ),
        times(m.latencyMs === undefined ? undefined : m.latencyMs.p99 / fsyncMs),
        m.error ?? m.note ?? '',
      ]),
      { align: ['left', 'left', 'right', 'right', 'right', 'right', 'right', 'right', 'left'] },
    );
  }
  return markdownTable(
    [
      'system',
      'durability',
      'achieved/s',
      'kept up',
      'p50 ms',
      'p99 ms',
      'p99 ÷ Herald embedded',
      'p99 ÷ fdatasync',
      'notes',
    ],
    rows.map((m) => [
      label(m),
      durability(m),
      format(m.perSecond),
      m.error !== undefined ? '' : m.keptUp === true ? 'yes' : '**NO**',
      ms(m.latencyMs?.p50),
      ms(m.latencyMs?.p99),
      times(
        m.latencyMs === undefined || base?.latencyMs === undefined
          ? undefined
          : m.latencyMs.p99 / base.latencyMs.p99,
      ),
      times(m.latencyMs === undefined ? undefined : m.latencyMs.p99 / fsyncMs),
      m.error ?? m.note ?? '',
    ]),
    { align: ['left', 'left', 'right', 'left', 'right', 'right', 'right', 'right', 'left'] },
  );
}

/** The headline: 100-byte (or the smallest measured) payload, one row per system not on an emulator. */
function headlineTable(report: Report): string {
  const payloadBytes = report.payloads[0]!;
  const find = (system: string, scenario: ScenarioId) =>
    report.measurements.find(
      (m) => m.system === system && m.scenario === scenario && m.payloadBytes === payloadBytes,
    );
  const base = find(BASELINE, 'produce');
  const ceiling = ceilingFor(report.limits, payloadBytes);
  return markdownTable(
    [
      'system',
      'durability',
      'produce msg/s',
      '÷ Herald embedded',
      'of ceiling',
      'ack p99 ms (1 out)',
      'end-to-end msg/s',
      '10k/s e2e p99 ms',
    ],
    report.systems
      .filter((system) => system.emulator === undefined)
      .map((system) => {
        const produce = find(system.id, 'produce');
        const ack = find(system.id, 'ack-1');
        const e2e = find(system.id, 'end-to-end');
        const rate = find(system.id, 'rate-10000');
        return [
          system.label,
          system.durability,
          format(produce?.perSecond),
          times(
            produce?.perSecond === undefined || base?.perSecond === undefined
              ? undefined
              : produce.perSecond / base.perSecond,
          ),
          percent(produce?.perSecond === undefined ? undefined : produce.perSecond / ceiling),
          ms(ack?.latencyMs?.p99),
          format(e2e?.perSecond),
          rate === undefined
            ? ''
            : `${ms(rate.latencyMs?.p99)}${rate.keptUp === false ? ' (fell behind)' : ''}`,
        ];
      }),
    { align: ['left', 'left', 'right', 'right', 'right', 'right', 'right', 'right'] },
  );
}

/** The goals from issue 9, read against this run's figures (not asserted). */
function goalLines(report: Report): string[] {
  const payloadBytes = report.payloads[0]!;
  const perSecond = (system: string) =>
    report.measurements.find(
      (m) => m.system === system && m.scenario === 'produce' && m.payloadBytes === payloadBytes,
    )?.perSecond;
  const herald = perSecond(BASELINE);
  if (herald === undefined) return ['Goals: Herald embedded was not measured.'];
  const batched = perSecond('herald-embedded-batch');
  const ceiling = ceilingFor(report.limits, payloadBytes);
  const verdict = (ok: boolean | undefined) => (ok === undefined ? 'not measured' : ok ? 'met' : 'NOT met');
  const against = (system: string, factor: number) => {
    const other = perSecond(system);
    const ratio = other === undefined ? undefined : herald / other;
    return `${times(ratio)} (goal ≥ ${factor}×: ${verdict(ratio === undefined ? undefined : ratio >= factor)})`;
  };
  const ack = report.measurements.find(
    (m) => m.system === BASELINE && m.scenario === 'ack-1' && m.payloadBytes === payloadBytes,
  )?.latencyMs?.p99;
  const ack64 = report.measurements.find(
    (m) => m.system === BASELINE && m.scenario === 'ack-64' && m.payloadBytes === payloadBytes,
  )?.latencyMs?.p99;
  return [
    `Goals (${payloadBytes} B, produce-only; read, not asserted):`,
    `- Herald embedded durable publish: ${format(herald)} msg/s = ${percent(herald / ceiling)} of the ceiling ${format(ceiling)} records/s (goal ≥ 70%: ${verdict(herald / ceiling >= 0.7)}). Single-record publishers are also bounded by about ${THROUGHPUT_OUTSTANDING} publishers × the fdatasync rate (≈ ${format(THROUGHPUT_OUTSTANDING * report.limits.smallSyncsPerSecond)}/s here): see docs/benchmarks.md.`,
    ...(batched === undefined
      ? []
      : [
          `- Herald embedded with ${BATCH} messages per publish (caller-side batching): ${format(batched)} msg/s = ${percent(batched / ceiling)} of the ceiling (goal ≥ 70%: ${verdict(batched / ceiling >= 0.7)}).`,
        ]),
    `- Herald embedded ÷ RabbitMQ quorum: ${against('rabbitmq-quorum', 20)}`,
    `- Herald embedded ÷ NATS JetStream: ${against('nats-jetstream', 10)}`,
    `- Herald embedded ack p99: ${ms(ack)} ms with 1 outstanding, ${ms(ack64)} ms with 64 (goal ≤ 1.5 ms: ${verdict(ack === undefined ? undefined : ack <= 1.5)} with 1 outstanding; fdatasync alone is p50 ${ms(report.limits.smallSyncMs.p50)} / p99 ${ms(report.limits.smallSyncMs.p99)} ms here)`,
    ...layerGoalLines(report, payloadBytes),
  ];
}

/**
 * Issue 16's goals between Herald's layers and against the peers, produce and end to end: the bus
 * over the embedded transport, and Herald embedded ÷ RabbitMQ quorum and NATS JetStream (the log
 * row is in `npm run bench -- embedded`, which puts all three layers in one run).
 */
function layerGoalLines(report: Report, payloadBytes: number): string[] {
  const find = (system: string, scenario: string) =>
    report.measurements.find(
      (m) => m.system === system && m.scenario === scenario && m.payloadBytes === payloadBytes,
    );
  const verdict = (ok: boolean | undefined) => (ok === undefined ? 'not measured' : ok ? 'met' : 'NOT met');
  const ratio = (system: string, base: string, scenario: string) => {
    const top = find(system, scenario)?.perSecond;
    const bottom = find(base, scenario)?.perSecond;
    return top === undefined || bottom === undefined ? undefined : top / bottom;
  };
  const read = (value: number | undefined, goal: number) =>
    `${times(value)} (goal ≥ ${goal}×: ${verdict(value === undefined ? undefined : value >= goal)})`;
  const bus = 'herald-bus';
  const rate = find(bus, 'rate-10000');
  const rate50k = find(bus, 'rate-50000');
  const p99 = rate?.latencyMs?.p99;
  return [
    `- Herald bus ÷ Herald embedded: produce ${read(ratio(bus, BASELINE, 'produce'), 0.8)}, end-to-end ${read(ratio(bus, BASELINE, 'end-to-end'), 0.7)}`,
    `- Herald bus end-to-end p99 at 10k events/s: ${ms(p99)} ms (goal ≤ 10 ms: ${verdict(p99 === undefined ? undefined : p99 <= 10 && rate?.keptUp !== false)}); at 50k/s kept up: ${rate50k === undefined ? 'not measured' : rate50k.keptUp === false ? 'NO' : 'yes'}`,
    ...[
      ['rabbitmq-quorum', 'RabbitMQ quorum'],
      ['nats-jetstream', 'NATS JetStream'],
    ].map(
      ([peer, label]) =>
        `- Herald embedded ÷ ${label}, issue 16: produce ${read(ratio(BASELINE, peer!, 'produce'), 10)}, end-to-end ${read(ratio(BASELINE, peer!, 'end-to-end'), 10)}`,
    ),
  ];
}

/** Which rows ran on an emulator and so are left out of the headline and the charts. */
function emulatorLine(report: Report): string[] {
  const rows = report.systems.filter((system) => system.emulator !== undefined);
  if (rows.length === 0) return [];
  return [
    '',
    `Not in the headline (emulated, not the real service): ${rows.map((system) => `${system.label} (${system.emulator})`).join(', ')}; see the scenario tables.`,
  ];
}

function limitsTable(limits: Limits): string {
  return markdownTable(
    ['limit', 'figure', 'unit'],
    [
      [
        'fdatasync of 100-byte appends',
        format(limits.smallSyncsPerSecond),
        `syncs/s (p50 ${ms(limits.smallSyncMs.p50)} ms, p99 ${ms(limits.smallSyncMs.p99)} ms)`,
      ],
      [
        'sequential writes, fdatasync per 1 MiB',
        format(limits.sequentialBytesPerSecond / MEBIBYTE, 1),
        'MiB/s',
      ],
      [
        '1 MiB batches of 100-byte records, fdatasync per batch (durable-publish ceiling)',
        format(limits.batchedRecordsPerSecond),
        'records/s',
      ],
      [
        'ceiling for 1 KiB records (sequential bandwidth ÷ 1024)',
        format(limits.sequentialBytesPerSecond / 1024),
        'records/s',
      ],
      [
        'loopback TCP (node:net echo, 64 KiB writes)',
        format(limits.loopbackBytesPerSecond / MEBIBYTE, 1),
        'MiB/s',
      ],
      [
        'loopback 100-byte round trip',
        `${ms(limits.loopbackRoundTripMs.p50)} / ${ms(limits.loopbackRoundTripMs.p99)}`,
        'ms p50 / p99',
      ],
    ],
    { align: ['left', 'right', 'left'] },
  );
}

/** The report as markdown, `charts` (paths) listed at the end. */
export function markdownReport(report: Report, charts: readonly string[]): string {
  const { machine } = report;
  const lines: string[] = [
    '## Herald and its peers',
    '',
    `Machine: ${machine.cores} cores (${machine.cpu}), ${machine.memoryGiB} GiB, Node ${machine.node}, ${machine.platform}. ` +
      `Load average at start ${machine.loadAverage.join(' / ')}, at end ${machine.loadAverageEnd.join(' / ')}.`,
    `Versions: ${Object.entries(report.versions)
      .map(([name, version]) => `${name} ${version}`)
      .join(', ')}.`,
    `Budget per row: ${report.budget.durationMs} ms or ${format(report.budget.messages)} messages, whichever first${report.quick ? ' (--quick: figures not judged)' : ''}.`,
  ];
  if (loadIsHigh(machine.loadAverage, machine.cores) || loadIsHigh(machine.loadAverageEnd, machine.cores)) {
    lines.push(
      '',
      `**Warning: the machine was busy (1-minute load ≥ ${machine.cores} cores at start or end): absolute figures are low and noisy; read the ratios.**`,
    );
  }
  lines.push('', '### Limits (measured first)', '', limitsTable(report.limits));
  lines.push('', '### Systems and durability classes', '');
  lines.push(
    markdownTable(
      ['system', 'class', 'what is durable when the ack arrives'],
      report.systems.map((system) => [system.label, system.durability, system.durabilityNote]),
    ),
  );
  for (const skipped of report.skipped) lines.push('', `Skipped ${skipped.label}: ${skipped.reason}`);
  for (const note of report.notes) lines.push('', `Note: ${note}`);
  lines.push(
    '',
    `### Headline (${report.payloads[0]} B)`,
    '',
    headlineTable(report),
    ...emulatorLine(report),
    '',
    ...goalLines(report),
    ...overheadSection(report),
  );
  for (const payloadBytes of report.payloads) {
    lines.push('', `### ${payloadBytes === 1024 ? '1 KiB' : `${payloadBytes} B`} payloads`);
    for (const info of SCENARIOS) {
      lines.push('', `#### ${info.title}, ${payloadBytes} B`, '', scenarioTable(report, info, payloadBytes));
    }
  }
  lines.push(
    '',
    'Ratios: "÷ Herald embedded" divides the row by the Herald embedded row of the same table (throughput: above 1× is faster; latency: above 1× is slower). "of ceiling" divides by the durable-publish ceiling for the payload; "÷ fdatasync" divides by the median fdatasync of a small append. Rows of class "page cache" or "memory" do not wait for the disk, so they can pass the ceiling.',
  );
  if (charts.length > 0) lines.push('', `Charts: ${charts.join(', ')}`);
  return `${lines.join('\n')}\n`;
}
