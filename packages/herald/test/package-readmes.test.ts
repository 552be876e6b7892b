/**
 * Each package README's first ```ts example (and each one named like ```ts outbox, listed below)
 * runs exactly as written, so none can rot: it is saved
 * as `example.ts` in a fresh temporary directory (which sees this repository's node_modules, as an
 * application that installed the package would) and run by Node with a deadline. Examples that
 * need a server get one through the environment variable they read: RabbitMQ from `npm run setup`,
 * a fresh PostgreSQL database, a `herald serve` on a free port, a name prefix of its own on the
 * NATS server from `npm run setup`. The CLI's README is run line by
 * line by packages/cli/test/readme.test.ts.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { POSTGRES_URL, startServe } from '@herald/test-support';
import pg from 'pg';

const root = join(import.meta.dirname, '..', '..', '..');
const DEADLINE_MS = 60_000;

/** What an example needs from outside: environment variables, and how to tear down what was made. */
interface Fixture {
  readonly env: Readonly<Record<string, string>>;
  teardown(): Promise<void>;
}

/** A database of its own, so the example's "on a fresh database" output holds on every run. */
async function freshDatabase(): Promise<Fixture> {
  const name = `herald_readme_${process.pid}_${Date.now()}`;
  const admin = new pg.Client({ connectionString: POSTGRES_URL });
  await admin.connect();
  try {
    await admin.query(`create database ${name}`);
  } finally {
    await admin.end();
  }
  const url = new URL(POSTGRES_URL);
  url.pathname = `/${name}`;
  return {
    env: { DATABASE_URL: url.toString() },
    async teardown() {
      const client = new pg.Client({ connectionString: POSTGRES_URL });
      await client.connect();
      try {
        await client.query(`drop database if exists ${name} with (force)`);
      } finally {
        await client.end();
      }
    },
  };
}

/** `herald serve` on a free port and a temporary data directory. */
async function heraldServe(): Promise<Fixture> {
  const dir = mkdtempSync(join(tmpdir(), 'herald-readme-serve-'));
  const serve = await startServe({ dir, partitions: 2 });
  return {
    env: { HERALD_KAFKA_BROKERS: serve.bootstrap },
    async teardown() {
      try {
        await serve.stop();
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}

/** The AWS emulator `npm run setup` starts (moto_server), with the dummy credentials it takes. */
async function awsEmulator(): Promise<Fixture> {
  return {
    env: {
      HERALD_AWS_ENDPOINT:
        process.env.HERALD_AWS_ENDPOINT ?? `http://127.0.0.1:${process.env.HERALD_AWS_PORT ?? 4566}`,
      AWS_REGION: 'us-east-1',
      AWS_ACCESS_KEY_ID: 'test',
      AWS_SECRET_ACCESS_KEY: 'test',
    },
    async teardown() {},
  };
}

/** A name prefix of its own on the shared NATS server (`npm run setup`), whose streams are deleted after. */
async function natsPrefix(): Promise<Fixture> {
  const prefix = `readme-${process.pid}-${Date.now() % 100_000}`;
  const url = process.env.HERALD_NATS_URL ?? `nats://127.0.0.1:${process.env.HERALD_NATS_PORT ?? 4222}`;
  return {
    env: { HERALD_NATS_URL: url, HERALD_NATS_PREFIX: prefix },
    async teardown() {
      const { natsTransport } = await import('@herald/transport-nats');
      const transport = await natsTransport({ servers: url, prefix });
      try {
        await transport.deletePrefix();
      } finally {
        await transport.close();
      }
    },
  };
}

/** Each package with an example, what its output must show, and what it needs from outside. */
const EXAMPLES: readonly {
  readonly directory: string;
  /** The ```ts block named so (```ts outbox); without it, the first ```ts block. */
  readonly block?: string;
  readonly output: RegExp;
  readonly fixture?: () => Promise<Fixture>;
}[] = [
  { directory: 'herald', output: /^inventory: reserve stock for order-123$/m },
  { directory: 'bus', output: /^billing: order-1 for 42 \(event OrderCreated\)$/m },
  { directory: 'errors', output: /^HERALD_VALIDATION false$/m },
  { directory: 'conformance', output: /conformance: memory/ },
  { directory: 'log', output: /^\[ 0n \] 1n 0n$/m },
  { directory: 'broker', output: /hello/ },
  { directory: 'kafka-protocol', output: /apiKey: 18, minVersion: 0, maxVersion: 3/ },
  { directory: 'kafka-server', output: /^Kafka clients bootstrap from 127\.0\.0\.1:\d+$/m },
  { directory: 'postgres', output: /^500 1$/m, fixture: freshDatabase },
  { directory: 'eventstore', output: /^300 2\nHERALD_WRONG_EXPECTED_VERSION 2$/m },
  { directory: 'transport-rabbitmq', output: /^bill o-1 42$/m },
  { directory: 'transport-redis', output: /^bill o-1 42$/m },
  { directory: 'transport-kafka', output: /^bill o-1 42$/m, fixture: heraldServe },
  { directory: 'transport-aws', output: /^bill o-1 42$/m, fixture: awsEmulator },
  { directory: 'transport-nats', output: /^bill o-1 42$/m, fixture: natsPrefix },
  { directory: 'console', output: /^orders: 1$/m },
  // Examples beyond the first are marked by a name after the language: ```ts outbox.
  { directory: 'herald', block: 'outbox', output: /^credited a-1 5 after deposit-1$/m },
  {
    directory: 'herald',
    block: 'saga',
    output:
      /^released o-2\no-1 completed paid after OrderPlaced, Charged\no-2 compensated timed out after OrderPlaced, herald\.saga\.timeout\.checkout$/m,
  },
  { directory: 'postgres', block: 'outbox', output: /^bill o-1 4200$/m, fixture: freshDatabase },
];

function typeScriptBlock(markdown: string, directory: string, block: string | undefined): string {
  const opening = block === undefined ? '```ts\n' : `\`\`\`ts ${block}\n`;
  const start = markdown.indexOf(opening);
  assert.ok(start >= 0, `packages/${directory}/README.md has no ${opening.trim()} block`);
  const from = start + opening.length;
  return markdown.slice(from, markdown.indexOf('```', from));
}

function run(
  file: string,
  cwd: string,
  extraEnv: Readonly<Record<string, string>>,
): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const env = { ...process.env, ...extraEnv };
    delete env.HERALD_DATA_DIR; // the examples' default data directories live in the temporary cwd
    const child = spawn(process.execPath, [file], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    child.stderr.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${file} did not finish within ${DEADLINE_MS / 1000} s:\n${output}`));
    }, DEADLINE_MS);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}

describe('package readmes', { timeout: 600_000 }, () => {
  for (const { directory, block, output, fixture } of EXAMPLES) {
    const which = block === undefined ? 'the first example' : `the ${block} example`;
    it(`package readmes - ${which} of packages/${directory}/README.md runs as written`, async () => {
      const readme = readFileSync(join(root, 'packages', directory, 'README.md'), 'utf8');
      const code = typeScriptBlock(readme, directory, block);
      const work = mkdtempSync(join(tmpdir(), `herald-readme-${directory}-${block ?? 'first'}-`));
      const outside = await fixture?.();
      try {
        symlinkSync(join(root, 'node_modules'), join(work, 'node_modules'), 'dir');
        writeFileSync(join(work, 'package.json'), '{ "type": "module" }\n');
        writeFileSync(join(work, 'example.ts'), code);
        const result = await run(join(work, 'example.ts'), work, outside?.env ?? {});
        assert.equal(result.code, 0, `example exited with ${result.code}:\n${result.output}`);
        assert.match(result.output, output);
      } finally {
        rmSync(work, { recursive: true, force: true });
        await outside?.teardown();
      }
    });
  }
});
