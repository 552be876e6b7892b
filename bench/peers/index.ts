/**
 * `npm run bench -- peers [--quick] [--json] [--messages N] [--payload BYTES] [--systems a,b]
 * [--out DIR] [--publish-charts]`: Herald next to the brokers users would pick instead, side by
 * side in one run, after measuring what this machine allows. See docs/benchmarks.md for what each
 * row means and how to read it.
 *
 * - `limits.ts`: the machine's limits, measured first.
 * - `systems/`: one file per system, each at a named durability class, listed in
 *   `systems/index.ts`; `system.ts` is the contract (adding a system: one file, one registry line).
 * - `scenarios.ts`: what each row runs, per payload size (100 B, 1 KiB).
 * - `report.ts`, `charts.ts`: markdown on stdout (JSON with `--json`), JSON and SVG charts in the
 *   git-ignored `bench/results/` (or `--out`); `--publish-charts` also copies the charts to
 *   `docs/benchmarks/`, the ones the docs show. Progress bar on stderr.
 *
 * Peer servers that are down are started; a peer that still cannot be reached is skipped with the
 * reason printed. Everything declared on a peer is deleted at the end.
 */
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import {
  loadIsHigh,
  machineFacts,
  type ProgressBar,
  parseBenchArgs,
  progressBar,
  publishCharts,
  RESULTS_DIR,
  reportWritten,
  tempDir,
  writeResult,
} from '../_common.ts';
import { writeCharts } from './charts.ts';
import { openSystems, runContext } from './context.ts';
import { measureLimits } from './limits.ts';
import { markdownReport, type Report } from './report.ts';
import { type Budget, type Measurement, measure, SCENARIOS } from './scenarios.ts';
import type { System } from './system.ts';
import { SYSTEMS } from './systems/index.ts';

const SUITE = 'peers';
const MEBIBYTE = 1024 * 1024;
/** Progress steps {@link measureLimits} ticks. */
const LIMIT_STEPS = 4;
/** Client libraries whose versions the report prints. */
const CLIENTS = ['amqplib', 'nats', 'ioredis'] as const;

interface Options {
  readonly quick: boolean;
  readonly json: boolean;
  readonly budget: Budget;
  readonly payloads: readonly number[];
  /** Row ids from `--systems`; undefined for all. */
  readonly wanted: readonly string[] | undefined;
  readonly outDirectory: string;
  readonly publish: boolean;
}

function parseOptions(args: string[]): Options {
  const parsed = parseBenchArgs(args, ['messages', 'payload', 'systems', 'out'], ['publish-charts']);
  const { quick, json, strings: values } = parsed;
  const budget: Budget = {
    durationMs: quick ? 400 : 2500,
    messages: values.messages === undefined ? (quick ? 50_000 : 500_000) : Number(values.messages),
    drainMs: quick ? 5000 : 15_000,
    warmUpMs: quick ? 10_000 : 30_000,
  };
  if (!Number.isInteger(budget.messages) || budget.messages < 10)
    throw new Error('--messages: an integer ≥ 10');
  const payloads = values.payload === undefined ? (quick ? [100] : [100, 1024]) : [Number(values.payload)];
  if (payloads.some((bytes) => !Number.isInteger(bytes) || bytes < 16 || bytes > MEBIBYTE)) {
    throw new Error('--payload: bytes from 16 to 1 MiB');
  }
  return {
    quick,
    json,
    budget,
    payloads,
    wanted: values.systems?.split(',').map((id) => id.trim()),
    outDirectory: values.out ?? RESULTS_DIR,
    publish: parsed.flags['publish-charts'] === true,
  };
}

/** Every scenario of every payload size on every system that runs it, in the report's order. */
async function measureAll(
  systems: readonly System[],
  options: Options,
  progress: ProgressBar,
): Promise<Measurement[]> {
  progress.grow(
    options.payloads.length *
      systems.reduce((sum, system) => sum + (system.scenarios?.length ?? SCENARIOS.length), 0),
  );
  const measurements: Measurement[] = [];
  for (const payloadBytes of options.payloads) {
    for (const info of SCENARIOS) {
      for (const system of systems) {
        if (system.scenarios !== undefined && !system.scenarios.includes(info.id)) continue;
        progress.note(`${payloadBytes} B ${info.id}: ${system.label}`);
        measurements.push(await measure(system, info, payloadBytes, options.budget));
        progress.tick(`${payloadBytes} B ${info.id}: ${system.label}`);
      }
    }
  }
  return measurements;
}

function clientVersions(): Record<string, string> {
  const versions: Record<string, string> = {};
  for (const name of CLIENTS) {
    const file = path.join(import.meta.dirname, `../../node_modules/${name}/package.json`);
    if (fs.existsSync(file))
      versions[name] = (JSON.parse(fs.readFileSync(file, 'utf8')) as { version: string }).version;
  }
  return versions;
}

/** Writes the JSON and charts (and publishes the charts when asked), then prints the report. */
function output(report: Report, options: Options): void {
  const chartFiles = writeCharts(report, options.outDirectory);
  const jsonText = `${JSON.stringify(report, null, 2)}\n`;
  const jsonFile = writeResult(options.outDirectory, 'peers.json', jsonText);
  reportWritten(SUITE, [jsonFile, ...chartFiles]);
  if (options.publish) reportWritten(SUITE, publishCharts(chartFiles), 'published charts');
  const charts = chartFiles.map((file) => path.relative(process.cwd(), file));
  process.stdout.write(options.json ? jsonText : markdownReport(report, charts));
}

/** Entry point used by `bench/run.ts`. */
export async function run(args: string[]): Promise<void> {
  const options = parseOptions(args);
  const entries = SYSTEMS.filter((entry) => options.wanted?.includes(entry.id) ?? true);
  const facts = machineFacts();
  const scratch = await tempDir('herald-peers-bench');
  const progress = progressBar(SUITE, LIMIT_STEPS + entries.length);
  const context = runContext(randomUUID().slice(0, 8), scratch.path, progress);
  let systems: System[] = [];
  try {
    if (loadIsHigh(facts.loadAverage, facts.cores)) {
      progress.note(
        `warning: load average ${facts.loadAverage[0]} on ${facts.cores} cores; figures will be noisy`,
      );
    }
    const limits = await measureLimits(scratch.path, options.quick ? 300 : 1500, progress);
    const opened = await openSystems(entries, context, progress);
    systems = opened.systems;
    const measurements = await measureAll(systems, options, progress);
    progress.done();
    output(
      {
        suite: 'peers',
        quick: options.quick,
        budget: options.budget,
        payloads: options.payloads,
        machine: { ...facts, loadAverageEnd: machineFacts().loadAverage },
        versions: { node: process.version, ...Object.fromEntries(context.versions), ...clientVersions() },
        limits,
        systems: systems.map(({ id, label, durability, durabilityNote, rawPeer, emulator }) => ({
          id,
          label,
          durability,
          durabilityNote,
          ...(rawPeer === undefined ? {} : { rawPeer }),
          ...(emulator === undefined ? {} : { emulator }),
        })),
        skipped: opened.skipped,
        notes: context.notes,
        measurements,
      },
      options,
    );
  } finally {
    for (const system of systems.reverse()) await system.close().catch(() => {});
    await context.close();
    await scratch.remove();
  }
}
