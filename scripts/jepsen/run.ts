/**
 * `npm run jepsen -- --minutes N --target herald|kafka [--seed S] [--history FILE] [--rate R]`: a
 * Jepsen-style run of the queue workload (R sends per second per producer, default 20) against
 * `herald serve` or real Apache Kafka (the control), with nemesis actions every 4-12 s, then the
 * checker's report as JSON. Exits 1 when the history shows
 * a lost acknowledged value, a per-key reordering or disagreeing offsets. Not shipped; see
 * docs/reliability.md ("Jepsen-style checker").
 */
import { parseArgs } from 'node:util';
import type { TargetName } from './targets.ts';
import { runJepsen } from './workload.ts';

const { values } = parseArgs({
  options: {
    minutes: { type: 'string', default: '1' },
    target: { type: 'string', default: 'herald' },
    seed: { type: 'string' },
    history: { type: 'string' },
    rate: { type: 'string', default: '20' },
  },
  strict: true,
});
const minutes = Number(values.minutes);
if (!(minutes > 0 && minutes <= 24 * 60))
  throw new Error(`--minutes must be in (0, 1440], got ${values.minutes}`);
if (values.target !== 'herald' && values.target !== 'kafka') {
  throw new Error(`--target must be herald or kafka, got ${values.target}`);
}
const seed = values.seed === undefined ? Math.floor(Math.random() * 2 ** 31) : Number(values.seed);
const log = (line: string) => process.stderr.write(`[jepsen ${new Date().toISOString()}] ${line}\n`);
log(`target ${values.target}, ${minutes} min, seed ${seed} (replay the nemesis with --seed ${seed})`);
const result = await runJepsen({
  target: values.target as TargetName,
  durationMs: minutes * 60_000,
  seed,
  sendsPerSecond: Number(values.rate),
  ...(values.history === undefined ? {} : { historyFile: values.history }),
  log,
});
const { examples, ...figures } = result.report;
process.stdout.write(
  `${JSON.stringify({ target: values.target, seed, minutes, elapsedS: Math.round(result.elapsedMs / 1000), ...figures, examples }, null, 2)}\n`,
);
process.exitCode = result.report.valid ? 0 : 1;
