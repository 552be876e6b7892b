/**
 * Lists every declaration exported from a public entry point (each package's `exports` map, minus
 * `./internal`) that has no TSDoc comment right above it. Follows re-exports across files and
 * packages. Prints `file:line name` per missing comment; exits 1 when there is any.
 *
 *   node scripts/check-tsdoc.ts            # every package
 *   node scripts/check-tsdoc.ts bus log    # some packages
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** One exported declaration without a TSDoc comment. */
export interface MissingDoc {
  readonly file: string;
  readonly line: number;
  readonly name: string;
}

const DECLARATION = (name: string) =>
  new RegExp(
    `^export\\s+(?:declare\\s+)?(?:abstract\\s+)?(?:async\\s+)?(?:function\\*?|const|let|class|interface|type|enum)\\s+${name}\\b`,
    'm',
  );

function packageEntry(specifier: string): string | undefined {
  const match = /^(@herald\/[^/]+|herald)(\/.*)?$/.exec(specifier);
  if (match === null) return undefined;
  const directory = match[1] === 'herald' ? 'herald' : match[1]!.slice('@herald/'.length);
  const manifest = JSON.parse(readFileSync(path.join(ROOT, 'packages', directory, 'package.json'), 'utf8'));
  const target = sourceOf(manifest.exports?.[`.${match[2] ?? ''}`]);
  return target === undefined ? undefined : path.join(ROOT, 'packages', directory, target);
}

/** The TypeScript source of an `exports` entry: its `@herald/source` condition (or a plain path). */
function sourceOf(target: unknown): string | undefined {
  if (typeof target === 'string') return target.endsWith('.ts') ? target : undefined;
  const source = (target as Record<string, unknown> | undefined)?.['@herald/source'];
  return typeof source === 'string' ? source : undefined;
}

function resolveModule(from: string, specifier: string): string | undefined {
  if (specifier.startsWith('.')) return path.resolve(path.dirname(from), specifier);
  return packageEntry(specifier);
}

/** Finds where `name`, exported by `file`, is declared; undefined for third-party modules. */
function locate(
  file: string,
  name: string,
  seen = new Set<string>(),
): { file: string; index: number } | undefined {
  const key = `${file}#${name}`;
  if (seen.has(key) || !existsSync(file)) return undefined;
  seen.add(key);
  const text = readFileSync(file, 'utf8');
  const declared = DECLARATION(name).exec(text);
  if (declared !== null) return { file, index: declared.index };
  for (const match of text.matchAll(/export\s+(?:type\s+)?\{([^}]*)\}(?:\s*from\s*'([^']+)')?/g)) {
    for (const part of match[1]!.split(',')) {
      const [original, alias] = part
        .replace(/\btype\s+/, '')
        .trim()
        .split(/\s+as\s+/);
      if ((alias ?? original) !== name || original === undefined) continue;
      let source = match[2];
      if (source === undefined) {
        const imported = new RegExp(
          `import\\s+(?:type\\s+)?\\{[^}]*\\b${original}\\b[^}]*\\}\\s*from\\s*'([^']+)'`,
        ).exec(text);
        if (imported === null) return undefined;
        source = imported[1]!;
      }
      const next = resolveModule(file, source);
      return next === undefined ? undefined : locate(next, original, seen);
    }
  }
  for (const match of text.matchAll(/export\s+\*\s+from\s+'([^']+)'/g)) {
    const next = resolveModule(file, match[1]!);
    const found = next === undefined ? undefined : locate(next, name, seen);
    if (found !== undefined) return found;
  }
  return undefined;
}

/** Every name `file` exports (following `export *`). */
function exportedNames(file: string, seen = new Set<string>()): Set<string> {
  const names = new Set<string>();
  if (seen.has(file)) return names;
  seen.add(file);
  const text = readFileSync(file, 'utf8');
  for (const match of text.matchAll(/export\s+(?:type\s+)?\{([^}]*)\}/g)) {
    for (const part of match[1]!.split(',')) {
      const cleaned = part.replace(/\btype\s+/, '').trim();
      if (cleaned !== '') names.add(cleaned.split(/\s+as\s+/).at(-1)!);
    }
  }
  for (const match of text.matchAll(
    /^export\s+(?:declare\s+)?(?:abstract\s+)?(?:async\s+)?(?:function\*?|const|let|class|interface|type|enum)\s+(\w+)/gm,
  )) {
    names.add(match[1]!);
  }
  for (const match of text.matchAll(/export\s+\*\s+from\s+'([^']+)'/g)) {
    const next = resolveModule(file, match[1]!);
    if (next !== undefined) for (const name of exportedNames(next, seen)) names.add(name);
  }
  return names;
}

/** True when a `/** ... *\/` comment ends right above `index` (line comments such as `biome-ignore` may sit between). */
function hasDocComment(text: string, index: number): boolean {
  return /\/\*\*(?:[^*]|\*(?!\/))*\*\/\s*(?:\/\/[^\n]*\n\s*)*$/.test(text.slice(0, index));
}

/** The public entry points of a package directory under packages/. */
export function publicEntries(directory: string): string[] {
  const manifest = JSON.parse(readFileSync(path.join(ROOT, 'packages', directory, 'package.json'), 'utf8'));
  return Object.entries<unknown>(manifest.exports ?? {})
    .filter(([subpath]) => subpath !== './internal')
    .map(([, target]) => sourceOf(target))
    .filter((target) => target !== undefined)
    .map((target) => path.join(ROOT, 'packages', directory, target));
}

/** Checks the given packages (directory names under packages/). */
export function missingDocs(directories: readonly string[]): MissingDoc[] {
  const missing = new Map<string, MissingDoc>();
  for (const directory of directories) {
    for (const entry of publicEntries(directory)) {
      for (const name of exportedNames(entry)) {
        const found = locate(entry, name);
        if (found === undefined) continue; // Third-party re-export.
        const text = readFileSync(found.file, 'utf8');
        if (hasDocComment(text, found.index)) continue;
        const line = text.slice(0, found.index).split('\n').length;
        const file = path.relative(ROOT, found.file);
        missing.set(`${file}:${name}`, { file, line, name });
      }
    }
  }
  return [...missing.values()].sort((a, b) => a.file.localeCompare(b.file) || a.line - b.line);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const requested = process.argv.slice(2);
  const directories =
    requested.length > 0
      ? requested
      : readdirSync(path.join(ROOT, 'packages')).filter((entry) =>
          existsSync(path.join(ROOT, 'packages', entry, 'package.json')),
        );
  const missing = missingDocs(directories);
  for (const { file, line, name } of missing) console.log(`${file}:${line} ${name}`);
  console.log(`${missing.length} exported declaration(s) without TSDoc`);
  process.exitCode = missing.length === 0 ? 0 : 1;
}
