import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DecodeError, decodeEnvelope, encodeEnvelope, uuidv7 } from '../src/index.ts';

const text = (value: string) => new TextEncoder().encode(value);

describe('envelope - CloudEvents binary and structured mode', () => {
  it('binary mode: ce_ headers and content-type, JSON body', () => {
    const message = encodeEnvelope({
      specversion: '1.0',
      id: 'id-1',
      source: '/s',
      type: 'T',
      time: '2026-01-01T00:00:00.000Z',
      datacontenttype: 'application/json',
      partitionkey: 'k',
      dataversion: 2,
      extensions: {},
      data: { a: 1 },
    });
    assert.deepEqual(message.headers, {
      'content-type': 'application/json',
      ce_specversion: '1.0',
      ce_id: 'id-1',
      ce_source: '/s',
      ce_type: 'T',
      ce_time: '2026-01-01T00:00:00.000Z',
      ce_partitionkey: 'k',
      ce_dataversion: '2',
    });
    assert.equal(message.key, 'k');
    assert.equal(new TextDecoder().decode(message.body), '{"a":1}');
  });

  it('structured mode input decodes to the same envelope', () => {
    const body = text(
      JSON.stringify({
        specversion: '1.0',
        id: 'x',
        source: '/foreign',
        type: 'T',
        tenant: 'acme',
        data: { ok: true },
      }),
    );
    const envelope = decodeEnvelope({ headers: { 'content-type': 'application/cloudevents+json' }, body });
    assert.equal(envelope.source, '/foreign');
    assert.deepEqual(envelope.extensions, { tenant: 'acme' });
    assert.deepEqual(envelope.data, { ok: true });
    assert.equal(envelope.dataversion, 1);
  });

  it('undecodable input says what is wrong', () => {
    const headers = { ce_id: '1', ce_source: '/s', ce_type: 'T', ce_specversion: '1.0' };
    assert.throws(() => decodeEnvelope({ headers, body: text('{not json') }), /not valid JSON/);
    assert.throws(() => decodeEnvelope({ headers, body: new Uint8Array([0xff, 0xfe]) }), /not valid UTF-8/);
    assert.throws(() => decodeEnvelope({ headers: { ce_id: '1' }, body: text('1') }), DecodeError);
    assert.throws(
      () => decodeEnvelope({ headers: { ...headers, ce_specversion: '0.3' }, body: text('1') }),
      /unsupported CloudEvents specversion/,
    );
  });

  it('uuidv7 ids are valid and strictly increasing', () => {
    const ids = Array.from({ length: 5000 }, () => uuidv7());
    for (const id of ids)
      assert.match(id, /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    for (let index = 1; index < ids.length; index++)
      assert.ok(ids[index - 1]! < ids[index]!, 'ids not increasing');
  });
});
