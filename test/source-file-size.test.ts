/**
 * "No source file over ~500 lines except data tables and single state machines" (docs/ARCHITECTURE.md),
 * checked: every file under `packages/*\/src`, `packages/*\/bin` and `apps/*\/src` has at most
 * {@link LINES_MAX} lines, apart from the files {@link EXCEPTIONS} names with the reason. A file
 * that grows past the bound is split along its seams (one job per module); an exception that has
 * shrunk below it is removed from the list, so the list stays the truth.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';

const ROOT = path.resolve(import.meta.dirname, '..');

/** Most lines of a source file. */
const LINES_MAX = 500;

/** Files allowed past {@link LINES_MAX}, and why. */
const EXCEPTIONS: Readonly<Record<string, string>> = {
  'packages/log/src/record-batch.ts':
    "one format's codec: Kafka RecordBatch v2 encode and header checks (record decode is record-decode.ts)",
  'packages/kafka-server/src/group-coordinator.ts':
    'a single state machine: the classic consumer-group protocol',
  'packages/broker/src/broker.ts':
    "the broker's public front (603 lines, most of them TSDoc): one class whose methods check input and delegate to their modules (topic-catalogue, publish-path, group-position-store, group-listing)",
};

/** The TypeScript files of every package's and application's sources, relative to the root. */
function sourceFiles(): string[] {
  const files: string[] = [];
  for (const top of ['packages', 'apps']) {
    for (const name of readdirSync(path.join(ROOT, top))) {
      for (const sub of ['src', 'bin']) {
        const dir = path.join(ROOT, top, name, sub);
        if (!existsSync(dir)) continue;
        for (const entry of readdirSync(dir, { recursive: true, withFileTypes: true })) {
          if (entry.isFile() && entry.name.endsWith('.ts')) {
            files.push(
              path.relative(ROOT, path.join(entry.parentPath, entry.name)).split(path.sep).join('/'),
            );
          }
        }
      }
    }
  }
  return files.sort();
}

/** Lines of `text`, not counting a final newline. */
function lineCount(text: string): number {
  return text.length === 0 ? 0 : text.replace(/\n$/, '').split('\n').length;
}

describe('source file size', () => {
  it(`source file size - no source file over ${LINES_MAX} lines but the named exceptions`, () => {
    const problems: string[] = [];
    const files = sourceFiles();
    assert.ok(files.length > 100, `found only ${files.length} source files: is the root right?`);
    for (const file of files) {
      const lines = lineCount(readFileSync(path.join(ROOT, file), 'utf8'));
      const reason = EXCEPTIONS[file];
      if (lines > LINES_MAX && reason === undefined) {
        problems.push(
          `${file} has ${lines} lines, over ${LINES_MAX}: split it along its seams (one job per module), or add it to EXCEPTIONS in test/source-file-size.test.ts if it is a data table or a single state machine`,
        );
      }
      if (lines <= LINES_MAX && reason !== undefined) {
        problems.push(`${file} has ${lines} lines, no longer over ${LINES_MAX}: remove it from EXCEPTIONS`);
      }
    }
    for (const file of Object.keys(EXCEPTIONS)) {
      if (!files.includes(file)) problems.push(`${file} is in EXCEPTIONS but does not exist: remove it`);
    }
    assert.deepEqual(problems, []);
  });

  it('source file size - lines are counted as wc -l does for files ending in a newline', () => {
    assert.equal(lineCount(''), 0);
    assert.equal(lineCount('a\n'), 1);
    assert.equal(lineCount('a\nb'), 2);
    assert.equal(lineCount('a\nb\n'), 2);
  });
});
