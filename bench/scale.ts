/**
 * `npm run bench -- scale [--events 1000000,10000000] [--quick] [--json]`: what a broker holding
 * many retained events costs, and how that grows with the retained count.
 *
 * Fills 100 topics × 4 partitions (`--topics`, `--partitions`) with 100-byte keyless events,
 * published 100 per call (one stored batch each, fsync 'never': the fill is not what is measured),
 * up to each size of `--events` in turn, in one temporary directory. At each size a fresh child
 * process (`bench/_scale-child.ts`, so the RSS is the broker's alone) measures:
 * - open: time to open the embedded transport over every topic after a clean close (indexes and
 *   checkpoints present), then RSS and heap after a full GC, and the descriptors held;
 * - catch-up, transport: a new group subscribes to the first `--consume-topics` topics (10) and
 *   acks every message from offset 0; messages/s until the last one is handled, and the peak RSS;
 * - catch-up, bus: `createBus` on the same broker, a new group handling a separate `scale-bus`
 *   topic of `--bus-events` (1,000,000) CloudEvents (filled once, counted apart from the retained
 *   events), messages/s. A million, not the 200,000 of before: a catch-up of 200,000 takes about
 *   0.6 s, of which the compiler's warm-up was a third (measured 230k–314k msg/s over 200,000,
 *   321k–352k over 1,000,000 in the same kind of run);
 * - recovery: every `partition.checkpoint`, `.index` and `.timeindex` removed, as after a crash
 *   before the first checkpoint, so opening validates every byte of every log (CRC-32C, dense
 *   offsets) and rebuilds the indexes.
 * The catch-up reads come from the page cache (the data was just written and fits in memory), so
 * they measure the broker's CPU cost, not the disk.
 *
 * Markdown table on stdout (or JSON with `--json`), progress on stderr. The directory is removed
 * at the end, whatever happens. `--quick` is the CI smoke size (20,000 and 200,000 events).
 */
import { execFile } from 'node:child_process';
import { readdirSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import { type Broker, openBroker } from '@herald/broker';
import { createBus, type Transport, type TransportMessage } from '@herald/bus';
import {
  format,
  loadIsHigh,
  machineFacts,
  markdownTable,
  parseBenchArgs,
  progressBar,
  tempDir,
} from './_common.ts';
import type { ChildOptions, ChildReport } from './_scale-child.ts';
import { ScaleEvent } from './_scale-child.ts';

const CHILD = path.join(import.meta.dirname, '_scale-child.ts');
const MESSAGE_BYTES = 100;
/** Messages per publish call while filling: one stored batch. */
const FILL_BATCH_MESSAGES = 100;
/** Publish calls outstanding while filling. */
const FILL_CALLS_OUTSTANDING = 32;
/** Longest a measuring child may run before it is killed. */
const CHILD_TIMEOUT_MS = 20 * 60_000;
/** Targets from issue 16 part 3. */
const TARGETS = {
  rssBytesMax: 150 * 1024 * 1024,
  openMsMax: 1000,
  recoveryMsMax: 1000,
  transportPerSecondMin: 1_000_000,
  busPerSecondMin: 300_000,
} as const;

/** Everything measured at one retained size. */
interface SizeReport {
  readonly events: number;
  readonly logBytes: number;
  readonly open: ChildReport;
  readonly bus: ChildReport;
  readonly recovery: ChildReport;
  readonly consumedMessages: number;
}

function topicName(topic: number): string {
  return `scale-${String(topic).padStart(3, '0')}`;
}

/** Bytes of every `.log` file under `directory` (the partitions are its direct subdirectories). */
function logBytes(directory: string): number {
  let total = 0;
  for (const entry of readdirSync(directory, { withFileTypes: true })) {
    if (!entry.isDirectory()) continue;
    for (const file of readdirSync(path.join(directory, entry.name))) {
      if (file.endsWith('.log')) total += statSync(path.join(directory, entry.name, file)).size;
    }
  }
  return total;
}

/**
 * Removes every checkpoint and index file, so the next open validates and re-indexes all logs;
 * returns how many it removed.
 */
export function forgetIndexes(directory: string): number {
  let removed = 0;
  for (const entry of readdirSync(directory, { withFileTypes: true })) {
    if (!entry.isDirectory()) continue;
    for (const file of readdirSync(path.join(directory, entry.name))) {
      if (file === 'partition.checkpoint' || file.endsWith('.index') || file.endsWith('.timeindex')) {
        rmSync(path.join(directory, entry.name, file));
        removed++;
      }
    }
  }
  return removed;
}

/** Publishes keyless 100-byte events round-robin over the topics until `from + count` in all. */
async function fill(
  broker: Broker,
  topics: number,
  count: number,
  onProgress: (messages: number) => void,
): Promise<void> {
  const body = new Uint8Array(MESSAGE_BYTES).fill(7);
  const batch: TransportMessage[] = Array.from({ length: FILL_BATCH_MESSAGES }, () => ({
    key: undefined,
    headers: {},
    body,
  }));
  const calls = Math.ceil(count / FILL_BATCH_MESSAGES);
  let next = 0;
  const worker = async (): Promise<void> => {
    // Bounded by `calls`.
    while (next < calls) {
      const call = next++;
      const size = Math.min(FILL_BATCH_MESSAGES, count - call * FILL_BATCH_MESSAGES);
      await broker.publish(
        topicName(call % topics),
        size === FILL_BATCH_MESSAGES ? batch : batch.slice(0, size),
      );
      onProgress(size);
    }
  };
  await Promise.all(Array.from({ length: FILL_CALLS_OUTSTANDING }, worker));
}

/** Publishes `count` bus events to the bus topic: captured once through a bus, then copied with fresh ids. */
export async function fillBusTopic(broker: Broker, count: number): Promise<void> {
  const captured: TransportMessage[] = [];
  const capture: Transport = {
    name: 'capture',
    features: {
      consumerGroups: false,
      persistent: false,
      replaysToNewGroups: false,
      orderedPerKey: false,
      exactlyOnce: false,
      messageBytesMax: 1024 * 1024,
    },
    publish: async (_topic, messages) => {
      captured.push(...messages);
    },
    subscribe: () => Promise.reject(new Error('the capturing transport only publishes')),
    close: async () => {},
  };
  // No announcement: the first captured message must be the ScaleEvent this template copies.
  const bus = createBus({ transport: capture, source: '/bench/scale', announce: false });
  await bus.start();
  await bus.publish(ScaleEvent, { id: 1, note: 'x'.repeat(MESSAGE_BYTES - 20) });
  await bus.stop();
  const template = captured[0]!;
  const idHeader = Object.keys(template.headers).find((name) => /(^|[-_])id$/.test(name));
  for (let sent = 0; sent < count; sent += FILL_BATCH_MESSAGES) {
    const messages = Array.from({ length: Math.min(FILL_BATCH_MESSAGES, count - sent) }, (_, index) => ({
      ...template,
      headers:
        idHeader === undefined
          ? template.headers
          : { ...template.headers, [idHeader]: `scale-${sent + index}` },
    }));
    await broker.publish(ScaleEvent.topic, messages);
  }
}

/** Runs `bench/_scale-child.ts` and parses its report. */
function measure(
  mode: 'open' | 'bus' | 'recover',
  directory: string,
  options: ChildOptions,
): Promise<ChildReport> {
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      ['--expose-gc', CHILD, mode, directory, JSON.stringify(options)],
      { timeout: CHILD_TIMEOUT_MS, maxBuffer: 16 * 1024 * 1024 },
      (error, stdout, stderr) => {
        if (error !== null) {
          reject(new Error(`scale child (${mode}) failed: ${error.message}\n${stderr.slice(-2000)}`));
          return;
        }
        resolve(JSON.parse(stdout.trim().split('\n').at(-1)!) as ChildReport);
      },
    );
  });
}

function mebibytes(bytes: number): string {
  return format(bytes / (1024 * 1024), 1);
}

function rate(report: ChildReport): number {
  return report.caughtUp === undefined ? Number.NaN : report.caughtUp.messages / report.caughtUp.seconds;
}

/** "flat", "linear" or "×n" from the first to the last size, for the growth column. */
function growth(first: number, last: number, sizeRatio: number): string {
  const ratio = last / first;
  if (!Number.isFinite(ratio)) return '';
  const label = ratio < 1.5 ? 'flat' : ratio > sizeRatio * 0.6 ? 'linear' : 'sub-linear';
  return `×${format(ratio, 2)} (${label})`;
}

function printReport(reports: readonly SizeReport[], options: { topics: number; partitions: number }): void {
  const facts = machineFacts();
  const first = reports[0]!;
  const last = reports.at(-1)!;
  const sizeRatio = last.events / first.events;
  const rows: [string, (report: SizeReport) => number, (value: number) => string, string][] = [
    ['log bytes on disk (MiB)', (report) => report.logBytes, mebibytes, ''],
    ['open, clean (ms)', (report) => report.open.openMs, (value) => format(value), '≤ 1,000'],
    ['RSS before open (MiB)', (report) => report.open.rssBytesBeforeOpen, mebibytes, ''],
    ['RSS after open (MiB)', (report) => report.open.rssBytesAfterOpen, mebibytes, '≤ 150'],
    [
      'RSS added by the open (MiB)',
      (report) => report.open.rssBytesAfterOpen - report.open.rssBytesBeforeOpen,
      mebibytes,
      '',
    ],
    ['heap after open (MiB)', (report) => report.open.heapBytesAfterOpen, mebibytes, ''],
    ['descriptors after open', (report) => report.open.descriptorsAfterOpen, (value) => format(value), ''],
    [
      'recovery, no checkpoint or index (ms)',
      (report) => report.recovery.openMs,
      (value) => format(value),
      '≤ 1,000 for 1 GB',
    ],
    [
      'recovery rate (MiB/s validated)',
      (report) => report.logBytes / (report.recovery.openMs / 1000),
      mebibytes,
      '≥ 1,000',
    ],
    ['catch-up, transport (messages)', (report) => report.consumedMessages, (value) => format(value), ''],
    [
      'catch-up, transport (messages/s)',
      (report) => rate(report.open),
      (value) => format(value),
      '≥ 1,000,000',
    ],
    [
      'peak RSS during transport catch-up (MiB)',
      (report) => report.open.caughtUp?.rssBytesMax ?? Number.NaN,
      mebibytes,
      '',
    ],
    ['catch-up, bus (messages/s)', (report) => rate(report.bus), (value) => format(value), '≥ 300,000'],
    [
      'peak RSS during bus catch-up (MiB)',
      (report) => report.bus.caughtUp?.rssBytesMax ?? Number.NaN,
      mebibytes,
      '',
    ],
  ];
  const lines = [
    `### Scale: ${options.topics} topics × ${options.partitions} partitions, ${MESSAGE_BYTES}-byte events`,
    '',
    `Machine: ${facts.cores} cores (${facts.cpu}), ${facts.memoryGiB} GiB, Node ${facts.node}, ${facts.platform}; ` +
      `load average ${facts.loadAverage.join(' / ')}${loadIsHigh(facts.loadAverage, facts.cores) ? ' (busy: figures are pessimistic)' : ''}.`,
    '',
    markdownTable(
      ['measure', ...reports.map((report) => `${format(report.events)} events`), 'growth', 'target'],
      rows.map(([name, value, show, target]) => [
        name,
        ...reports.map((report) => show(value(report))),
        reports.length > 1 ? growth(value(first), value(last), sizeRatio) : '',
        target,
      ]),
      { align: ['left', ...reports.map(() => 'right' as const), 'left', 'left'] },
    ),
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
}

/** Parses `--events 1000000,10000000`. */
function sizesOf(text: string): number[] {
  const sizes = text.split(',').map((part) => Number(part.replaceAll('_', '')));
  if (sizes.some((size) => !Number.isSafeInteger(size) || size < 1)) {
    throw new Error(`--events takes ascending positive integers separated by commas, got ${text}`);
  }
  return sizes.sort((left, right) => left - right);
}

export async function run(args: string[]): Promise<void> {
  const { quick, json, strings } = parseBenchArgs(args, [
    'events',
    'topics',
    'partitions',
    'consume-topics',
    'bus-events',
  ]);
  const sizes = sizesOf(strings.events ?? (quick ? '20000,200000' : '1000000,10000000'));
  const topics = Number(strings.topics ?? 100);
  const partitions = Number(strings.partitions ?? 4);
  const consumeTopics = Math.min(topics, Number(strings['consume-topics'] ?? 10));
  const busEvents = Number(strings['bus-events'] ?? (quick ? 20_000 : 1_000_000));
  const directory = await tempDir('herald-bench-scale');
  const bar = progressBar('scale', sizes.at(-1)! + busEvents + sizes.length * 3);
  const reports: SizeReport[] = [];
  const childTimeoutMs = CHILD_TIMEOUT_MS - 60_000;
  try {
    let filled = 0;
    for (const size of sizes) {
      const broker = await openBroker({ dir: directory.path, partitions, fsync: 'never' });
      try {
        if (filled === 0) {
          for (let topic = 0; topic < topics; topic++)
            await broker.createTopic(topicName(topic), { partitions });
          bar.note('filling the bus topic');
          await fillBusTopic(broker, busEvents);
          bar.tick('bus topic filled', busEvents);
        }
        let shown = 0;
        const step = Math.max(FILL_BATCH_MESSAGES, Math.floor((sizes.at(-1)! + busEvents) / 100));
        await fill(broker, topics, size - filled, (messages) => {
          shown += messages;
          // One progress line per 1% of the whole fill.
          if (shown >= step) {
            bar.tick(`filling to ${format(size)}`, shown);
            shown = 0;
          }
        });
        if (shown > 0) bar.tick(`filled to ${format(size)}`, shown);
        filled = size;
      } finally {
        await broker.close();
      }
      const sample = Array.from({ length: consumeTopics }, (_, topic) => topicName(topic));
      // Keyless calls go round-robin over the topics, so each holds its share of the calls.
      const consumedMessages = Math.round((size * consumeTopics) / topics);
      bar.note(`${format(size)}: open and catch-up`);
      const open = await measure('open', directory.path, {
        topics: sample,
        messages: consumedMessages,
        timeoutMs: childTimeoutMs,
      });
      bar.tick(`${format(size)}: bus catch-up`);
      const bus = await measure('bus', directory.path, {
        topics: [ScaleEvent.topic],
        messages: busEvents,
        timeoutMs: childTimeoutMs,
      });
      bar.tick(`${format(size)}: recovery`);
      forgetIndexes(directory.path);
      const recovery = await measure('recover', directory.path, {
        topics: [],
        messages: 0,
        timeoutMs: childTimeoutMs,
      });
      bar.tick(`${format(size)} done`);
      reports.push({
        events: size,
        logBytes: logBytes(directory.path),
        open,
        bus,
        recovery,
        consumedMessages,
      });
    }
    bar.done();
  } finally {
    await directory.remove();
  }
  if (json) {
    process.stdout.write(
      `${JSON.stringify({ suite: 'scale', machine: machineFacts(), targets: TARGETS, topics, partitions, reports }, null, 2)}\n`,
    );
  } else {
    printReport(reports, { topics, partitions });
  }
}
