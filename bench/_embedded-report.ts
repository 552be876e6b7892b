/**
 * The rows of `npm run bench -- embedded` (bench/embedded.ts) and its markdown: each layer divided
 * by the one below, next to issue 16's targets.
 */
import { format } from './_common.ts';

export type Layer = 'log' | 'transport' | 'bus' | 'bus + idempotency';

export interface Row {
  readonly name: string;
  readonly layer: Layer;
  readonly kind: 'publish' | 'end-to-end';
  readonly publishers: number;
  readonly messagesPerCall: number;
  readonly messages: number;
  readonly seconds: number;
  readonly messagesPerSecond: number;
  /** This rate divided by the layer below (`base`) with the same kind and publishers. */
  readonly ratio?: { readonly value: number; readonly base: string; readonly target?: number };
  /** Log rows with 256 publishers: P x syncs/s for a write of P appends, and this rate's share of it. */
  readonly bound?: {
    readonly recordsPerSecond: number;
    readonly syncsPerSecond: number;
    readonly target: number;
  };
}

/** An open-loop row: the bus at a fixed arrival rate. */
export interface RateRow {
  readonly name: string;
  readonly ratePerSecond: number;
  readonly achievedPerSecond: number;
  readonly delivered: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly keptUp: boolean;
  /** p99 target in ms, where the issue sets one. */
  readonly p99MsTarget?: number;
}

/** Layer targets of issue 16: a row's ratio to the layer below. */
const RATIO_TARGETS: readonly { layer: Layer; kind: Row['kind']; publishers: number; target: number }[] = [
  { layer: 'transport', kind: 'publish', publishers: 256, target: 0.8 },
  { layer: 'bus', kind: 'publish', publishers: 256, target: 0.8 },
  { layer: 'bus + idempotency', kind: 'end-to-end', publishers: 256, target: 0.7 },
];
/** The log with 256 single-record publishers reaches at least this share of P x syncs/s. */
export const LOG_BOUND_TARGET = 0.6;
export const BUS_P99_MS_TARGET = 10;

/** The base layer each layer is divided by. */
const BASE_OF: Readonly<Record<Layer, Layer | undefined>> = {
  log: undefined,
  transport: 'log',
  bus: 'transport',
  'bus + idempotency': 'transport',
};

/** A measured row, with its ratio to the layer below (found in `rows`) and its target. */
export function measuredRow(
  rows: readonly Row[],
  layer: Layer,
  kind: Row['kind'],
  publishers: number,
  messagesPerCall: number,
  result: { messages: number; seconds: number },
  bound: Row['bound'],
): Row {
  const messagesPerSecond = result.messages / result.seconds;
  const baseLayer = BASE_OF[layer];
  const base = rows.find(
    (row) =>
      row.layer === baseLayer &&
      row.kind === kind &&
      row.publishers === publishers &&
      row.messagesPerCall === messagesPerCall,
  );
  const target = RATIO_TARGETS.find(
    (goal) =>
      goal.layer === layer && goal.kind === kind && goal.publishers === publishers && messagesPerCall === 1,
  )?.target;
  const plural = (count: number, word: string) => `${count} ${word}${count === 1 ? '' : 's'}`;
  const name =
    layer === 'log'
      ? `log (1 partition): append, ${plural(publishers, 'publisher')}, 1 record per append`
      : kind === 'publish'
        ? `${layer}: publish, ${plural(publishers, 'publisher')}, ${plural(messagesPerCall, 'message')} per call`
        : `${layer}: publish + consume + ack, ${plural(publishers, 'publisher')}`;
  return {
    name,
    layer,
    kind,
    publishers,
    messagesPerCall,
    messages: result.messages,
    seconds: result.seconds,
    messagesPerSecond,
    ...(base === undefined || baseLayer === undefined
      ? {}
      : {
          ratio: {
            value: messagesPerSecond / base.messagesPerSecond,
            base: baseLayer,
            ...(target === undefined ? {} : { target }),
          },
        }),
    ...(bound === undefined ? {} : { bound }),
  };
}

function verdict(ok: boolean): string {
  return ok ? 'met' : '**NOT met**';
}

/** The markdown report: the layers table, then the open-loop table. */
export function reportLines(
  rows: readonly Row[],
  rates: readonly RateRow[],
  durationMs: number,
  rawBytes: number,
  busMessage: { bytes: number; headers: number },
): string[] {
  const ratioCell = (row: Row) =>
    row.ratio === undefined ? '' : `${format(row.ratio.value * 100, 1)}% of ${row.ratio.base}`;
  const targetCell = (row: Row) => {
    if (row.bound !== undefined) {
      const share = row.messagesPerSecond / row.bound.recordsPerSecond;
      return `${format(share * 100, 1)}% of P × syncs/s = ${format(row.bound.recordsPerSecond)} (${format(row.bound.syncsPerSecond)} syncs/s); ≥ ${row.bound.target * 100}%: ${verdict(share >= row.bound.target)}`;
    }
    if (row.ratio?.target === undefined) return '';
    return `≥ ${row.ratio.target * 100}% of ${row.ratio.base}: ${verdict(row.ratio.value >= row.ratio.target)}`;
  };
  const lines = [
    `| measurement (${durationMs} ms of publishing each; fsync 'always') | messages | messages/s | ÷ layer below | target (issue 16) |`,
    '| --- | ---: | ---: | ---: | --- |',
    ...rows.map(
      (row) =>
        `| ${row.name} | ${format(row.messages)} | ${format(row.messagesPerSecond)} | ${ratioCell(row)} | ${targetCell(row)} |`,
    ),
    '',
    '| open loop | delivered | achieved events/s | p50 ms | p99 ms | kept up | target (issue 16) |',
    '| --- | ---: | ---: | ---: | ---: | --- | --- |',
    ...rates.map(
      (rate) =>
        `| ${rate.name} | ${format(rate.delivered)} | ${format(rate.achievedPerSecond)} | ${format(rate.p50Ms, 2)} | ${format(rate.p99Ms, 2)} | ${rate.keptUp ? 'yes' : '**NO**'} | ${
          rate.p99MsTarget === undefined
            ? rate.ratePerSecond === 50_000
              ? `kept up: ${verdict(rate.keptUp)}`
              : ''
            : `p99 ≤ ${rate.p99MsTarget} ms: ${verdict(rate.keptUp && rate.p99Ms <= rate.p99MsTarget)}`
        } |`,
    ),
  ];
  lines.push(
    '',
    `Raw messages: ${rawBytes} B (100 B body + key); log records: 100 B values. Bus events: ${busMessage.bytes} B ` +
      `(CloudEvents envelope: JSON body + ${busMessage.headers} headers + key). ` +
      'Ratios compare messages per second within this run; "bus + idempotency" is the bus as `herald`\'s `createBus` sets it up (SQLite store beside the data).',
  );
  return lines;
}
