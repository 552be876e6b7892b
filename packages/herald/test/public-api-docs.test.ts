/**
 * Every declaration exported from a public entry point of every package (its `exports` map, minus
 * `./internal`) carries a TSDoc comment. The check itself is `scripts/check-tsdoc.ts`.
 */
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { it } from 'node:test';
import { missingDocs } from '../../../scripts/check-tsdoc.ts';

it('public api - every export of every public entry point has a TSDoc comment', () => {
  const packages = readdirSync(join(import.meta.dirname, '..', '..'));
  const missing = missingDocs(packages);
  assert.deepEqual(
    missing.map(({ file, line, name }) => `${file}:${line} ${name}`),
    [],
    'add a /** ... */ comment above each of these',
  );
});
