/**
 * Each package README's first ```ts example runs exactly as written, so none can rot: it is saved
 * as `example.ts` in a fresh temporary directory (which sees this repository's node_modules, as an
 * application that installed the package would) and run by Node with a deadline. Packages whose
 * examples need an external server (RabbitMQ, PostgreSQL, Kafka) are left out; the CLI's README is
 * run line by line by packages/cli/test/readme.test.ts.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';

const root = join(import.meta.dirname, '..', '..', '..');
const DEADLINE_MS = 60_000;

/** Each package with a self-contained example, and what its output must show. */
const EXAMPLES: readonly { readonly directory: string; readonly output: RegExp }[] = [
  { directory: 'herald', output: /^inventory: reserve stock for order-123$/m },
  { directory: 'bus', output: /^billing: order-1 for 42 \(event OrderCreated\)$/m },
  { directory: 'errors', output: /^HERALD_VALIDATION false$/m },
  { directory: 'conformance', output: /conformance: memory/ },
  { directory: 'log', output: /^\[ 0n \] 1n 0n$/m },
  { directory: 'broker', output: /hello/ },
  { directory: 'kafka-protocol', output: /apiKey: 18, minVersion: 0, maxVersion: 3/ },
  { directory: 'kafka-server', output: /^Kafka clients bootstrap from 127\.0\.0\.1:\d+$/m },
];

function firstTypeScriptBlock(markdown: string, directory: string): string {
  const match = /```ts\n([\s\S]*?)```/.exec(markdown);
  assert.ok(match !== null, `packages/${directory}/README.md has no \`\`\`ts block`);
  return match[1]!;
}

function run(file: string, cwd: string): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const env = { ...process.env };
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

describe('package readmes', () => {
  for (const { directory, output } of EXAMPLES) {
    it(`package readmes - the first example of packages/${directory}/README.md runs as written`, async () => {
      const readme = readFileSync(join(root, 'packages', directory, 'README.md'), 'utf8');
      const code = firstTypeScriptBlock(readme, directory);
      const work = mkdtempSync(join(tmpdir(), `herald-readme-${directory}-`));
      try {
        symlinkSync(join(root, 'node_modules'), join(work, 'node_modules'), 'dir');
        writeFileSync(join(work, 'package.json'), '{ "type": "module" }\n');
        writeFileSync(join(work, 'example.ts'), code);
        const result = await run(join(work, 'example.ts'), work);
        assert.equal(result.code, 0, `example exited with ${result.code}:\n${result.output}`);
        assert.match(result.output, output);
      } finally {
        rmSync(work, { recursive: true, force: true });
      }
    });
  }
});
