/**
 * `npm run build`: compiles every publishable package (packages/*, not private) to its `dist/`:
 * ESM `.js`, `.d.ts`, source maps and declaration maps, relative `.ts` specifiers rewritten to `.js`,
 * then a package's `scripts/build-assets.ts` when it has one (the console's page bundle).
 * One tsc per package over `src/` (and `bin/` when present), in dependency order, two at a time;
 * each compile resolves sibling packages through their built `dist/*.d.ts` (tsconfig.build.json
 * clears the `@herald/source` condition), so a package is built only after what it imports.
 *
 * `npm run build -- @herald/bus herald` builds only those (their dependencies must be built).
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { publicPackages, ROOT, type WorkspacePackage } from './workspace-packages.ts';

const CONCURRENCY = 2;
const TSC = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
const CONFIG_DIR = join(ROOT, 'node_modules', '.cache', 'herald-build');

/** Writes the package's generated tsconfig (absolute paths, so nothing is committed per package). */
function writeConfig(workspacePackage: WorkspacePackage): string {
  const { dir } = workspacePackage;
  const include = ['src', 'bin'].filter((folder) => existsSync(join(dir, folder)));
  const config = {
    extends: join(ROOT, 'tsconfig.build.json'),
    compilerOptions: { rootDir: dir, outDir: join(dir, 'dist') },
    include: include.map((folder) => join(dir, folder, '**', '*.ts')),
    exclude: [join(dir, '**', '*.test.ts')],
  };
  const path = join(CONFIG_DIR, `${workspacePackage.name.replace(/[@/]/g, '_')}.tsconfig.json`);
  writeFileSync(path, `${JSON.stringify(config, null, 2)}\n`);
  return path;
}

/**
 * tsc (5.9 and 7 alike) rewrites relative `.ts` specifiers to `.js` in the emitted JavaScript but
 * keeps them in declarations, where a consumer's tsc reports TS5097. Same-length replacement, so
 * the declaration maps stay exact.
 */
function rewriteDeclarationSpecifiers(distDir: string): void {
  const relativeTs = /((?:from|import)\s*\(?\s*['"]\.\.?\/[^'"]*?)(?<!\.d)\.ts(['"])/g;
  for (const entry of readdirSync(distDir, { recursive: true, encoding: 'utf8' })) {
    if (!entry.endsWith('.d.ts')) continue;
    const path = join(distDir, entry);
    const text = readFileSync(path, 'utf8');
    const rewritten = text.replace(relativeTs, '$1.js$2');
    if (rewritten !== text) writeFileSync(path, rewritten);
  }
}

/**
 * Runs the package's `scripts/build-assets.ts` when it has one, after tsc: what tsc does not emit
 * (the console's page bundle, `dist/page/app.js`).
 */
function buildAssets(workspacePackage: WorkspacePackage): Promise<void> {
  const script = join(workspacePackage.dir, 'scripts', 'build-assets.ts');
  if (!existsSync(script)) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [script], { stdio: ['ignore', 'inherit', 'inherit'] });
    child.on('error', reject);
    child.on('close', (code) =>
      code === 0
        ? resolve()
        : reject(new Error(`${script} failed for ${workspacePackage.name} (exit ${code})`)),
    );
  });
}

function compile(workspacePackage: WorkspacePackage): Promise<void> {
  rmSync(join(workspacePackage.dir, 'dist'), { recursive: true, force: true });
  const config = writeConfig(workspacePackage);
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [TSC, '-p', config], { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    child.stderr.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    child.on('error', reject);
    child.on('close', (code) => {
      if (code === 0) {
        rewriteDeclarationSpecifiers(join(workspacePackage.dir, 'dist'));
        buildAssets(workspacePackage).then(resolve, reject);
      } else reject(new Error(`tsc failed for ${workspacePackage.name} (exit ${code}):\n${output}`));
    });
  });
}

/** Builds `selected` in dependency order, at most {@link CONCURRENCY} compiles at once. */
async function build(selected: readonly WorkspacePackage[]): Promise<void> {
  const selectedNames = new Set(selected.map(({ name }) => name));
  const done = new Set<string>();
  const running = new Map<string, Promise<string>>();
  const waiting = [...selected];
  while (waiting.length > 0 || running.size > 0) {
    while (running.size < CONCURRENCY) {
      const index = waiting.findIndex(({ internalDependencies }) =>
        internalDependencies.every((name) => done.has(name) || !selectedNames.has(name)),
      );
      if (index === -1) break;
      const [next] = waiting.splice(index, 1);
      const started = performance.now();
      running.set(
        next!.name,
        compile(next!).then(() => {
          process.stderr.write(`built ${next!.name} in ${Math.round(performance.now() - started)} ms\n`);
          return next!.name;
        }),
      );
    }
    const finished = await Promise.race(running.values());
    running.delete(finished);
    done.add(finished);
  }
}

const names = process.argv.slice(2);
const all = publicPackages();
const unknown = names.filter((name) => !all.some((workspacePackage) => workspacePackage.name === name));
if (unknown.length > 0) {
  process.stderr.write(`not a public package under packages/: ${unknown.join(', ')}\n`);
  process.exit(2);
}
mkdirSync(CONFIG_DIR, { recursive: true });
const started = performance.now();
await build(names.length === 0 ? all : all.filter(({ name }) => names.includes(name)));
process.stderr.write(`build done in ${Math.round(performance.now() - started)} ms\n`);
