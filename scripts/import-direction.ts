/**
 * The import-direction check behind `test/import-direction.test.ts`: reads every source file of
 * the workspace (`packages/*\/src`, `packages/*\/bin`, `apps/*\/src`), lists what it imports, and
 * names each import that crosses the lines of {@link PACKAGE_RULES} (scripts/dependency-rules.ts),
 * and each package.json whose runtime dependencies disagree with what its sources import.
 *
 * Imports are found by TypeScript's own scanner (`preProcessFile`): static imports and re-exports,
 * `import type`, and `import()` / `require()` of a string literal; comments (the TSDoc examples)
 * and strings are not mistaken for imports. An `import()` of a computed name (the `herald`
 * package loading a transport by name) is not seen: its package must be a peer dependency.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { isBuiltin } from 'node:module';
import path from 'node:path';
import ts from 'typescript-5.9';
import { PACKAGE_RULES, type PackageRule, SUBPATH_RULES, TEST_SUITE_PACKAGES } from './dependency-rules.ts';

/** The fields of a package.json the check reads. */
export interface Manifest {
  readonly name: string;
  readonly private?: boolean;
  readonly dependencies?: Readonly<Record<string, string>>;
  readonly peerDependencies?: Readonly<Record<string, string>>;
  readonly optionalDependencies?: Readonly<Record<string, string>>;
}

/** One source file: where it is (relative to the repository root, `/`-separated) and its text. */
export interface SourceFile {
  readonly path: string;
  readonly text: string;
}

/** One workspace package with its source files. */
export interface PackageSources {
  /** Its directory relative to the repository root, e.g. `packages/bus`. */
  readonly dir: string;
  readonly manifest: Manifest;
  /** Under `apps/`: an application, not a library. */
  readonly isApp: boolean;
  readonly files: readonly SourceFile[];
}

/** A bare specifier split into its package name and subpath (`@herald/bus/internal` → `/internal`). */
export function packageOf(specifier: string): { readonly name: string; readonly subpath: string } {
  const parts = specifier.split('/');
  const count = specifier.startsWith('@') ? 2 : 1;
  const name = parts.slice(0, count).join('/');
  return { name, subpath: specifier.slice(name.length) };
}

/** Whether `name` is one of Herald's own packages. */
export function isHeraldPackage(name: string): boolean {
  return name === 'herald' || name.startsWith('@herald/');
}

/** The module specifiers `text` imports, in order, as TypeScript's scanner reads them. */
export function importsOf(text: string): string[] {
  return ts.preProcessFile(text, true, true).importedFiles.map((file) => file.fileName);
}

const TABLE = 'scripts/dependency-rules.ts (shown in docs/ARCHITECTURE.md, "Dependencies point one way")';

/** The import problems of one package's sources: each names the file, the import and the rule. */
export function checkImports(
  sources: PackageSources,
  rules: readonly PackageRule[] = PACKAGE_RULES,
): string[] {
  const { name } = sources.manifest;
  const rule = rules.find((candidate) => candidate.name === name);
  if (rule === undefined) {
    return [
      `${name} (${sources.dir}) has no row in ${TABLE}: add one saying which Herald packages it may import, then run node scripts/dependency-rules.ts --write`,
    ];
  }
  const testsOnly = new Set(
    rules.filter((candidate) => candidate.testsOnly).map((candidate) => candidate.name),
  );
  const problems: string[] = [];
  for (const file of sources.files) {
    for (const specifier of importsOf(file.text)) {
      const problem = specifier.startsWith('.')
        ? escapingImport(sources, file, specifier)
        : heraldImport(sources, rule, testsOnly, file, specifier);
      if (problem !== undefined) problems.push(problem);
    }
  }
  return problems;
}

/** A relative import that leaves its package: it reaches into another package's files. */
function escapingImport(sources: PackageSources, file: SourceFile, specifier: string): string | undefined {
  const target = path.posix.join(path.posix.dirname(file.path), specifier);
  if (target.startsWith(`${sources.dir}/`)) return undefined;
  return `${file.path} imports '${specifier}' (${target}), outside ${sources.dir}: a package's sources import another package by its name (its public entry, or /internal from a sibling), never its files`;
}

/** A bare import of a Herald package, checked against the package's row and the subpath rules. */
function heraldImport(
  sources: PackageSources,
  rule: PackageRule,
  testsOnly: ReadonlySet<string>,
  file: SourceFile,
  specifier: string,
): string | undefined {
  const { name, subpath } = packageOf(specifier);
  if (!isHeraldPackage(name)) return undefined;
  const at = `${file.path} imports '${specifier}'`;
  if (name === rule.name) return `${at}, its own package: import the file relatively`;
  if (testsOnly.has(name)) return `${at}: ${name} is for tests only (${TABLE}); no source file may import it`;
  if (!rule.imports.includes(name)) {
    const allowed = rule.imports.length === 0 ? 'nothing of Herald' : rule.imports.join(', ');
    return `${at}: ${rule.name} may import only ${allowed} (${TABLE}); dependencies point one way: move the code to a lower layer, or change the table on purpose`;
  }
  if (subpath === '/internal' && sources.isApp) return `${at}: ${SUBPATH_RULES.internal}`;
  if (subpath === '/testing' && !isTestKit(sources, rule, file)) return `${at}: ${SUBPATH_RULES.testing}`;
  return undefined;
}

/** Whether `file` may import a `/testing` entry: its package's test kit, or a test-suite package. */
function isTestKit(sources: PackageSources, rule: PackageRule, file: SourceFile): boolean {
  return (
    TEST_SUITE_PACKAGES.has(rule.name) ||
    rule.testsOnly === true ||
    file.path === `${sources.dir}/src/testing.ts`
  );
}

/** `@types/foo` for `foo`, `@types/scope__name` for `@scope/name`. */
function typesPackageOf(name: string): string {
  return `@types/${name.startsWith('@') ? name.slice(1).replace('/', '__') : name}`;
}

/**
 * The package.json problems of one package: a bare import its runtime dependencies do not list,
 * a dependency no source imports, a tests-only package among its dependencies. A dependency counts
 * as used when a source imports it, when it is the `@types` of one that is, or when it fills a
 * peer dependency of another dependency (an application installing the transport `herald` loads).
 */
export function checkManifest(
  sources: PackageSources,
  manifestOf: (name: string) => Manifest | undefined,
  rules: readonly PackageRule[] = PACKAGE_RULES,
): string[] {
  const { manifest } = sources;
  const declared = new Set(
    Object.keys({ ...manifest.dependencies, ...manifest.peerDependencies, ...manifest.optionalDependencies }),
  );
  const problems: string[] = [];
  const imported = new Set<string>();
  for (const file of sources.files) {
    for (const specifier of importsOf(file.text)) {
      if (specifier.startsWith('.') || isBuiltin(specifier)) continue;
      const { name } = packageOf(specifier);
      if (name === manifest.name) continue;
      imported.add(name);
      if (!declared.has(name)) {
        problems.push(
          `${file.path} imports '${specifier}' but ${sources.dir}/package.json lists no ${name} in dependencies or peerDependencies: add it there (devDependencies are not installed for users)`,
        );
        declared.add(name); // One report per missing package.
      }
    }
  }
  const dependencies = Object.keys(manifest.dependencies ?? {});
  const peersOfDependencies = new Set(
    dependencies.flatMap((dependency) => Object.keys(manifestOf(dependency)?.peerDependencies ?? {})),
  );
  for (const dependency of dependencies) {
    const used =
      imported.has(dependency) ||
      [...imported].some((name) => typesPackageOf(name) === dependency) ||
      peersOfDependencies.has(dependency);
    if (!used) {
      problems.push(
        `${sources.dir}/package.json lists ${dependency} in dependencies but no source file imports it: remove it, or move it to devDependencies if only tests use it`,
      );
    }
  }
  for (const rule of rules) {
    if (rule.testsOnly && (manifest.dependencies?.[rule.name] ?? manifest.peerDependencies?.[rule.name])) {
      problems.push(
        `${sources.dir}/package.json lists ${rule.name} as a runtime dependency: it is for tests only (${TABLE}); list it in devDependencies`,
      );
    }
  }
  return problems;
}

/** The TypeScript files under `dir` (recursively), relative to `root`; none when it does not exist. */
function typeScriptFiles(root: string, dir: string): SourceFile[] {
  const absolute = path.join(root, dir);
  if (!existsSync(absolute)) return [];
  return readdirSync(absolute, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile() && entry.name.endsWith('.ts') && !entry.name.endsWith('.test.ts'))
    .map((entry) => path.join(entry.parentPath, entry.name))
    .sort()
    .map((file) => ({
      path: path.relative(root, file).split(path.sep).join('/'),
      text: readFileSync(file, 'utf8'),
    }));
}

/** Every workspace package under `packages/` and `apps/` with its `src/` and `bin/` files. */
export function workspaceSources(root: string): PackageSources[] {
  const packages: PackageSources[] = [];
  for (const top of ['packages', 'apps']) {
    for (const entry of readdirSync(path.join(root, top)).sort()) {
      const dir = `${top}/${entry}`;
      const manifestPath = path.join(root, dir, 'package.json');
      if (!existsSync(manifestPath)) continue;
      const manifest = JSON.parse(readFileSync(manifestPath, 'utf8')) as Manifest;
      const files = [...typeScriptFiles(root, `${dir}/src`), ...typeScriptFiles(root, `${dir}/bin`)];
      packages.push({ dir, manifest, isApp: top === 'apps', files });
    }
  }
  return packages;
}

/** The manifest of an installed package (a workspace link or a registry package), if any. */
export function installedManifest(root: string, name: string): Manifest | undefined {
  const manifestPath = path.join(root, 'node_modules', name, 'package.json');
  return existsSync(manifestPath) ? (JSON.parse(readFileSync(manifestPath, 'utf8')) as Manifest) : undefined;
}
