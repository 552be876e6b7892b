import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { temporaryDirectory } from '@herald/test-support';
import { run } from '../src/index.ts';

const MODULE = join(import.meta.dirname, 'fixtures', 'asyncapi-services.ts');

async function herald(args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await run(args, {
    stdout: (text) => {
      out += text;
    },
    stderr: (text) => {
      err += text;
    },
  });
  return { code, out, err };
}

test('asyncapi - writes the document, --check passes on it and fails on drift', {
  timeout: 60_000,
}, async () => {
  const out = join(temporaryDirectory('herald-asyncapi-'), 'asyncapi.json');
  const written = await herald(['asyncapi', MODULE, '--out', out]);
  assert.equal(written.code, 0, written.err);
  const document = JSON.parse(readFileSync(out, 'utf8'));
  assert.equal(document.asyncapi, '3.0.0');
  assert.deepEqual(Object.keys(document.operations), ['billing.receive.orders', 'shop.send.orders']);
  assert.equal((await herald(['asyncapi', MODULE, '--out', out, '--check'])).code, 0);
  writeFileSync(out, readFileSync(out, 'utf8').replace('CLI fixture', 'Stale'));
  const drift = await herald(['asyncapi', MODULE, '--out', out, '--check']);
  assert.equal(drift.code, 1);
  assert.match(drift.err, /is not the document of .*; regenerate it with/);
});

test('asyncapi - named exports, stdout, and usage errors', { timeout: 60_000 }, async () => {
  const named = await herald(['asyncapi', MODULE, '--export', 'alternative']);
  assert.equal(named.code, 0, named.err);
  assert.equal(JSON.parse(named.out).info.title, 'Alternative');
  const missing = await herald(['asyncapi', MODULE, '--export', 'nothing']);
  assert.equal(missing.code, 2);
  assert.match(missing.err, /has no export "nothing"/);
  assert.equal((await herald(['asyncapi'])).code, 2);
  assert.equal((await herald(['asyncapi', MODULE, '--check'])).code, 2);
  assert.equal((await herald(['asyncapi', join(import.meta.dirname, 'no-such-module.ts')])).code, 3);
});
