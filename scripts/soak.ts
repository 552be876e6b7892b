/**
 * `npm run soak -- <suite> [options]`: long-running durability runs kept out of CI's time budget.
 * Each suite lives in `scripts/soak-<suite>.ts` and exports `run(args: string[]): Promise<void>`.
 */
import { readdirSync } from 'node:fs';

const [suite, ...args] = process.argv.slice(2);
const suites = readdirSync(import.meta.dirname)
  .filter((name) => name.startsWith('soak-') && name.endsWith('.ts'))
  .map((name) => name.slice('soak-'.length, -3));

if (suite === undefined || !suites.includes(suite)) {
  process.stderr.write(
    `usage: npm run soak -- <suite> [options]\nsuites: ${suites.join(', ') || '(none yet)'}\n`,
  );
  process.exit(suite === undefined ? 0 : 2);
}
const module = (await import(`./soak-${suite}.ts`)) as { run(args: string[]): Promise<void> };
await module.run(args);
