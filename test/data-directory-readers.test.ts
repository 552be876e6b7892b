/**
 * The rule "only the log and the broker read a data directory" (docs/ARCHITECTURE.md), checked on
 * the sources: no file under `packages/*\/src` outside `@herald/log` and `@herald/broker` may use
 * the file system, except the places listed in {@link ALLOWED} with the reason they need it. The
 * formats of a data directory (segments, checkpoints, topic metadata, the group-position journal)
 * then have two readers only, and can change without a third noticing: every
 * other package (the CLI above all) asks the broker.
 *
 * A new use of the file system outside log and broker fails this test; when it does not touch a
 * data directory, add it to {@link ALLOWED} with its reason and the file-system functions it calls.
 * Applications under `apps/` own their files and are not checked.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';

const ROOT = path.resolve(import.meta.dirname, '..');
/** The packages that own data directories: their sources may use the file system freely. */
const OWNERS = new Set(['log', 'broker']);
/**
 * Packages no application runs: the private test helpers (temporary directories, Apache Kafka's
 * files, the power-loss file system of the crash tests) use the file system as tests do.
 */
const TEST_ONLY = new Set(['test-support']);

/**
 * Files outside log and broker that may use the file system, the functions they may call (the
 * names imported from `node:fs` / `node:fs/promises`, or called on a default `fs` import), and why.
 */
const ALLOWED: Record<string, { readonly functions: readonly string[]; readonly reason: string }> = {
  'packages/cli/src/cli.ts': {
    functions: ['readFileSync'],
    reason: "reads the CLI's own package.json for --version",
  },
  'packages/cli/src/commands/asyncapi.ts': {
    functions: ['readFileSync', 'writeFileSync'],
    reason: 'writes the AsyncAPI document to --out FILE and reads it back for --check',
  },
  'packages/cli/src/commands/produce.ts': {
    functions: ['createReadStream', 'stat', 'readFile'],
    reason: 'reads the input files the user names (-l FILE, values from @file)',
  },
  'packages/cli/src/targets/data-dir.ts': {
    functions: ['access'],
    reason: 'checks that the --data directory exists before opening the broker on it; reads no file in it',
  },
  'packages/cli/src/client-security.ts': {
    functions: ['readFileSync'],
    reason:
      'reads the TLS CA, certificate and key files the user names for --broker (HERALD_KAFKA_TLS_*, -X ssl.*)',
  },
  'packages/kafka-server/src/security/tls-files.ts': {
    functions: ['readFileSync', 'watchFile', 'unwatchFile', 'Stats'],
    reason: "reads and watches herald serve's --tls-cert / --tls-key / --tls-ca files (reloaded on change)",
  },
  'packages/kafka-server/src/security/json-file.ts': {
    functions: ['mkdir', 'open', 'readFile', 'rename', 'stat'],
    reason:
      "reads, stats (to reload on change) and crash-safely writes the JSON files of <data>/security (users.json: salted SCRAM credentials; acls.json), beside the broker's files, never reading them",
  },
  'packages/transport-kafka/src/options.ts': {
    functions: ['readFileSync'],
    reason: 'reads the TLS CA file HERALD_KAFKA_TLS_CA names',
  },
  'packages/console/src/spans.ts': {
    functions: ['createReadStream'],
    reason:
      'reads the span file given with --traces (JSON lines of OpenTelemetry spans), never a data directory',
  },
  'packages/console/src/page-bundle.ts': {
    functions: ['readFile'],
    reason: "reads the console's own page bundle (dist/page/app.js) to serve it",
  },
  'packages/bus/src/testing.ts': {
    functions: ['writeSync'],
    reason: 'writes lines synchronously to stdout (fd 1) for crash-test children',
  },
  'packages/herald/src/sqlite-idempotency-store.ts': {
    functions: ['mkdirSync'],
    reason: "creates the directory of the application's SQLite idempotency database",
  },
};

/** `import ... from 'node:fs'` and the like, static or dynamic, with or without the `node:` prefix. */
const FS_IMPORT = /(?:from\s*|import\s*\(\s*|require\s*\(\s*)['"](?:node:)?fs(?:\/promises)?['"]/g;
const NAMED_IMPORT = /import\s*\{([^}]*)\}\s*from\s*['"](?:node:)?fs(?:\/promises)?['"]/g;
const DEFAULT_IMPORT =
  /import\s+(?:\*\s+as\s+)?([A-Za-z_$][\w$]*)\s+from\s*['"](?:node:)?fs(?:\/promises)?['"]/g;

function sourceFiles(directory: string): string[] {
  const files: string[] = [];
  for (const entry of readdirSync(directory, { withFileTypes: true, recursive: true })) {
    if (entry.isFile() && entry.name.endsWith('.ts')) files.push(path.join(entry.parentPath, entry.name));
  }
  return files;
}

/** The file-system functions `source` uses: named imports and members called on a default import. */
function fileSystemFunctions(source: string): Set<string> {
  const functions = new Set<string>();
  for (const [, names] of source.matchAll(NAMED_IMPORT)) {
    for (const name of names!.split(',')) {
      const imported = name
        .trim()
        .replace(/^type\s+/, '')
        .split(/\s+as\s+/)[0]!;
      if (imported !== '') functions.add(imported);
    }
  }
  for (const [, binding] of source.matchAll(DEFAULT_IMPORT)) {
    for (const [, member] of source.matchAll(new RegExp(`\\b${binding}\\.([A-Za-z_$][\\w$]*)`, 'g'))) {
      functions.add(member!);
    }
  }
  return functions;
}

describe('data directory readers', () => {
  it('data directory readers - only log and broker sources use the file system, apart from the allow-list', () => {
    const problems: string[] = [];
    const seen = new Set<string>();
    for (const name of readdirSync(path.join(ROOT, 'packages'))) {
      if (OWNERS.has(name) || TEST_ONLY.has(name)) continue;
      let files: string[];
      try {
        files = sourceFiles(path.join(ROOT, 'packages', name, 'src'));
      } catch {
        continue; // a package without sources
      }
      for (const file of files) {
        const relative = path.relative(ROOT, file).split(path.sep).join('/');
        const source = readFileSync(file, 'utf8');
        if (source.match(FS_IMPORT) === null) continue;
        const allowed = ALLOWED[relative];
        if (allowed === undefined) {
          problems.push(
            `${relative} uses the file system: read data directories through @herald/broker (or add the file to ALLOWED with a reason if it reads no data directory)`,
          );
          continue;
        }
        seen.add(relative);
        for (const used of fileSystemFunctions(source)) {
          if (!allowed.functions.includes(used)) {
            problems.push(`${relative} calls fs ${used}, beyond what ALLOWED grants it (${allowed.reason})`);
          }
        }
      }
    }
    for (const file of Object.keys(ALLOWED)) {
      if (!seen.has(file))
        problems.push(`${file} is in ALLOWED but no longer uses the file system: remove it`);
    }
    assert.deepEqual(problems, []);
  });

  it('data directory readers - the check sees static, dynamic and default imports', () => {
    assert.ok("import { readFile } from 'node:fs/promises';".match(FS_IMPORT));
    assert.ok("const fs = await import('fs');".match(FS_IMPORT));
    assert.deepEqual(
      [...fileSystemFunctions("import fs from 'node:fs/promises';\nawait fs.readdir(x); fs.stat(y);")],
      ['readdir', 'stat'],
    );
    assert.deepEqual(
      [...fileSystemFunctions("import { type Stats, readFileSync as read } from 'node:fs';")],
      ['Stats', 'readFileSync'],
    );
  });
});
