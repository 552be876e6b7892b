import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { utf8Bytes } from '../src/envelope.ts';
import {
  DecodeError,
  decodeEnvelope,
  type Envelope,
  encodeEnvelope,
  messageSizeBytes,
  uuidv7,
} from '../src/index.ts';

const text = (value: string) => new TextEncoder().encode(value);

describe('envelope - CloudEvents binary and structured mode', { timeout: 120_000 }, () => {
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
    // Each kind of invalid UTF-8, inside a JSON string so only the bytes are wrong: a truncated
    // sequence, an overlong '/', an encoded surrogate, a code point above U+10FFFF, a lone
    // continuation byte. A body that holds a real U+FFFD is valid.
    for (const bad of [[0xc3], [0xc0, 0xaf], [0xed, 0xa0, 0x80], [0xf4, 0x90, 0x80, 0x80], [0x80]]) {
      const body = new Uint8Array([0x22, ...bad, 0x22]);
      assert.throws(() => decodeEnvelope({ headers, body }), /not valid UTF-8/, `bytes ${bad}`);
    }
    assert.equal(decodeEnvelope({ headers, body: text('"\uFFFD"') }).data, '\uFFFD');
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

  it('uuidv7 carries the creation millisecond in its first 48 bits', () => {
    const before = Date.now();
    const id = uuidv7();
    const after = Date.now();
    const ms = Number.parseInt(id.slice(0, 8) + id.slice(9, 13), 16);
    // The clock never steps back, so an id may run at most a little ahead of a slower clock.
    assert.ok(ms >= before - 1 && ms <= after + 1, `${ms} not within [${before}, ${after}]`);
  });

  it('binary mode round trip: extensions in order, optional attributes only when present', () => {
    const envelope: Envelope = {
      specversion: '1.0',
      id: 'id-2',
      source: '/s',
      type: 'T',
      time: '2026-01-01T00:00:00.000Z',
      datacontenttype: 'application/json',
      subject: 'sub',
      correlationid: 'c',
      causationid: 'cause',
      traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
      dataversion: 3,
      replyto: 'replies',
      extensions: { tenant: 'acmé', zone: 'eu', data: 'not the payload' },
      data: { text: 'grüße 🎉' },
    };
    const message = encodeEnvelope(envelope);
    assert.deepEqual(Object.keys(message.headers).slice(0, 4), [
      'content-type',
      'ce_tenant',
      'ce_zone',
      'ce_data',
    ]);
    // Then the attributes in CloudEvents order, every value a string.
    assert.deepEqual(Object.entries(message.headers).slice(4), [
      ['ce_specversion', '1.0'],
      ['ce_id', 'id-2'],
      ['ce_source', '/s'],
      ['ce_type', 'T'],
      ['ce_time', '2026-01-01T00:00:00.000Z'],
      ['ce_subject', 'sub'],
      ['ce_correlationid', 'c'],
      ['ce_causationid', 'cause'],
      ['ce_traceparent', '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01'],
      ['ce_dataversion', '3'],
      ['ce_replyto', 'replies'],
    ]);
    const decoded = decodeEnvelope(message);
    assert.deepEqual(decoded, envelope);
    assert.deepEqual(Object.keys(decoded.extensions), ['tenant', 'zone', 'data']);
    // The content-type header stands in for a missing ce_datacontenttype; the time defaults to the epoch.
    const bare = decodeEnvelope({
      headers: {
        'content-type': 'text/x',
        ce_id: '1',
        ce_source: '/s',
        ce_type: 'T',
        ce_specversion: '1.0',
        x: 'y',
      },
      body: text('null'),
    });
    assert.equal(bare.datacontenttype, 'text/x');
    assert.equal(bare.time, '1970-01-01T00:00:00.000Z');
    assert.deepEqual(bare.extensions, {});
    assert.equal('subject' in bare, false);
  });

  it('binary mode: headers counted without Object.keys; no extensions is one frozen empty record; an inherited header is no extension', () => {
    const headers = {
      ce_specversion: '1.0',
      ce_id: 'id-1',
      ce_source: '/s',
      ce_type: 'T',
    };
    const body = text('{"a":1}');
    const first = decodeEnvelope({ headers, body });
    const second = decodeEnvelope({ headers: { ...headers, ce_id: 'id-2' }, body });
    assert.deepEqual(first.extensions, {});
    assert.ok(Object.isFrozen(first.extensions), 'shared, so frozen');
    assert.equal(first.extensions, second.extensions);
    // One header more than the known attributes: the extension is found.
    assert.deepEqual(decodeEnvelope({ headers: { ...headers, ce_region: 'eu' }, body }).extensions, {
      region: 'eu',
    });
    // An enumerable property inherited by the headers record counts in for…in, not in the
    // record's own names: the slow path answers, with no extension.
    const inheriting = Object.assign(Object.create({ ce_inherited: 'x' }) as Record<string, string>, headers);
    const decoded = decodeEnvelope({ headers: inheriting, body });
    assert.deepEqual(decoded.extensions, {});
    assert.equal(decoded.id, 'id-1');
  });

  it('binary mode: a header present with no value is neither an attribute nor an extension', () => {
    // Decoding skips its look for extensions when every header is a known attribute; a header
    // whose value is undefined must not be mistaken for one.
    const headers: Record<string, string | undefined> = {
      'content-type': 'application/json',
      ce_specversion: '1.0',
      ce_id: '1',
      ce_source: '/s',
      ce_type: 'T',
      ce_subject: undefined,
      ce_tenant: 'acme',
    };
    const decoded = decodeEnvelope({ headers: headers as Record<string, string>, body: text('1') });
    assert.deepEqual(decoded.extensions, { tenant: 'acme' });
    assert.equal('subject' in decoded, false);
  });

  it('utf8Bytes and messageSizeBytes agree with TextEncoder and Buffer.byteLength', () => {
    for (const value of [
      '',
      'ascii',
      'grüße',
      '🎉 emoji',
      'lone \ud800 surrogate',
      '\udc00',
      'x'.repeat(9000),
    ]) {
      const bytes = utf8Bytes(value);
      assert.deepEqual(bytes, new TextEncoder().encode(value));
      assert.equal(Object.getPrototypeOf(bytes), Uint8Array.prototype);
      assert.equal(bytes.buffer.byteLength, bytes.byteLength, 'a buffer of its own');
      const message = { key: value, headers: { [`h-${value}`]: value, plain: 'v' }, body: bytes };
      const expected =
        bytes.byteLength +
        Buffer.byteLength(value) * 3 +
        Buffer.byteLength('h-') +
        Buffer.byteLength('plainv');
      assert.equal(messageSizeBytes(message), expected);
    }
  });
});
