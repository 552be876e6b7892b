/**
 * Test code stays out of what runs in production: no source of a package or app (`src/`, `bin/`)
 * imports `@herald/test-support` or a file under a `test/` directory, no package lists
 * `@herald/test-support` among the dependencies it installs for its users, and test-support itself
 * stays private (never packed or published). Dependencies point one way: tests may use sources,
 * never the reverse (docs/ARCHITECTURE.md, "Test helpers").
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';

const ROOT = path.resolve(import.meta.dirname, '..');
const TEST_SUPPORT = '@herald/test-support';
/** The directories whose files ship or run in production, in every package and app. */
const RUNTIME_DIRECTORIES = ['src', 'bin'];
/** The manifest fields whose packages are installed for a package's users. */
const RUNTIME_DEPENDENCY_FIELDS = ['dependencies', 'peerDependencies', 'optionalDependencies'] as const;

/** Every module specifier of `source`: static and dynamic imports, re-exports, `require`. */
const SPECIFIER = /(?:\bfrom\s*|\bimport\s*\(\s*|\bimport\s+|\brequire\s*\(\s*)['"]([^'"]+)['"]/g;

function specifiers(source: string): string[] {
  return [...source.matchAll(SPECIFIER)].map((match) => match[1]!);
}

/** Every string literal of `source` that is a relative path (`'../x'`, `"./y"`, `` `../z` ``). */
const RELATIVE_PATH = /['"`](\.\.?\/[^'"`]*)['"`]/g;

/**
 * The relative paths in `file` that lead out of its own workspace, such as
 * `new URL('../../cli/bin/herald.ts', import.meta.url)`: a runtime file of one package must not
 * reach into another by path (that is how kafka-server once spawned the CLI); it depends on it.
 */
function pathsOutside(file: string, workspace: string, source: string): string[] {
  return [...source.matchAll(RELATIVE_PATH)]
    .map((match) => match[1]!)
    .filter((relative) => !path.resolve(path.dirname(file), relative).startsWith(workspace + path.sep));
}

/** Why importing `specifier` from `file` brings test code into production, or undefined when it does not. */
function testImport(file: string, specifier: string): string | undefined {
  if (specifier === TEST_SUPPORT || specifier.startsWith(`${TEST_SUPPORT}/`)) return TEST_SUPPORT;
  if (!specifier.startsWith('.')) return undefined;
  const target = path.relative(ROOT, path.resolve(path.dirname(file), specifier)).split(path.sep);
  return target.includes('test') ? `a test file (${target.join('/')})` : undefined;
}

/** `packages/*` and `apps/*`: every workspace directory with a package.json. */
function workspaces(): string[] {
  return ['packages', 'apps'].flatMap((group) =>
    readdirSync(path.join(ROOT, group))
      .map((name) => path.join(ROOT, group, name))
      .filter((directory) => existsSync(path.join(directory, 'package.json'))),
  );
}

function runtimeFiles(workspace: string): string[] {
  const files: string[] = [];
  for (const name of RUNTIME_DIRECTORIES) {
    const directory = path.join(workspace, name);
    if (!existsSync(directory)) continue;
    for (const entry of readdirSync(directory, { withFileTypes: true, recursive: true })) {
      if (entry.isFile() && /\.(?:ts|js|mjs|cjs)$/.test(entry.name)) {
        files.push(path.join(entry.parentPath, entry.name));
      }
    }
  }
  return files;
}

describe('test-support boundary', () => {
  it('test-support boundary - no package or app source imports test-support, a test file or another package by path', () => {
    const problems: string[] = [];
    for (const workspace of workspaces()) {
      if (path.basename(workspace) === 'test-support') continue;
      for (const file of runtimeFiles(workspace)) {
        const source = readFileSync(file, 'utf8');
        for (const outside of pathsOutside(file, workspace, source)) {
          problems.push(
            `${path.relative(ROOT, file)} reaches out of its package by path ('${outside}'): depend on the package and import it instead`,
          );
        }
        for (const specifier of specifiers(source)) {
          const reason = testImport(file, specifier);
          if (reason !== undefined) {
            problems.push(
              `${path.relative(ROOT, file)} imports ${reason} ('${specifier}'): test code must not run in production; move what it needs into src/ or into the tests`,
            );
          }
        }
      }
    }
    assert.deepEqual(problems, []);
  });

  it('test-support boundary - no package lists test-support among its runtime dependencies, and it is private', () => {
    const problems: string[] = [];
    for (const workspace of workspaces()) {
      const manifest = JSON.parse(readFileSync(path.join(workspace, 'package.json'), 'utf8'));
      if (manifest.name === TEST_SUPPORT) {
        if (manifest.private !== true) problems.push(`${TEST_SUPPORT} must stay "private": true`);
        continue;
      }
      for (const field of RUNTIME_DEPENDENCY_FIELDS) {
        if (manifest[field]?.[TEST_SUPPORT] !== undefined) {
          problems.push(`${manifest.name} lists ${TEST_SUPPORT} in ${field}: move it to devDependencies`);
        }
      }
    }
    assert.deepEqual(problems, []);
  });

  it('test-support boundary - the check sees imports, re-exports, dynamic imports and test paths', () => {
    const source = [
      "import { eventually } from '@herald/test-support';",
      "export { startServe } from '@herald/test-support';",
      "const helpers = await import('../test/support.ts');",
      "import '../../cli/test/fixtures.ts';",
      "import { createBus } from './bus.ts';",
    ].join('\n');
    const file = path.join(ROOT, 'packages', 'bus', 'src', 'example.ts');
    assert.deepEqual(
      specifiers(source).map((specifier) => testImport(file, specifier) !== undefined),
      [true, true, true, true, false],
    );
    const kafkaServer = path.join(ROOT, 'packages', 'kafka-server');
    assert.deepEqual(
      pathsOutside(
        path.join(kafkaServer, 'src', 'testing.ts'),
        kafkaServer,
        "new URL('../../cli/bin/herald.ts', import.meta.url); import { x } from './x.ts';",
      ),
      ['../../cli/bin/herald.ts'],
    );
  });
});
