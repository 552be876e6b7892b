/**
 * The one table of which Herald package may import which: the single source of the rule
 * "dependencies point one way" (docs/ARCHITECTURE.md shows it, generated from here).
 * `test/import-direction.test.ts` checks every source file under `packages/*\/src`, `packages/*\/bin`
 * and `apps/*\/src` against it, and that the table in the doc is the one this module renders.
 *
 *   node scripts/dependency-rules.ts            # prints the Markdown table
 *   node scripts/dependency-rules.ts --write    # rewrites it in docs/ARCHITECTURE.md
 *
 * A new package (or a new arrow between packages) is a line here, then `--write`: the check fails
 * for a package the table does not name, so the direction is decided, not discovered.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** What one package's sources may import of Herald's own packages. */
export interface PackageRule {
  /** Its npm name. */
  readonly name: string;
  /** The Herald packages its sources (and bin) may import, by npm name; none: an empty list. */
  readonly imports: readonly string[];
  /** Why the row is as it is, when the arrows alone do not say (shown in the doc). */
  readonly note?: string;
  /** Only tests may import it: no source file of any package, no `dependencies` entry. */
  readonly testsOnly?: boolean;
}

const TRANSPORTS = [
  '@herald/transport-kafka',
  '@herald/transport-rabbitmq',
  '@herald/transport-nats',
  '@herald/transport-redis',
  '@herald/transport-aws',
] as const;

const TRANSPORT_NOTE = 'a `Transport` on one broker: only the contract, never another transport';

/**
 * Every Herald package, lowest layer first, with the packages its sources may import. Packages
 * being added in parallel (NATS, Redis, AWS transports; the private test support) have their rows
 * already, so their arrival needs no change here.
 */
export const PACKAGE_RULES: readonly PackageRule[] = [
  { name: '@herald/errors', imports: [], note: 'the root every error extends; depends on nothing' },
  {
    name: '@herald/bus',
    imports: ['@herald/errors'],
    note: 'never touches the network or disk: everything broker-specific sits behind `Transport`',
  },
  {
    name: '@herald/log',
    imports: ['@herald/errors'],
    note: 'pure `node:fs`; one of the two data-directory readers',
  },
  { name: '@herald/kafka-protocol', imports: ['@herald/errors'] },
  { name: '@herald/broker', imports: ['@herald/bus', '@herald/errors', '@herald/log'] },
  {
    name: '@herald/conformance',
    imports: ['@herald/bus'],
    note: 'a test suite: may import `@herald/bus/testing` from any source file',
  },
  { name: '@herald/postgres', imports: ['@herald/bus', '@herald/errors'] },
  {
    name: '@herald/eventstore',
    imports: ['@herald/bus', '@herald/errors', '@herald/log'],
    note: 'streams on the log (one partition, never through the broker) or on PostgreSQL',
  },
  ...TRANSPORTS.map((name) => ({ name, imports: ['@herald/bus', '@herald/errors'], note: TRANSPORT_NOTE })),
  {
    name: '@herald/kafka-server',
    imports: ['@herald/broker', '@herald/errors', '@herald/kafka-protocol', '@herald/log'],
    note: 'log for batch headers, codecs and errors',
  },
  {
    name: '@herald/cli',
    imports: [
      '@herald/broker',
      '@herald/bus',
      '@herald/errors',
      '@herald/eventstore',
      '@herald/kafka-server',
      '@herald/log',
    ],
    note: 'log for decoding batches the broker hands it; data directories only through the broker; eventstore for `herald projections`',
  },
  {
    name: '@herald/console',
    imports: ['@herald/bus', '@herald/cli'],
    note: 'reads through the CLI’s targets (`@herald/cli/internal`); the CLI loads `herald console` from it by name at run time',
  },
  {
    name: 'herald',
    imports: ['@herald/broker', '@herald/bus', '@herald/errors', ...TRANSPORTS],
    note: 'transports only as optional peers, loaded by name for `HERALD_TRANSPORT`',
  },
  {
    name: '@herald/checkout',
    imports: ['herald', '@herald/console', '@herald/eventstore', ...TRANSPORTS],
    note: 'an application: public entry points only, never `/internal`',
  },
  {
    name: '@herald/test-support',
    imports: ['@herald/bus', '@herald/errors', '@herald/log'],
    note: 'private; imported by tests only (devDependencies), never by a source file',
    testsOnly: true,
  },
];

/**
 * Subpath entries with rules of their own: `/internal` is for sibling packages (never for an
 * application), `/testing` is a test kit (imported from sources only by another test kit).
 */
export const SUBPATH_RULES = {
  /** Packages under `apps/` may not import an `/internal` entry. */
  internal: 'an `/internal` entry is for sibling packages under packages/, never for an application',
  /** A `/testing` entry may be imported from a package's `src/testing.ts` or by a test-suite package. */
  testing:
    'a `/testing` entry is imported from sources only by a test kit (`src/testing.ts`), @herald/conformance or @herald/test-support',
} as const;

/** Packages whose every source file may import a `/testing` entry: they are test suites. */
export const TEST_SUITE_PACKAGES: ReadonlySet<string> = new Set([
  '@herald/conformance',
  '@herald/test-support',
]);

const code = (name: string) => `\`${name}\``;

/** The table as Markdown, the form docs/ARCHITECTURE.md shows between its markers. */
export function dependencyTableMarkdown(rules: readonly PackageRule[] = PACKAGE_RULES): string {
  const lines = ['| package | its sources may import | why |', '| --- | --- | --- |'];
  for (const rule of rules) {
    const imports = rule.imports.length === 0 ? 'nothing of Herald' : rule.imports.map(code).join(', ');
    lines.push(`| ${code(rule.name)} | ${imports} | ${rule.note ?? ''} |`);
  }
  return lines.join('\n');
}

/** The markers around the generated table in docs/ARCHITECTURE.md. */
export const DOC_MARKERS = {
  start:
    '<!-- dependency-rules: generated by `node scripts/dependency-rules.ts --write`; edit the table there -->',
  end: '<!-- /dependency-rules -->',
} as const;

/** docs/ARCHITECTURE.md, from the repository root. */
export const ARCHITECTURE_DOC: string = path.join(import.meta.dirname, '..', 'docs', 'ARCHITECTURE.md');

/** The table the doc shows now, or undefined when its markers are missing. */
export function documentedTable(doc: string): string | undefined {
  const start = doc.indexOf(DOC_MARKERS.start);
  const end = doc.indexOf(DOC_MARKERS.end);
  if (start === -1 || end === -1 || end < start) return undefined;
  return doc.slice(start + DOC_MARKERS.start.length, end).trim();
}

/** `doc` with the generated table between its markers (which must be there). */
export function withTable(doc: string): string {
  const start = doc.indexOf(DOC_MARKERS.start);
  const end = doc.indexOf(DOC_MARKERS.end);
  if (start === -1 || end === -1 || end < start) {
    throw new Error(
      `${ARCHITECTURE_DOC} has no ${DOC_MARKERS.start} ... ${DOC_MARKERS.end} block: add the markers`,
    );
  }
  const before = doc.slice(0, start + DOC_MARKERS.start.length);
  return `${before}\n${dependencyTableMarkdown()}\n${doc.slice(end)}`;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  if (process.argv.includes('--write')) {
    writeFileSync(ARCHITECTURE_DOC, withTable(readFileSync(ARCHITECTURE_DOC, 'utf8')));
  } else {
    process.stdout.write(`${dependencyTableMarkdown()}\n`);
  }
}
