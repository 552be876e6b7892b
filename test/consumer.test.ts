/**
 * The consumer's-eye test: what a user gets from `npm install`, checked outside the repository.
 *
 * It builds every public package, packs each with `npm pack`, installs the tarballs (and their
 * registry dependencies, zod and @types/node) into a fresh project under the OS temp directory,
 * then, as a user would: runs the README's "Install in your project" example as a plain `.mjs` on
 * the oldest Node.js the `engines` field allows and on this one; `require()`s every entry point;
 * type-checks the README's first TypeScript example (plus an import of every entry point and a
 * payload that must not compile) with TypeScript 5.9 and 7 under strict nodenext settings; runs
 * `npx herald --help`; starts `herald serve` from the install and round-trips a message with kcat;
 * and lints every tarball with publint and Are the Types Wrong.
 *
 * Nothing in the scratch project may see the repository's `@herald/source` export condition (a
 * user never has it): every child gets NODE_OPTIONS and npm's environment without it. Tools come
 * from the repository's devDependencies, except the Node.js 22.15 binary, which npm installs from
 * the registry into node_modules/.cache (kept between runs, like npm's own cache).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { runTool, startServe, type ToolResult } from '@herald/test-support';
import { publint } from 'publint';
import { formatMessage } from 'publint/utils';
import { publicPackages, ROOT, type WorkspacePackage } from '../scripts/workspace-packages.ts';

/** The oldest Node.js that `engines` allows; every public package must say `>=` this. */
const NODE_OLDEST = '22.15.0';
const NODE_OLDEST_DIR = join(ROOT, 'node_modules', '.cache', 'herald-consumer-test', `node-${NODE_OLDEST}`);
const TSC_5 = join(ROOT, 'node_modules', 'typescript-5.9', 'bin', 'tsc');
const TSC_7 = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
const ATTW = join(ROOT, 'node_modules', '@arethetypeswrong', 'cli', 'dist', 'index.js');
const STEP_TIMEOUT_MS = 120_000;
/**
 * Errors a consumer's tsc reports with `skipLibCheck: false` inside other projects' declarations,
 * which importing `@herald/transport-kafka` loads (its options expose `@platformatic/kafka`'s
 * `SASLOptions`), or `@herald/transport-nats` (the NATS client's types). Each must name the file and the error; any other error fails the test.
 */
const KNOWN_UPSTREAM_ERRORS: readonly RegExp[] = [
  // @platformatic/kafka 2.12 reads undici's `RequestInit['dispatcher']`, which @types/node's global lacks.
  /node_modules\/@platformatic\/kafka\/dist\/registries\/confluent-schema-registry\.d\.ts.*error TS2339: Property 'dispatcher'/,
  // @platformatic/kafka 2.12 imports 'debug' in its declarations without depending on @types/debug.
  /node_modules\/@platformatic\/kafka\/dist\/utils\.d\.ts.*error TS7016: .*module 'debug'/,
  // @nats-io/nats-core 3.4 (loaded by @herald/transport-nats): its classes declare getters
  // `T | undefined` for interface members `name?: T`, which exactOptionalPropertyTypes rejects.
  /node_modules\/@nats-io\/nats-core\/lib\/msg\.d\.ts.*error TS2420: Class 'MsgImpl' incorrectly implements interface 'Msg'/,
  /node_modules\/@nats-io\/nats-core\/lib\/nats\.d\.ts.*error TS2420: Class 'NatsConnectionImpl' incorrectly implements interface 'NatsConnection'/,
];

/** This process's environment as a user's shell would have it: no source condition, no npm run state. */
function consumerEnvironment(nodeBinary: string): NodeJS.ProcessEnv {
  const environment: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (!name.toLowerCase().startsWith('npm_')) environment[name] = value;
  }
  const nodeOptions = (process.env.NODE_OPTIONS ?? '')
    .replace(/(--conditions|-C)[= ]@herald\/source/g, '')
    .trim();
  if (nodeOptions === '') delete environment.NODE_OPTIONS;
  else environment.NODE_OPTIONS = nodeOptions;
  // The chosen node first; none of the repository's node_modules/.bin (its pinned node included).
  const path = (process.env.PATH ?? '').split(delimiter).filter((entry) => !entry.startsWith(ROOT));
  environment.PATH = [dirname(nodeBinary), ...path].join(delimiter);
  environment.HERALD_LOG_LEVEL = 'warn';
  return environment;
}

function describeRun(what: string, result: ToolResult): string {
  return `${what} exited with ${result.code}\nstdout:\n${result.stdout}\nstderr:\n${result.stderr}`;
}

async function ok(
  what: string,
  command: string,
  args: readonly string[],
  options: { cwd?: string; env?: NodeJS.ProcessEnv; input?: string } = {},
): Promise<ToolResult> {
  const result = await runTool(command, args, { timeoutMs: STEP_TIMEOUT_MS, ...options });
  assert.equal(result.code, 0, describeRun(what, result));
  return result;
}

/** The first fenced block of `language` under the `## heading` section of README.md. */
function readmeBlock(heading: string | undefined, language: string): string {
  let markdown = readFileSync(join(ROOT, 'README.md'), 'utf8');
  if (heading !== undefined) {
    const start = markdown.indexOf(`\n## ${heading}\n`);
    assert.ok(start !== -1, `README.md has no "## ${heading}" section`);
    markdown = markdown.slice(start);
  }
  const match = new RegExp(`\`\`\`${language}\\n([\\s\\S]*?)\`\`\``).exec(markdown);
  assert.ok(match !== null, `README.md has no \`\`\`${language} block${heading ? ` under ${heading}` : ''}`);
  return match[1]!;
}

/** Every entry point of every package, as import specifiers (`herald`, `herald/testing`, …). */
function entryPoints(workspacePackages: readonly WorkspacePackage[]): string[] {
  return workspacePackages.flatMap(({ name, dir }) => {
    const manifest = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as {
      exports: Record<string, unknown>;
    };
    return Object.keys(manifest.exports)
      .filter((subpath) => !subpath.endsWith('.json'))
      .map((subpath) => (subpath === '.' ? name : `${name}${subpath.slice(1)}`));
  });
}

/** Installs the Node.js binary `engines` allows at the oldest, once, from the npm registry. */
async function oldestNode(): Promise<string> {
  const binary = join(NODE_OLDEST_DIR, 'node_modules', 'node', 'bin', 'node');
  if (!existsSync(binary)) {
    mkdirSync(NODE_OLDEST_DIR, { recursive: true });
    // The `node` package's preinstall fetches the platform's binary package from the same registry.
    writeFileSync(
      join(NODE_OLDEST_DIR, 'package.json'),
      JSON.stringify({ private: true, allowScripts: { node: true } }),
    );
    await ok(
      `npm install node@${NODE_OLDEST}`,
      'npm',
      ['install', '--no-audit', '--no-fund', '--prefer-offline', `node@${NODE_OLDEST}`],
      { cwd: NODE_OLDEST_DIR, env: consumerEnvironment(process.execPath) },
    );
  }
  const version = await ok('node --version', binary, ['--version']);
  assert.equal(version.stdout.trim(), `v${NODE_OLDEST}`);
  return binary;
}

describe('consumer - the packed packages, installed outside the repository', { timeout: 240_000 }, () => {
  const workspacePackages = publicPackages();
  const work = mkdtempSync(join(tmpdir(), 'herald-consumer-'));
  const tarballsDir = join(work, 'tarballs');
  const project = join(work, 'project');
  const tarballs = new Map<string, string>();
  let nodeOldest = '';

  before(async () => {
    mkdirSync(tarballsDir);
    mkdirSync(project);
    const [, node] = await Promise.all([
      ok('npm run build', process.execPath, [join(ROOT, 'scripts', 'build.ts')], { cwd: ROOT }),
      oldestNode(),
    ]);
    nodeOldest = node;
    const packed = await ok(
      'npm pack',
      'npm',
      ['pack', '--json', '--pack-destination', tarballsDir, ...workspacePackages.map(({ dir }) => dir)],
      { cwd: work, env: consumerEnvironment(process.execPath) },
    );
    const results = JSON.parse(packed.stdout) as { name: string; filename: string }[];
    for (const { name, filename } of results) tarballs.set(name, join(tarballsDir, filename));
    const dependencies: Record<string, string> = { zod: '^4.1' };
    for (const [name, tarball] of tarballs) dependencies[name] = `file:${tarball}`;
    writeFileSync(
      join(project, 'package.json'),
      JSON.stringify(
        {
          name: 'consumer',
          private: true,
          type: 'module',
          dependencies,
          devDependencies: { '@types/node': '^24' },
        },
        null,
        2,
      ),
    );
    await ok(
      'npm install (the tarballs and their dependencies)',
      'npm',
      ['install', '--no-audit', '--no-fund', '--prefer-offline'],
      {
        cwd: project,
        env: consumerEnvironment(process.execPath),
      },
    );
  });

  after(() => rmSync(work, { recursive: true, force: true }));

  it('tarballs - every public package has one: its exports and bin, LICENSE, README, engines, no tests', () => {
    assert.deepEqual(
      [...tarballs.keys()].sort(),
      workspacePackages.map(({ name }) => name).sort(),
      'npm pack made one tarball per public package',
    );
    for (const { name } of workspacePackages) {
      const installed = join(project, 'node_modules', name);
      const manifest = JSON.parse(readFileSync(join(installed, 'package.json'), 'utf8')) as {
        engines?: { node?: string };
        license?: string;
        exports: Record<string, string | Record<string, string>>;
        bin?: Record<string, string>;
      };
      assert.equal(manifest.engines?.node, `>=${NODE_OLDEST.replace(/\.0$/, '')}`, `${name}: engines.node`);
      assert.equal(manifest.license, 'Apache-2.0', `${name}: license`);
      assert.match(
        readFileSync(join(installed, 'LICENSE'), 'utf8'),
        /Apache License\s+Version 2\.0/,
        `${name}: LICENSE`,
      );
      assert.ok(existsSync(join(installed, 'README.md')), `${name}: README.md`);
      for (const [subpath, target] of Object.entries(manifest.exports)) {
        const conditions = typeof target === 'string' ? { default: target } : target;
        const keys = Object.keys(conditions);
        if (typeof target !== 'string') {
          assert.deepEqual(keys, ['@herald/source', 'types', 'default'], `${name} ${subpath}: conditions`);
        }
        for (const condition of keys.filter((key) => key !== '@herald/source')) {
          const file = join(installed, conditions[condition]!);
          assert.ok(
            existsSync(file),
            `${name} ${subpath}: ${condition} ${conditions[condition]} is not in the tarball`,
          );
        }
      }
      for (const [command, target] of Object.entries(manifest.bin ?? {})) {
        const file = join(installed, target);
        assert.ok(existsSync(file), `${name}: bin ${command} (${target}) is not in the tarball`);
        assert.ok(
          readFileSync(file, 'utf8').startsWith('#!/usr/bin/env node\n'),
          `${name}: bin ${command} shebang`,
        );
      }
      const files = spawnSync('find', [installed, '-name', '*.test.*', '-o', '-name', 'test', '-type', 'd'], {
        encoding: 'utf8',
      }).stdout.trim();
      assert.equal(files, '', `${name} ships tests`);
    }
  });

  for (const which of ['oldest allowed', 'current'] as const) {
    it(`readme - the install example runs as example.mjs on Node.js ${which}`, async () => {
      const node = which === 'current' ? process.execPath : nodeOldest;
      const dataDir = mkdtempSync(join(work, 'data-'));
      writeFileSync(join(project, 'example.mjs'), readmeBlock('Install in your project', 'js'));
      const run = await ok(`node example.mjs (${node})`, node, ['example.mjs'], {
        cwd: project,
        env: { ...consumerEnvironment(node), HERALD_DATA_DIR: dataDir },
      });
      assert.equal(run.stdout, 'inventory: reserve stock for order-123\n');
    });

    it(`require - every entry point loads with require() on Node.js ${which}`, async () => {
      const node = which === 'current' ? process.execPath : nodeOldest;
      // require(esm) is on by default from Node.js 22.12; it may warn, but must load every module.
      const script = entryPoints(workspacePackages)
        .map((specifier) => `require(${JSON.stringify(specifier)});`)
        .join('\n');
      writeFileSync(join(project, 'require.cjs'), `${script}\nconsole.log('required');\n`);
      const run = await ok(`node require.cjs (${node})`, node, ['require.cjs'], {
        cwd: project,
        env: consumerEnvironment(node),
      });
      assert.equal(run.stdout, 'required\n');
    });
  }

  for (const [version, tsc] of [
    ['5.9', TSC_5],
    ['7', TSC_7],
  ] as const) {
    it(`types - TypeScript ${version} checks the README's example under strict nodenext, and rejects a wrong payload`, async () => {
      const directory = mkdtempSync(join(project, `typescript-${version}-`));
      const imports = entryPoints(workspacePackages)
        .map((specifier, index) => `import * as entry${index} from '${specifier}';\nvoid entry${index};`)
        .join('\n');
      const wrongPayload = [
        '// @ts-expect-error: total is a number; the check fails if this stops being an error',
        "await bus.publish(OrderCreated, { orderId: 'order-124', total: 'free' });",
      ].join('\n');
      writeFileSync(
        join(directory, 'consumer.ts'),
        `${readmeBlock('First example', 'ts')}\n${wrongPayload}\n\n${imports}\n`,
      );
      writeFileSync(
        join(directory, 'tsconfig.json'),
        JSON.stringify({
          compilerOptions: {
            module: 'nodenext',
            moduleResolution: 'nodenext',
            strict: true,
            exactOptionalPropertyTypes: true,
            noPropertyAccessFromIndexSignature: true,
            noUncheckedIndexedAccess: true,
            skipLibCheck: false,
            types: ['node'],
            noEmit: true,
          },
          files: ['consumer.ts'],
        }),
      );
      const run = await runTool(process.execPath, [tsc, '-p', directory], {
        cwd: directory,
        timeoutMs: STEP_TIMEOUT_MS,
        env: consumerEnvironment(process.execPath),
      });
      const errors = run.stdout.split('\n').filter((line) => /error TS\d+/.test(line));
      const unexpected = errors.filter((line) => !KNOWN_UPSTREAM_ERRORS.some((known) => known.test(line)));
      assert.deepEqual(unexpected, [], describeRun(`tsc ${version}`, run));
      assert.ok(run.code === 0 || errors.length > 0, describeRun(`tsc ${version}`, run));
    });
  }

  it('cli - npx herald --help works from the install', async () => {
    const run = await ok('npx herald --help', 'npx', ['--no-install', 'herald', '--help'], {
      cwd: project,
      env: consumerEnvironment(nodeOldest),
    });
    assert.match(run.stdout + run.stderr, /serve/);
  });

  it('cli - herald serve from the install round-trips a message with kcat', async () => {
    const kcat = spawnSync('kcat', ['-V'], { encoding: 'utf8' });
    assert.ok(
      kcat.error === undefined,
      'kcat is not installed: run `npm run setup` (it installs the Debian packages the tests use)',
    );
    const dataDir = mkdtempSync(join(work, 'serve-'));
    // The installed bin, from the project, with the consumer's environment only.
    const serve = await startServe({
      dir: dataDir,
      command: [join(project, 'node_modules', '.bin', 'herald')],
      cwd: project,
      env: consumerEnvironment(nodeOldest),
      inheritEnv: false,
      startTimeoutMs: 30_000,
    });
    try {
      const broker = `127.0.0.1:${serve.port}`;
      await ok('kcat -P', 'kcat', ['-P', '-b', broker, '-t', 'greetings'], {
        input: 'hello from a consumer\n',
      });
      const consumed = await ok('kcat -C', 'kcat', ['-C', '-b', broker, '-t', 'greetings', '-e', '-q']);
      assert.equal(consumed.stdout, 'hello from a consumer\n', serve.output());
    } finally {
      await serve.kill();
    }
  });

  it('lint - publint finds nothing in any tarball', async () => {
    for (const [name, tarball] of tarballs) {
      const buffer = readFileSync(tarball);
      const tarballBytes = buffer.buffer.slice(buffer.byteOffset, buffer.byteOffset + buffer.byteLength);
      const { messages, pkg } = await publint({
        pack: { tarball: tarballBytes as ArrayBuffer },
        strict: true,
      });
      assert.deepEqual(
        messages.map((message) => `${message.type}: ${formatMessage(message, pkg) ?? message.code}`),
        [],
        `publint on ${name}`,
      );
    }
  });

  it('lint - Are the Types Wrong finds nothing in any tarball (esm-only profile)', async () => {
    // The packages are ESM only, so the esm-only profile: it still checks every ESM resolution
    // (node16-esm, bundler), and leaves out only "a CommonJS importer gets ESM", which is the design
    // (require(esm) covers it on Node.js 22.12+, tested above).
    const failures: string[] = [];
    for (const [name, tarball] of tarballs) {
      const run = await runTool(
        process.execPath,
        [ATTW, tarball, '--profile', 'esm-only', '--format', 'ascii', '--no-color'],
        {
          cwd: work,
          timeoutMs: STEP_TIMEOUT_MS,
          env: consumerEnvironment(process.execPath),
        },
      );
      if (run.code !== 0) failures.push(`${name}:\n${run.stdout}${run.stderr}`);
    }
    assert.deepEqual(failures, []);
  });
});
