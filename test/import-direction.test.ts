/**
 * "Dependencies point one way" (docs/ARCHITECTURE.md), checked on the sources: every import of a
 * Herald package, and every relative import that leaves its package, follows the one table in
 * scripts/dependency-rules.ts; every package.json lists exactly the runtime dependencies its
 * sources import; the doc shows the table as the script renders it. The last tests feed the check
 * violating sources, so a check that silently passes everything fails here.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import {
  ARCHITECTURE_DOC,
  dependencyTableMarkdown,
  documentedTable,
  PACKAGE_RULES,
  type PackageRule,
} from '../scripts/dependency-rules.ts';
import {
  checkImports,
  checkManifest,
  importsOf,
  installedManifest,
  type Manifest,
  type PackageSources,
  workspaceSources,
} from '../scripts/import-direction.ts';

const ROOT = path.resolve(import.meta.dirname, '..');

/** A made-up package with one source file, for feeding the check. */
function fake(
  name: string,
  text: string,
  options: { dir?: string; file?: string; isApp?: boolean; manifest?: Partial<Manifest> } = {},
): PackageSources {
  const dir = options.dir ?? 'packages/fake';
  return {
    dir,
    manifest: { name, ...options.manifest },
    isApp: options.isApp ?? false,
    files: [{ path: `${dir}/${options.file ?? 'src/index.ts'}`, text }],
  };
}

describe('import direction', () => {
  it('import direction - every source import follows the table in scripts/dependency-rules.ts', () => {
    const packages = workspaceSources(ROOT);
    assert.ok(packages.length >= 12, `found only ${packages.length} packages: is the root right?`);
    const problems = packages.flatMap((sources) => checkImports(sources));
    assert.deepEqual(problems, []);
  });

  it('import direction - every package.json lists the runtime dependencies its sources import, and no others', () => {
    const problems = workspaceSources(ROOT).flatMap((sources) =>
      checkManifest(sources, (name) => installedManifest(ROOT, name)),
    );
    assert.deepEqual(problems, []);
  });

  it('import direction - docs/ARCHITECTURE.md shows the table as scripts/dependency-rules.ts renders it', () => {
    const shown = documentedTable(readFileSync(ARCHITECTURE_DOC, 'utf8'));
    assert.ok(shown !== undefined, 'docs/ARCHITECTURE.md lost its dependency-rules markers');
    assert.equal(shown, dependencyTableMarkdown(), 'run node scripts/dependency-rules.ts --write');
  });

  it('import direction - the table names each package once, and only packages it names', () => {
    const names = PACKAGE_RULES.map((rule) => rule.name);
    assert.deepEqual(names, [...new Set(names)], 'a package with two rows');
    for (const rule of PACKAGE_RULES) {
      for (const imported of rule.imports) {
        assert.ok(names.includes(imported), `${rule.name} may import ${imported}, which has no row`);
        assert.notEqual(imported, rule.name, `${rule.name} lists itself`);
      }
    }
  });

  it('import direction - the arrows form no cycle', () => {
    const byName = new Map<string, PackageRule>(PACKAGE_RULES.map((rule) => [rule.name, rule]));
    const done = new Set<string>();
    const visit = (name: string, trail: readonly string[]): void => {
      if (trail.includes(name)) assert.fail(`a cycle: ${[...trail, name].join(' → ')}`);
      if (done.has(name)) return;
      for (const imported of byName.get(name)?.imports ?? []) visit(imported, [...trail, name]);
      done.add(name);
    };
    for (const rule of PACKAGE_RULES) visit(rule.name, []);
  });

  it('import direction - an import against the direction fails, naming the file, the import and the rule', () => {
    const problems = checkImports(fake('@herald/log', "import { createBus } from '@herald/bus';\n"));
    assert.equal(problems.length, 1);
    assert.match(
      problems[0]!,
      /^packages\/fake\/src\/index\.ts imports '@herald\/bus': @herald\/log may import only @herald\/errors/,
    );
    assert.match(problems[0]!, /dependency-rules\.ts/);
    // Type-only imports, re-exports and literal import() count; comments and strings do not.
    const kinds = [
      "import type { Bus } from '@herald/bus';",
      "export { createBus } from '@herald/bus';",
      "const bus = await import('@herald/bus');",
    ];
    for (const text of kinds) assert.equal(checkImports(fake('@herald/log', text)).length, 1, text);
    const inert = "/** import { createBus } from '@herald/bus'; */\nconst text = \"from '@herald/bus'\";\n";
    assert.deepEqual(importsOf(inert), []);
  });

  it('import direction - reaching into another package, tests-only packages, subpaths and unknown packages fail', () => {
    assert.match(
      checkImports(
        fake('@herald/cli', "import { x } from '../../log/src/segment.ts';", { dir: 'packages/cli' }),
      )[0]!,
      /imports '\.\.\/\.\.\/log\/src\/segment\.ts' \(packages\/log\/src\/segment\.ts\), outside packages\/cli/,
    );
    assert.deepEqual(
      checkImports(fake('@herald/cli', "import { x } from './y.ts';", { dir: 'packages/cli' })),
      [],
    );
    assert.match(
      checkImports(fake('@herald/transport-nats', "import { quiet } from '@herald/test-support';"))[0]!,
      /@herald\/test-support is for tests only/,
    );
    assert.match(
      checkImports(
        fake('@herald/checkout', "import { KeyedFifo } from '@herald/bus/internal';", { isApp: true }),
      )[0]!,
      /may import only herald, /,
    );
    assert.match(
      checkImports(fake('herald', "import { KeyedFifo } from '@herald/bus/internal';", { isApp: true }))[0]!,
      /never for an application/,
    );
    assert.match(
      checkImports(fake('@herald/broker', "import { withDeadline } from '@herald/bus/testing';"))[0]!,
      /a `\/testing` entry is imported from sources only by a test kit/,
    );
    assert.deepEqual(
      checkImports(
        fake('@herald/broker', "import { withDeadline } from '@herald/bus/testing';", {
          file: 'src/testing.ts',
        }),
      ),
      [],
    );
    assert.match(
      checkImports(fake('@herald/new-thing', ''))[0]!,
      /has no row in scripts\/dependency-rules\.ts/,
    );
  });

  it('import direction - package.json: an undeclared import, an unused dependency, a tests-only dependency fail', () => {
    const none = () => undefined;
    const undeclared = fake('@herald/postgres', "import pg from 'pg';\nimport { readFile } from 'node:fs';", {
      manifest: { dependencies: { '@herald/bus': '^0.1.0', '@types/pg': '^8' } },
    });
    assert.deepEqual(checkManifest(undeclared, none), [
      "packages/fake/src/index.ts imports 'pg' but packages/fake/package.json lists no pg in dependencies or peerDependencies: add it there (devDependencies are not installed for users)",
      'packages/fake/package.json lists @herald/bus in dependencies but no source file imports it: remove it, or move it to devDependencies if only tests use it',
    ]);
    const declared = fake('@herald/postgres', "import pg from 'pg';", {
      manifest: { dependencies: { pg: '^8', '@types/pg': '^8' } },
    });
    assert.deepEqual(checkManifest(declared, none), [], '@types/pg counts as used with pg');
    const testsOnly = fake('@herald/transport-redis', "import { x } from '@herald/bus';", {
      manifest: { dependencies: { '@herald/bus': '^0.1.0', '@herald/test-support': '^0.1.0' } },
    });
    assert.match(
      checkManifest(testsOnly, none).join('\n'),
      /lists @herald\/test-support as a runtime dependency/,
    );
    // An application installs the transport `herald` loads by name: a peer of one of its dependencies.
    const app = fake('@herald/checkout', "import { createBus } from 'herald';", {
      isApp: true,
      manifest: { dependencies: { herald: '^0.1.0', '@herald/transport-kafka': '^0.1.0' } },
    });
    const heraldManifest: Manifest = {
      name: 'herald',
      peerDependencies: { '@herald/transport-kafka': '^0.1.0' },
    };
    assert.deepEqual(
      checkManifest(app, (name) => (name === 'herald' ? heraldManifest : undefined)),
      [],
    );
    assert.equal(checkManifest(app, none).length, 1, 'without the peer, the transport is unused');
  });
});
