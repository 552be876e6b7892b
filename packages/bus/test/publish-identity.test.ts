import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { TransportMessage } from '@herald/bus';
import { publishIdentity } from '@herald/bus/internal';

const encoder = new TextEncoder();
const original: TransportMessage = {
  key: 'order-1',
  headers: { ce_id: 'event-1', ce_type: 'OrderPlaced', herald_target_group: 'billing' },
  body: encoder.encode('{"total":5}'),
};

describe('publish identity (shared)', { timeout: 60_000 }, () => {
  it('publish identity - an exact copy shares it, whatever the order of its headers', () => {
    const copy: TransportMessage = {
      key: 'order-1',
      headers: { herald_target_group: 'billing', ce_type: 'OrderPlaced', ce_id: 'event-1' },
      body: encoder.encode('{"total":5}'),
    };
    const identity = publishIdentity(original);
    assert.match(identity ?? '', /^[A-Za-z0-9_-]{43}$/);
    assert.equal(publishIdentity(copy), identity);
  });

  it('publish identity - the same CloudEvents id with another key, header or body is another message', () => {
    const identity = publishIdentity(original);
    const variants: [string, TransportMessage][] = [
      ['another key', { ...original, key: 'order-2' }],
      ['no key', { headers: original.headers, body: original.body }],
      ['a header more', { ...original, headers: { ...original.headers, herald_dlq_group: 'a' } }],
      ['a header less', { ...original, headers: { ce_id: 'event-1', ce_type: 'OrderPlaced' } }],
      ['another header value', { ...original, headers: { ...original.headers, herald_target_group: 'x' } }],
      ['another body', { ...original, body: encoder.encode('{"total":6}') }],
    ];
    const seen = new Set([identity]);
    for (const [what, variant] of variants) {
      const other = publishIdentity(variant);
      assert.notEqual(other, identity, what);
      seen.add(other);
    }
    assert.equal(seen.size, variants.length + 1, 'the variants differ from each other too');
  });

  it('publish identity - field boundaries are unambiguous (no key vs empty key, split header text)', () => {
    const base = { headers: { ce_id: 'e' }, body: new Uint8Array(0) };
    assert.notEqual(publishIdentity(base), publishIdentity({ ...base, key: '' }));
    assert.notEqual(
      publishIdentity({ ...base, headers: { ce_id: 'e', a: 'bc' } }),
      publishIdentity({ ...base, headers: { ce_id: 'e', ab: 'c' } }),
    );
  });

  it('publish identity - a message without a CloudEvents id has none', () => {
    assert.equal(publishIdentity({ headers: {}, body: new Uint8Array(0) }), undefined);
    assert.equal(publishIdentity({ headers: { ce_id: '' }, body: new Uint8Array(0) }), undefined);
  });
});
