/**
 * Pieces shared by the benchmark suites (not a suite: `bench/run.ts` skips files starting with `_`):
 * argument parsing (`--quick`, `--json`), number formatting, percentiles, markdown tables, a
 * progress bar on stderr, machine facts, temporary directories, an open-loop rate driver and an
 * SVG bar chart writer.
 *
 * Also CPU accounting and timed runs of external tools (`kafka.ts`). The servers benchmarks run
 * against (`herald serve`, Apache Kafka, the peer servers) start in `bench/_servers.ts`.
 */
import { spawn } from 'node:child_process';
import { copyFileSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { type ParseArgsOptionsConfig, parseArgs } from 'node:util';

/**
 * Where suites write what a run generates (JSON, SVG charts): git-ignored, so running a benchmark
 * never changes the working tree. Suites print where they wrote.
 */
export const RESULTS_DIR = path.join(import.meta.dirname, 'results');

/**
 * Where the charts docs/benchmarks.md shows are committed. Only an explicit `--publish-charts`
 * (`peers`, `checkout`) copies a run's charts there, so updating them is a deliberate commit.
 */
export const PUBLISHED_CHARTS_DIR = path.join(import.meta.dirname, '..', 'docs', 'benchmarks');

/**
 * Parses a suite's arguments: `--quick` and `--json` always, plus the string options named in
 * `strings` (`--name value`) and the boolean ones named in `flags` (`--name`). Unknown options
 * are refused, as `node:util` parseArgs does.
 */
export function parseBenchArgs(
  args: readonly string[],
  strings: readonly string[] = [],
  flags: readonly string[] = [],
): {
  quick: boolean;
  json: boolean;
  strings: Record<string, string | undefined>;
  flags: Record<string, boolean>;
} {
  const options: ParseArgsOptionsConfig = { quick: { type: 'boolean' }, json: { type: 'boolean' } };
  for (const name of strings) options[name] = { type: 'string' };
  for (const name of flags) options[name] = { type: 'boolean' };
  const { values } = parseArgs({ args: [...args], options });
  return {
    quick: values.quick === true,
    json: values.json === true,
    strings: Object.fromEntries(
      strings.map((name) => [name, typeof values[name] === 'string' ? values[name] : undefined]),
    ),
    flags: Object.fromEntries(flags.map((name) => [name, values[name] === true])),
  };
}

/** `value` with thousands separators and exactly `digits` decimals; '' for undefined. */
export function format(value: number | undefined, digits = 0): string {
  return value === undefined
    ? ''
    : value.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
}

/** A fraction as a percentage with one decimal ('' for undefined). */
export function percent(value: number | undefined): string {
  return value === undefined ? '' : `${format(value * 100, 1)}%`;
}

/** The value at `fraction` (0…1) of an ascending array, nearest-rank below; NaN when empty. */
export function percentile(sorted: readonly number[], fraction: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * fraction))] ?? Number.NaN;
}

/** The median of unsorted values. */
export function median(values: readonly number[]): number {
  const sorted = [...values].sort((left, right) => left - right);
  return sorted[Math.floor(sorted.length / 2)]!;
}

/** Latency summary of a sample, in the sample's unit. */
export interface LatencySummary {
  readonly count: number;
  readonly p50: number;
  readonly p99: number;
  readonly p999: number;
  readonly max: number;
}

/** Sorts a copy of `values` and summarises it (NaN figures when empty). */
export function summarize(values: readonly number[]): LatencySummary {
  const sorted = Float64Array.from(values).sort();
  const list = Array.from(sorted);
  return {
    count: list.length,
    p50: percentile(list, 0.5),
    p99: percentile(list, 0.99),
    p999: percentile(list, 0.999),
    max: list.at(-1) ?? Number.NaN,
  };
}

/** Column alignment in {@link markdownTable}. */
export type Align = 'left' | 'right';

/**
 * A markdown table: `headers`, then `rows` of cells. `align` gives each column's alignment
 * (default left); `separator` overrides the whole separator row for suites whose output is fixed.
 */
export function markdownTable(
  headers: readonly string[],
  rows: readonly (readonly string[])[],
  options: { readonly align?: readonly Align[]; readonly separator?: string } = {},
): string {
  const separator =
    options.separator ??
    `| ${headers.map((_, index) => (options.align?.[index] === 'right' ? '---:' : '---')).join(' | ')} |`;
  return [`| ${headers.join(' | ')} |`, separator, ...rows.map((row) => `| ${row.join(' | ')} |`)].join('\n');
}

/** One line of progress on stderr, prefixed with the suite's name. */
export function progressLine(suite: string, text: string): void {
  process.stderr.write(`${suite}: ${text}\n`);
}

/** A progress bar on stderr: redrawn in place on a terminal, one line per step otherwise. */
export interface ProgressBar {
  /** Marks one step done (or `steps`), showing `label` as the current activity. */
  tick(label: string, steps?: number): void;
  /** Shows `label` without advancing. */
  note(label: string): void;
  /** Adds steps to the total (a step count known only later). */
  grow(steps: number): void;
  /** Draws the bar full and ends the line. */
  done(): void;
}

export function progressBar(suite: string, total: number): ProgressBar {
  const tty = process.stderr.isTTY === true;
  const started = performance.now();
  let completed = 0;
  let all = Math.max(1, total);
  const draw = (label: string): void => {
    const fraction = Math.min(1, completed / all);
    const width = 24;
    const filled = Math.round(fraction * width);
    const elapsed = ((performance.now() - started) / 1000).toFixed(0);
    const text = `${suite} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${completed}/${all} ${elapsed}s ${label}`;
    if (tty) {
      const columns = process.stderr.columns ?? 120;
      process.stderr.write(`\r\x1b[2K${text.slice(0, columns - 1)}`);
    } else {
      process.stderr.write(`${text}\n`);
    }
  };
  return {
    tick(label, steps = 1) {
      completed += steps;
      draw(label);
    },
    note(label) {
      draw(label);
    },
    grow(steps) {
      all += steps;
    },
    done() {
      completed = all;
      draw('done');
      if (tty) process.stderr.write('\n');
    },
  };
}

/** What the numbers were measured on. */
export interface MachineFacts {
  readonly cores: number;
  readonly cpu: string;
  readonly memoryGiB: number;
  readonly node: string;
  readonly platform: string;
  /** 1, 5 and 15 minute load averages when read. */
  readonly loadAverage: readonly number[];
}

export function machineFacts(): MachineFacts {
  return {
    cores: os.availableParallelism(),
    cpu: os.cpus()[0]?.model ?? 'unknown',
    memoryGiB: Math.round((os.totalmem() / 1024 ** 3) * 10) / 10,
    node: process.version,
    platform: `${os.platform()} ${os.release()} ${os.arch()}`,
    loadAverage: os.loadavg().map((load) => Math.round(load * 100) / 100),
  };
}

/** True when the 1-minute load average is at or above the number of cores (the machine is busy). */
export function loadIsHigh(loadAverage: readonly number[], cores: number): boolean {
  return (loadAverage[0] ?? 0) >= cores;
}

/** A fresh directory under the OS temp dir; `remove()` deletes it with its content. */
export async function tempDir(prefix: string): Promise<{ readonly path: string; remove(): Promise<void> }> {
  const directory = await mkdtemp(path.join(os.tmpdir(), `${prefix}-`));
  return { path: directory, remove: () => rm(directory, { recursive: true, force: true }) };
}

/** Resolves after `ms` milliseconds. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** What {@link openLoop} did. */
export interface OpenLoopResult {
  /** Sends started. */
  readonly sent: number;
  /** Sends that resolved (the failures are in `failed`). */
  readonly completed: number;
  readonly failed: number;
  /** Sends the schedule called for in the time the loop ran. */
  readonly scheduled: number;
  /** Seconds from the first scheduled send to the last completion. */
  readonly seconds: number;
  /** True when the loop stopped early because more than `outstandingMax` sends were unfinished. */
  readonly saturated: boolean;
}

/**
 * Open-loop driver: starts `send(index, scheduledMs)` at `ratePerSecond`, each at its scheduled
 * time (`performance.now()` clock) whether or not earlier sends finished, so a slow system queues
 * work exactly as real arrivals would and latencies measured from `scheduledMs` include that
 * queueing (no coordinated omission). Sends that fall due while the event loop is busy start as
 * soon as it is free, still stamped with their scheduled time. Bounded by `count` sends and by
 * `durationMs`; stops early (`saturated`) when more than `outstandingMax` sends are unfinished or
 * when `isBacklogged()` says the consumer side is too far behind. Waits for every started send.
 */
export async function openLoop(options: {
  readonly ratePerSecond: number;
  readonly durationMs: number;
  readonly count: number;
  readonly outstandingMax: number;
  readonly isBacklogged?: () => boolean;
  readonly send: (index: number, scheduledMs: number) => Promise<void>;
}): Promise<OpenLoopResult> {
  const { ratePerSecond, durationMs, count, outstandingMax, send } = options;
  const intervalMs = 1000 / ratePerSecond;
  const total = Math.min(count, Math.max(1, Math.floor((durationMs / 1000) * ratePerSecond)));
  const pending = new Set<Promise<void>>();
  let sent = 0;
  let completed = 0;
  let failed = 0;
  let saturated = false;
  let lastDoneMs = 0;
  const startMs = performance.now();
  // Bounded by `total` sends and by the saturation checks.
  while (sent < total) {
    const due = Math.min(total, Math.floor((performance.now() - startMs) / intervalMs) + 1);
    while (sent < due) {
      if (pending.size > outstandingMax || options.isBacklogged?.() === true) {
        saturated = true;
        break;
      }
      const scheduledMs = startMs + sent * intervalMs;
      const promise: Promise<void> = send(sent, scheduledMs).then(
        () => {
          completed += 1;
          lastDoneMs = performance.now();
          pending.delete(promise);
        },
        () => {
          failed += 1;
          lastDoneMs = performance.now();
          pending.delete(promise);
        },
      );
      pending.add(promise);
      sent += 1;
    }
    if (saturated) break;
    const nextMs = startMs + sent * intervalMs - performance.now();
    // setTimeout's floor is about 1 ms: at high rates a wake-up sends every send that fell due.
    await sleep(Math.max(0, Math.min(nextMs, 50)));
  }
  const scheduled = Math.min(total, Math.floor((performance.now() - startMs) / intervalMs) + 1);
  await Promise.all(pending);
  return {
    sent,
    completed,
    failed,
    scheduled,
    seconds: (Math.max(lastDoneMs, performance.now()) - startMs) / 1000,
    saturated,
  };
}

/** One bar of {@link barChartSvg}. */
export interface Bar {
  readonly label: string;
  /** Undefined or NaN: drawn as "n/a". */
  readonly value: number | undefined;
  readonly colour?: string;
  /** A short note under the label (e.g. a durability class). */
  readonly note?: string;
}

function escapeXml(text: string): string {
  return text.replace(
    /[<>&"]/g,
    (char) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;' })[char]!,
  );
}

/**
 * A hand-written horizontal SVG bar chart: one bar per entry, the value printed at its end, and an
 * optional dashed reference line (a measured limit). `logScale` for values spanning decades.
 */
export function barChartSvg(options: {
  readonly title: string;
  readonly unit: string;
  readonly bars: readonly Bar[];
  readonly reference?: { readonly label: string; readonly value: number };
  readonly logScale?: boolean;
}): string {
  const { title, unit, bars, reference } = options;
  const width = 900;
  const labelWidth = 340;
  const rowHeight = 26;
  const top = 48;
  const plotWidth = width - labelWidth - 110;
  const height = top + bars.length * rowHeight + 44;
  const values = bars.map((bar) => bar.value).filter((value): value is number => Number.isFinite(value));
  const max = Math.max(reference?.value ?? 0, ...values, 1e-9);
  const min = Math.min(...values.filter((value) => value > 0), reference?.value ?? Number.POSITIVE_INFINITY);
  const logFloor = Number.isFinite(min) ? 10 ** Math.floor(Math.log10(min)) : 1;
  const scale = (value: number): number => {
    if (options.logScale === true) {
      const span = Math.log10(max) - Math.log10(logFloor) || 1;
      return (Math.max(0, Math.log10(Math.max(value, logFloor)) - Math.log10(logFloor)) / span) * plotWidth;
    }
    return (value / max) * plotWidth;
  };
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif" font-size="11">`,
    `<rect width="${width}" height="${height}" fill="white"/>`,
    `<text x="10" y="22" font-size="14" font-weight="bold">${escapeXml(title)}</text>`,
    `<text x="10" y="38" fill="#555">${escapeXml(unit)}${options.logScale === true ? ' (log scale)' : ''}</text>`,
  ];
  bars.forEach((bar, index) => {
    const y = top + index * rowHeight;
    const label = bar.note === undefined ? bar.label : `${bar.label} · ${bar.note}`;
    parts.push(
      `<text x="${labelWidth - 6}" y="${y + 15}" text-anchor="end">${escapeXml(label.length > 52 ? `${label.slice(0, 51)}…` : label)}</text>`,
    );
    if (bar.value === undefined || !Number.isFinite(bar.value)) {
      parts.push(`<text x="${labelWidth + 4}" y="${y + 15}" fill="#999">n/a</text>`);
      return;
    }
    const barWidth = Math.max(1, scale(bar.value));
    parts.push(
      `<rect x="${labelWidth}" y="${y + 3}" width="${barWidth.toFixed(1)}" height="${rowHeight - 8}" fill="${bar.colour ?? '#2e86de'}"/>`,
      `<text x="${(labelWidth + barWidth + 4).toFixed(1)}" y="${y + 15}">${escapeXml(format(bar.value, bar.value < 10 ? 2 : 0))}</text>`,
    );
  });
  if (reference !== undefined && reference.value > 0) {
    const x = labelWidth + scale(reference.value);
    const bottom = top + bars.length * rowHeight;
    parts.push(
      `<line x1="${x.toFixed(1)}" x2="${x.toFixed(1)}" y1="${top - 4}" y2="${bottom + 4}" stroke="#d9534f" stroke-dasharray="4 3"/>`,
      `<text x="${x.toFixed(1)}" y="${bottom + 18}" text-anchor="middle" fill="#d9534f">${escapeXml(`${reference.label} ${format(reference.value, reference.value < 10 ? 2 : 0)}`)}</text>`,
    );
  }
  parts.push('</svg>');
  return `${parts.join('\n')}\n`;
}

/** Writes `content` to `directory/name`, creating the directory; returns the path. */
export function writeResult(directory: string, name: string, content: string): string {
  mkdirSync(directory, { recursive: true });
  const file = path.join(directory, name);
  writeFileSync(file, content);
  return file;
}

/**
 * Copies a run's chart files into {@link PUBLISHED_CHARTS_DIR} (the committed charts the docs
 * show, same file names); returns the copies' paths.
 */
export function publishCharts(files: readonly string[]): string[] {
  mkdirSync(PUBLISHED_CHARTS_DIR, { recursive: true });
  return files.map((file) => {
    const copy = path.join(PUBLISHED_CHARTS_DIR, path.basename(file));
    copyFileSync(file, copy);
    return copy;
  });
}

/** Says on stderr (stdout may be JSON) where a suite wrote its results, relative to the working directory. */
export function reportWritten(suite: string, files: readonly string[], what = 'results'): void {
  const shown = files.map((file) => {
    const relative = path.relative(process.cwd(), file);
    return relative === '' || relative.startsWith('..') ? file : relative;
  });
  process.stderr.write(`${suite}: ${what} written to ${shown.join(', ')}\n`);
}

/**
 * CPU seconds (user + system) process `pid` has used so far, from `/proc/<pid>/stat` (Linux, in
 * clock ticks of 1/100 s); undefined where that is not readable.
 */
export function processCpuSeconds(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  try {
    // Fields after the parenthesised command name; utime and stime are the 14th and 15th fields.
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return undefined;
  }
}

/** A clock tick of `/proc`'s CPU times in µs (Linux's USER_HZ is 100). */
export const CPU_TICK_US = 10_000;

/**
 * Clock ticks of user + system time of each thread of this process, keyed by `name#tid`, from
 * `/proc/self/task/TID/stat` (fields 14 and 15); undefined where there is none (not Linux). A tick
 * is {@link CPU_TICK_US}, so over 40,000 messages a thread's figure is within 0.25 µs.
 */
export function threadCpuTicks(): Map<string, number> | undefined {
  let tasks: string[];
  try {
    tasks = readdirSync('/proc/self/task');
  } catch {
    return undefined;
  }
  const ticks = new Map<string, number>();
  for (const task of tasks) {
    let stat: string;
    try {
      stat = readFileSync(`/proc/self/task/${task}/stat`, 'utf8');
    } catch {
      continue; // The thread ended meanwhile.
    }
    // The name is in parentheses and may hold spaces: the fields after it are split.
    const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    ticks.set(`${name}#${task}`, Number(fields[11]) + Number(fields[12]));
  }
  return ticks;
}

/** CPU seconds (user + system, every thread) this process used since `since` (`process.cpuUsage()`). */
export function ownCpuSeconds(since: NodeJS.CpuUsage): number {
  const used = process.cpuUsage(since);
  return (used.user + used.system) / 1e6;
}

/**
 * Runs `command` with `args` (stdout discarded) and resolves its wall time in seconds; rejects
 * with its stderr when it exits non-zero.
 */
export function runTimed(command: string, args: readonly string[]): Promise<number> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(command, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0) reject(new Error(`${command} ${args.join(' ')} exited with ${code}: ${stderr}`));
      else resolve((performance.now() - started) / 1000);
    });
  });
}
