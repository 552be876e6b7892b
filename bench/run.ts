/**
 * `npm run bench -- <suite> [options]`: runs one benchmark suite, `bench/<suite>.ts` or, for a
 * suite split into modules, `bench/<suite>/index.ts`. Each suite exports
 * `run(args: string[]): Promise<void>` and prints its own tables.
 */
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';

const [suite, ...args] = process.argv.slice(2);
const suites = readdirSync(import.meta.dirname, { withFileTypes: true })
  .flatMap((entry) => {
    if (entry.name.startsWith('_')) return [];
    if (entry.isFile() && entry.name.endsWith('.ts') && entry.name !== 'run.ts')
      return [entry.name.slice(0, -3)];
    const index = path.join(import.meta.dirname, entry.name, 'index.ts');
    return entry.isDirectory() && existsSync(index) ? [entry.name] : [];
  })
  .sort();

if (suite === undefined || !suites.includes(suite)) {
  process.stderr.write(
    `usage: npm run bench -- <suite> [options]\nsuites: ${suites.join(', ') || '(none yet)'}\n`,
  );
  process.exit(suite === undefined ? 0 : 2);
}
const file = existsSync(path.join(import.meta.dirname, `${suite}.ts`))
  ? `./${suite}.ts`
  : `./${suite}/index.ts`;
const module = (await import(file)) as { run(args: string[]): Promise<void> };
await module.run(args);
