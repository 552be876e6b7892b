/**
 * `npm run sim -- --seed N` replays one seed of the storage-fault simulation (scripts/sim/) and,
 * if it fails, prints the shrunk history; `npm run sim -- --seeds 100000 [--from S]` runs seeds S
 * to S + count - 1 and reports faults by kind, virtual and wall time. `--history '<json>'` with
 * `--seed` replays a printed (shrunk) history; `--generator 1` makes the histories of the first
 * generator (before `commit` steps). Exits 1 on the first failing seed.
 */
import { parseArgs } from 'node:util';
import {
  GENERATOR_LATEST,
  type GeneratorVersion,
  runHistory,
  runSeed,
  type SimResult,
  type Step,
  shrink,
} from './sim/simulation.ts';

const { values } = parseArgs({
  args: process.argv.slice(2),
  options: {
    seed: { type: 'string' },
    seeds: { type: 'string' },
    from: { type: 'string', default: '1' },
    steps: { type: 'string' },
    history: { type: 'string' },
    'progress-every': { type: 'string', default: '1000' },
    generator: { type: 'string' },
  },
});

function integer(name: string, text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const value = Number(text);
  if (!Number.isSafeInteger(value) || value < 0)
    throw new Error(`--${name} ${text} is not a non-negative integer`);
  return value;
}

function printFailure(result: SimResult): void {
  process.stdout.write(
    `seed ${result.seed} FAILED after step ${result.failedStep}: ${result.violation}\n` +
      `shrunk history (${result.history.length} steps; replay: npm run sim -- --seed ${result.seed} --history '<json>'):\n` +
      `${JSON.stringify(result.history)}\n`,
  );
  result.history.forEach((step, index) => {
    process.stdout.write(`  ${index}: ${JSON.stringify(step)}\n`);
  });
}

const steps = integer('steps', values.steps);
const generator = (integer('generator', values.generator) ?? GENERATOR_LATEST) as GeneratorVersion;
if (generator !== 1 && generator !== 2) throw new Error(`--generator ${generator}: versions are 1 and 2`);
const seed = integer('seed', values.seed);
if (seed !== undefined) {
  const history = values.history === undefined ? undefined : (JSON.parse(values.history) as Step[]);
  const result =
    history === undefined ? await runSeed(seed, steps, generator) : await runHistory(seed, history);
  if (result.violation === undefined) {
    process.stdout.write(
      `seed ${seed} passed: ${JSON.stringify({ ...result, history: result.history.length })}\n`,
    );
  } else {
    printFailure(await shrink(result));
    process.exitCode = 1;
  }
} else {
  const count = integer('seeds', values.seeds) ?? 200;
  const from = integer('from', values.from) ?? 1;
  const every = integer('progress-every', values['progress-every']) ?? 1000;
  const totals: Record<string, number> = {};
  let simulatedMs = 0;
  const started = performance.now();
  for (let at = from; at < from + count; at++) {
    const result = await runSeed(at, steps, generator);
    if (result.violation !== undefined) {
      printFailure(await shrink(result));
      process.exitCode = 1;
      break;
    }
    simulatedMs += result.simulatedMs;
    for (const [kind, value] of Object.entries(result.faults)) totals[kind] = (totals[kind] ?? 0) + value;
    totals.crashes = (totals.crashes ?? 0) + result.crashes;
    totals.fileSystemCalls = (totals.fileSystemCalls ?? 0) + result.fileSystemCalls;
    totals.corruptionDetected =
      (totals.corruptionDetected ?? 0) +
      Number(result.corruptionDetected.log) +
      Number(result.corruptionDetected.broker);
    totals.lostToFlips = (totals.lostToFlips ?? 0) + result.lostToFlips;
    totals.journalFlips = (totals.journalFlips ?? 0) + result.journalFlips;
    totals.journalCorruptionDetected =
      (totals.journalCorruptionDetected ?? 0) + Number(result.journalCorruptionDetected);
    totals.commits = (totals.commits ?? 0) + result.commits;
    totals.failedCommits = (totals.failedCommits ?? 0) + result.failedCommits;
    if ((at - from + 1) % every === 0 || at === from + count - 1) {
      const wallMs = performance.now() - started;
      process.stdout.write(
        `${at - from + 1} seeds (${from}..${at}) passed; wall ${(wallMs / 1000).toFixed(1)} s, simulated ${(simulatedMs / 3_600_000).toFixed(1)} h; ${JSON.stringify(totals)}\n`,
      );
    }
  }
}
// Abandoned instances of the last run may hold timers; the verdict is in, so leave now.
process.exit(process.exitCode ?? 0);
