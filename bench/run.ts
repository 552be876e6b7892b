/**
 * `npm run bench -- <suite> [options]`: runs one benchmark suite from `bench/<suite>.ts`.
 * Each suite exports `run(args: string[]): Promise<void>` and prints its own tables.
 */
import { readdirSync } from 'node:fs';

const [suite, ...args] = process.argv.slice(2);
const suites = readdirSync(import.meta.dirname)
  .filter((name) => name.endsWith('.ts') && name !== 'run.ts' && !name.startsWith('_'))
  .map((name) => name.slice(0, -3));

if (suite === undefined || !suites.includes(suite)) {
  process.stderr.write(
    `usage: npm run bench -- <suite> [options]\nsuites: ${suites.join(', ') || '(none yet)'}\n`,
  );
  process.exit(suite === undefined ? 0 : 2);
}
const module = (await import(`./${suite}.ts`)) as { run(args: string[]): Promise<void> };
await module.run(args);
