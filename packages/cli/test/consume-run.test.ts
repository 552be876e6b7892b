/** Which layout consume and tail print, in-process. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { layoutOf } from '../src/consume-run.ts';
import { UsageError } from '../src/errors.ts';

test('consume run - the layout: kcat raw by default, one of -f, -J, --json, --pretty at a time', () => {
  assert.deepEqual(layoutOf({}, 'raw'), {
    kind: 'raw',
    raw: { keyDelimiter: undefined, messageDelimiter: '\n', nullText: '' },
  });
  assert.deepEqual(layoutOf({ 'json-envelope': true }, 'raw'), { kind: 'kcat-json' });
  assert.deepEqual(layoutOf({ json: true }, 'raw'), { kind: 'cloudevents-json' });
  assert.deepEqual(layoutOf({ format: '%s', 'null-as-text': true }, 'raw'), {
    kind: 'format',
    format: '%s',
    nullText: 'NULL',
  });
  assert.throws(() => layoutOf({ format: '%s', 'json-envelope': true }, 'raw'), UsageError);
  assert.throws(() => layoutOf({ json: true, pretty: true }, 'raw'), /give one of --json, --pretty/);
  // tail on a terminal is human, unless kcat's -K, -D or -Z ask for kcat's layout.
  assert.deepEqual(layoutOf({}, 'pretty'), { kind: 'pretty' });
  assert.deepEqual(layoutOf({ 'key-delimiter': '\\t' }, 'pretty'), {
    kind: 'raw',
    raw: { keyDelimiter: '\t', messageDelimiter: '\n', nullText: '' },
  });
});
