/**
 * The security directory's JSON files (users.json, acls.json share this code): absent reads as
 * undefined, damage is a configuration error naming the file and its remedy, and writes are
 * crash-safe replacements that leave no temporary file, even when two writers race.
 */
import assert from 'node:assert/strict';
import { readdirSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { temporaryDirectory } from '@herald/test-support';
import { KafkaServerConfigError } from '../src/config-error.ts';
import { fileVersion, readJsonFile, type SecurityFile, writeJsonFile } from '../src/security/json-file.ts';

const REMEDY = 'restore it from a backup or recreate the things';

function securityFile(bytesMax = 1024): SecurityFile {
  const file = path.join(temporaryDirectory('herald-json-file-'), 'security', 'things.json');
  return { file, bytesMax, remedy: REMEDY };
}

/** Whether `error` is the damaged-file error of `file`, saying what to do. */
function damaged(file: string, why: RegExp) {
  return (error: unknown) =>
    error instanceof KafkaServerConfigError &&
    error.message.startsWith(`${file} is damaged (`) &&
    why.test(error.message) &&
    error.message.endsWith(REMEDY);
}

describe('security json file', { timeout: 30_000 }, () => {
  it('security json file - an absent file reads as undefined; a written one reads back', async () => {
    const security = securityFile();
    assert.equal(await readJsonFile(security), undefined);
    await writeJsonFile(security.file, { things: [1, 'two'] });
    assert.deepEqual(await readJsonFile(security), { things: [1, 'two'] });
    assert.equal(statSync(security.file).mode & 0o777, 0o600, 'owner only');
    assert.equal(statSync(path.dirname(security.file)).mode & 0o777, 0o700, 'owner only');
  });

  it('security json file - invalid JSON and an oversized file are damaged, with the remedy', async () => {
    const security = securityFile(64);
    await writeJsonFile(security.file, {});
    writeFileSync(security.file, '{"things": [');
    await assert.rejects(readJsonFile(security), damaged(security.file, /JSON/));
    writeFileSync(security.file, JSON.stringify({ things: 'x'.repeat(64) }));
    await assert.rejects(readJsonFile(security), damaged(security.file, /over the 64-byte bound/));
  });

  it('security json file - concurrent writers each replace the file whole, leaving no temporary file', async () => {
    const security = securityFile();
    const values = Array.from({ length: 8 }, (_, index) => ({ writer: index }));
    await Promise.all(values.map((value) => writeJsonFile(security.file, value)));
    const read = await readJsonFile(security);
    assert.ok(
      values.some((value) => JSON.stringify(value) === JSON.stringify(read)),
      `one writer's whole value, got ${JSON.stringify(read)}`,
    );
    assert.deepEqual(readdirSync(path.dirname(security.file)), ['things.json']);
  });

  it('security json file - its version is absent until written and changes with each replacement', async () => {
    const security = securityFile();
    assert.equal(await fileVersion(security.file), 'absent');
    await writeJsonFile(security.file, { n: 1 });
    const first = await fileVersion(security.file);
    assert.notEqual(first, 'absent');
    assert.equal(await fileVersion(security.file), first, 'stable while unchanged');
    await writeJsonFile(security.file, { n: 2 });
    assert.notEqual(await fileVersion(security.file), first, 'a replacement is a new inode');
  });
});
