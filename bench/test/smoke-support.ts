/**
 * What the benchmark smoke tests share: where `npm run bench` starts, the working tree's state
 * (a benchmark run must not change it), and the data directories a run leaves in the temporary
 * folder (it must leave none).
 */
import { execFileSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

/** The repository's root. */
const REPOSITORY_ROOT = path.join(import.meta.dirname, '..', '..');

/** `bench/run.ts`, the script behind `npm run bench`. */
export const BENCH_RUN = path.join(REPOSITORY_ROOT, 'bench', 'run.ts');

/** `git status --porcelain` of the working tree (untracked files included, ignored ones not). */
export function gitStatus(): string {
  return execFileSync('git', ['status', '--porcelain', '--untracked-files=all'], {
    cwd: REPOSITORY_ROOT,
    encoding: 'utf8',
    timeout: 30_000,
  });
}

/**
 * Notes the entries of `os.tmpdir()` that start with `prefix` now, and returns a function that
 * lists those added since: what a run left behind (entries of other runs, before or alongside,
 * are not counted).
 */
export function watchTemporaryEntries(prefix: string): () => string[] {
  const entries = (): string[] => readdirSync(tmpdir()).filter((name) => name.startsWith(prefix));
  const before = new Set(entries());
  return () => entries().filter((name) => !before.has(name));
}
