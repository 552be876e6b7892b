/**
 * The console's server over a data directory, without a browser: the JSON routes, a binary value
 * shown as hex, a search that stops at its scan budget, the token, the refusal to bind beyond
 * loopback without one, produce (checked, bounded) and the read-only mode.
 */
import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import { test } from 'node:test';
import { openBroker } from '@herald/broker';
import { DEAD_LETTER_HEADERS, DEAD_LETTER_KEY } from '@herald/bus';
import { partitionForKey } from '@herald/bus/internal';
import { targetOfBroker } from '@herald/cli/internal';
import { temporaryDirectory } from '@herald/test-support';
import type {
  ConsoleSettings,
  DeadLetterView,
  ErrorView,
  MessagePage,
  ProduceRequest,
  ProduceResult,
  RedriveAllResult,
  SearchProgress,
  TopicView,
  TraceView,
} from '../src/api-types.ts';
import { startConsole } from '../src/index.ts';
import { PRODUCE_BODY_BYTES_MAX } from '../src/produce.ts';

const REQUEST_TIMEOUT_MS = 10_000;

async function getJson<T>(url: string): Promise<{ status: number; body: T }> {
  const response = await fetch(url, { signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
  return { status: response.status, body: (await response.json()) as T };
}

/** Reads an SSE stream to its end; resolves the events by name. */
async function readEvents(url: string): Promise<{ event: string; data: unknown }[]> {
  const response = await fetch(url, { signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
  const text = await response.text();
  return text
    .split('\n\n')
    .filter((block) => block.startsWith('event: '))
    .map((block) => {
      const [eventLine, dataLine] = block.split('\n');
      return {
        event: eventLine!.slice('event: '.length),
        data: JSON.parse(dataLine!.slice('data: '.length)),
      };
    });
}

test('console server - topics, messages (JSON and hex), search budget, token', {
  timeout: 60_000,
}, async () => {
  const broker = await openBroker({ dir: temporaryDirectory('herald-console-server-') });
  const target = targetOfBroker(broker);
  const server = await startConsole({ target, token: 'secret' });
  try {
    await target.createTopic('orders', 1);
    await target.publish('orders', [
      {
        key: 'o-1',
        headers: { ce_type: 'OrderCreated', ce_id: 'e-1' },
        value: Buffer.from('{"orderId":"o-1"}'),
      },
      { key: 'o-2', headers: {}, value: Uint8Array.of(0xff, 0x00, 0x10) },
      ...Array.from({ length: 20 }, (_, index) => ({
        key: `k-${index}`,
        headers: {},
        value: Buffer.from('x'),
      })),
    ]);
    const base = server.url.replace(/\/\?token=secret$/, '');
    assert.equal((await getJson(`${base}/api/topics`)).status, 401, 'no token, no data');
    const topics = await getJson<TopicView[]>(`${base}/api/topics?token=secret`);
    assert.equal(topics.status, 200);
    assert.deepEqual(
      topics.body.map((topic) => [topic.name, topic.messages]),
      [['orders', '22']],
    );
    const page = await getJson<MessagePage>(
      `${base}/api/messages?topic=orders&partition=0&offset=0&limit=2&token=secret`,
    );
    const [json, binary] = page.body.messages;
    assert.equal(json?.value?.kind, 'json');
    assert.equal(json?.value?.text, '{\n  "orderId": "o-1"\n}');
    assert.equal(json?.cloudEvent?.type, 'OrderCreated');
    assert.deepEqual(binary?.value, { kind: 'hex', text: 'ff 00 10', sizeBytes: 3 });
    assert.equal(page.body.nextOffset, '2');
    const future = await getJson<MessagePage>(
      `${base}/api/messages?topic=orders&partition=0&time=2999-01-01T00:00:00Z&token=secret`,
    );
    assert.deepEqual(
      [future.body.messages.length, future.body.nextOffset],
      [0, '22'],
      'from a future time: the end',
    );
    const past = await getJson<MessagePage>(
      `${base}/api/messages?topic=orders&partition=0&time=0&limit=1&token=secret`,
    );
    assert.equal(past.body.messages[0]?.offset, '0', 'from time 0: the first message');

    const found = await readEvents(`${base}/api/search?q=o-1&token=secret`);
    assert.deepEqual(found.at(-1), {
      event: 'done',
      data: { scanned: 22, budget: 1_000_000, retained: 22, matches: 1, stoppedBy: 'end' },
    });
    const bounded = await readEvents(`${base}/api/search?q=nowhere&budget=5&token=secret`);
    const last = bounded.at(-1)!.data as SearchProgress;
    assert.equal(last.stoppedBy, 'budget');
    // The 22 messages are one stored batch without "nowhere": left out undecoded, counted whole.
    assert.equal(last.scanned, 22);
    const decoded = await readEvents(`${base}/api/search?q=k-1&budget=5&token=secret`);
    assert.deepEqual(
      decoded.at(-1)!.data,
      { scanned: 5, budget: 5, retained: 22, matches: 1, stoppedBy: 'budget' },
      'a batch holding the text is decoded, and the budget counts its records one by one',
    );

    const missing = await getJson<{ code: string }>(`${base}/api/messages?topic=nope&token=secret`);
    assert.equal(missing.status, 404);
    assert.equal(missing.body.code, 'CLI_NOT_FOUND');
  } finally {
    await server.close();
    await broker.close();
  }
});

test('console server - refuses a non-loopback address without a token', async () => {
  const broker = await openBroker({ dir: temporaryDirectory('herald-console-server-') });
  try {
    await assert.rejects(startConsole({ target: targetOfBroker(broker), host: '0.0.0.0' }), {
      code: 'HERALD_CONFIGURATION',
      message: /--token/,
    });
  } finally {
    await broker.close();
  }
});

test('console server - redrive all dead letters of one group, the others stay', {
  timeout: 60_000,
}, async () => {
  const broker = await openBroker({ dir: temporaryDirectory('herald-console-server-') });
  const target = targetOfBroker(broker);
  const server = await startConsole({ target });
  try {
    await target.createTopic('orders', 1);
    const now = new Date().toISOString();
    const deadLetter = (id: string, group: string) => ({
      key: DEAD_LETTER_KEY,
      headers: {
        [DEAD_LETTER_HEADERS.id]: id,
        [DEAD_LETTER_HEADERS.topic]: 'orders',
        [DEAD_LETTER_HEADERS.partition]: '0',
        [DEAD_LETTER_HEADERS.offset]: '0',
        [DEAD_LETTER_HEADERS.group]: group,
        [DEAD_LETTER_HEADERS.reason]: 'handler-failed',
        [DEAD_LETTER_HEADERS.attempts]: '3',
        [DEAD_LETTER_HEADERS.firstFailedAt]: now,
        [DEAD_LETTER_HEADERS.lastFailedAt]: now,
      },
      value: Buffer.from('{}'),
    });
    await target.publish('orders.dlq', [
      deadLetter('d-1', 'billing'),
      deadLetter('d-2', 'billing'),
      deadLetter('d-3', 'shipping'),
    ]);
    const response = await fetch(`${server.url}api/dead-letters/redrive-all`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ group: 'billing' }),
      signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
    });
    assert.deepEqual((await response.json()) as RedriveAllResult, { redriven: 2, more: false });
    const left = await getJson<DeadLetterView[]>(`${server.url}api/dead-letters`);
    assert.deepEqual(
      left.body.map((letter) => letter.id),
      ['d-3'],
    );
    const redriven = await getJson<MessagePage>(
      `${server.url}api/messages?topic=orders&partition=0&offset=0`,
    );
    assert.equal(redriven.body.messages.length, 2, 'both originals are back on orders');
  } finally {
    await server.close();
    await broker.close();
  }
});

async function postJson<T>(url: string, body: unknown): Promise<{ status: number; body: T }> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: typeof body === 'string' ? body : JSON.stringify(body),
    signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
  });
  return { status: response.status, body: (await response.json()) as T };
}

test('console server - produce: JSON, text and hex values, checked; a re-produce gets a new event id', {
  timeout: 60_000,
}, async () => {
  const broker = await openBroker({ dir: temporaryDirectory('herald-console-server-') });
  const target = targetOfBroker(broker);
  const server = await startConsole({ target });
  try {
    await target.createTopic('orders', 3);
    const produced = await postJson<ProduceResult>(`${server.url}api/produce`, {
      topic: 'orders',
      key: 'o-7',
      headers: { ce_id: 'e-7', ce_type: 'OrderCreated', source: 'test' },
      value: '{\n  "orderId": "o-7"\n}',
      valueKind: 'json',
      newEventId: true,
    } satisfies ProduceRequest);
    assert.equal(produced.status, 200, JSON.stringify(produced.body));
    assert.equal(produced.body.partition, partitionForKey('o-7', 3));
    assert.notEqual(produced.body.eventId, 'e-7', 'a fresh ce_id');
    const page = await getJson<MessagePage>(
      `${server.url}api/messages?topic=orders&partition=${produced.body.partition}&offset=0`,
    );
    const [message] = page.body.messages;
    assert.equal(message?.key?.text, 'o-7');
    assert.equal(message?.value?.text, '{\n  "orderId": "o-7"\n}');
    assert.equal(message?.value?.sizeBytes, '{"orderId":"o-7"}'.length, 'JSON is sent compact');
    assert.equal(message?.cloudEvent?.id, produced.body.eventId);
    assert.equal(Object.fromEntries(message?.headers ?? []).source, 'test');

    const wrapped = await postJson<ProduceResult>(`${server.url}api/produce`, {
      topic: 'orders',
      key: null,
      headers: {},
      value: 'ff 00 10',
      valueKind: 'hex',
    } satisfies ProduceRequest);
    assert.deepEqual([wrapped.status, wrapped.body.partition, wrapped.body.sizeBytes], [200, null, 3]);
    const event = await postJson<ProduceResult>(`${server.url}api/produce`, {
      topic: 'orders',
      key: 'o-8',
      headers: {},
      value: '{"orderId":"o-8"}',
      valueKind: 'json',
      cloudEventType: 'OrderCreated',
    } satisfies ProduceRequest);
    assert.equal(event.status, 200);
    assert.ok(event.body.eventId, 'wrapped as a CloudEvent, as herald produce --cloudevent');

    const bad = await postJson<ErrorView>(`${server.url}api/produce`, {
      topic: 'orders',
      key: 'k',
      headers: { count: 3 },
      value: '{"unclosed":',
      valueKind: 'json',
    });
    assert.equal(bad.status, 400);
    assert.equal(bad.body.code, 'CLI_USAGE');
    assert.match(bad.body.error, /not valid JSON/);
    assert.match(bad.body.error, /header "count" must be a text value/);
    const missing = await postJson<ErrorView>(`${server.url}api/produce`, {
      topic: 'nope',
      key: null,
      headers: {},
      value: 'x',
      valueKind: 'text',
    } satisfies ProduceRequest);
    assert.equal(missing.status, 404);
    const huge = await postJson<ErrorView>(`${server.url}api/produce`, {
      topic: 'orders',
      key: null,
      headers: {},
      value: 'x'.repeat(PRODUCE_BODY_BYTES_MAX),
      valueKind: 'text',
    } satisfies ProduceRequest);
    assert.equal(huge.status, 400);
    assert.match(huge.body.error, /herald produce FILE/);
    const topics = await getJson<TopicView[]>(`${server.url}api/topics`);
    assert.equal(topics.body[0]?.messages, '3', 'only the three good requests were published');
  } finally {
    await server.close();
    await broker.close();
  }
});

/** A request with headers fetch would not send as given (Host). */
function rawRequest(
  url: string,
  options: { method: string; headers: Record<string, string>; body?: string },
): Promise<number> {
  return new Promise((resolve, reject) => {
    const request = httpRequest(url, {
      method: options.method,
      headers: options.headers,
      timeout: REQUEST_TIMEOUT_MS,
    });
    request.once('response', (response) => {
      response.resume();
      resolve(response.statusCode ?? 0);
    });
    request.once('timeout', () =>
      request.destroy(new Error(`no answer from ${url} in ${REQUEST_TIMEOUT_MS} ms`)),
    );
    request.once('error', reject);
    request.end(options.body);
  });
}

test('console server - without a token: other host names and non-JSON posts are refused', {
  timeout: 60_000,
}, async () => {
  const broker = await openBroker({ dir: temporaryDirectory('herald-console-server-') });
  const target = targetOfBroker(broker);
  const server = await startConsole({ target });
  try {
    await target.createTopic('orders', 1);
    const body = JSON.stringify({ topic: 'orders', key: null, headers: {}, value: 'x', valueKind: 'text' });
    // A name resolving to 127.0.0.1 (DNS rebinding) is not the console's address.
    const rebound = await rawRequest(`${server.url}api/topics`, {
      method: 'GET',
      headers: { host: 'attacker.example:80' },
    });
    assert.equal(rebound, 403);
    // A cross-site form or text/plain post (no CORS preflight) cannot write.
    const plain = await rawRequest(`${server.url}api/produce`, {
      method: 'POST',
      headers: { 'content-type': 'text/plain' },
      body,
    });
    assert.equal(plain, 415);
    const json = await rawRequest(`${server.url}api/produce`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body,
    });
    assert.equal(json, 200, 'the page itself posts JSON to its loopback address');
    const topics = await getJson<TopicView[]>(`${server.url}api/topics`);
    assert.equal(topics.body[0]?.messages, '1', 'only the JSON post was published');
  } finally {
    await server.close();
    await broker.close();
  }
});

test('console server - read-only: writes are refused with 403, reads work', { timeout: 60_000 }, async () => {
  const broker = await openBroker({ dir: temporaryDirectory('herald-console-server-') });
  const target = targetOfBroker(broker);
  const server = await startConsole({ target, readOnly: true });
  try {
    await target.createTopic('orders', 1);
    const settings = await getJson<ConsoleSettings>(`${server.url}api/settings`);
    assert.equal(settings.body.readOnly, true);
    for (const route of ['produce', 'groups/reset', 'dead-letters/redrive', 'dead-letters/redrive-all']) {
      const refused = await postJson<ErrorView>(`${server.url}api/${route}`, {
        topic: 'orders',
        key: null,
        headers: {},
        value: 'x',
        valueKind: 'text',
      });
      assert.equal(refused.status, 403, route);
      assert.equal(refused.body.code, 'CONSOLE_READ_ONLY');
      assert.match(refused.body.error, /without --read-only/);
    }
    assert.equal((await getJson(`${server.url}api/topics`)).status, 200);
    const topics = await getJson<TopicView[]>(`${server.url}api/topics`);
    assert.equal(topics.body[0]?.messages, '0', 'nothing was published');
  } finally {
    await server.close();
    await broker.close();
  }
});

test('console server - the trace of a later event finds the flow before it and after it, across correlations', {
  timeout: 60_000,
}, async () => {
  const broker = await openBroker({ dir: temporaryDirectory('herald-console-server-') });
  const target = targetOfBroker(broker);
  const server = await startConsole({ target });
  const event = (id: string, correlation: string, cause: string | undefined, key: string) => ({
    key,
    headers: {
      ce_id: id,
      ce_type: `T-${id}`,
      ce_source: `/test/${id}`,
      ce_correlationid: correlation,
      ...(cause === undefined ? {} : { ce_causationid: cause }),
    },
    value: Buffer.from('{}'),
  });
  try {
    // Topics are read in name order: the flow's first event is in a topic read before the one
    // holding the traced event, its last in one read after; a saga's new correlation (c-2, same
    // key) is found from the key; an unrelated flow stays out.
    await target.publish('a-first', [
      event('e-1', 'c-1', undefined, 'k-1'),
      event('x-1', 'c-9', undefined, 'k-9'),
    ]);
    await target.publish('b-second', [event('e-2', 'c-1', 'e-1', 'k-1')]);
    await target.publish('c-third', [
      event('e-3', 'c-1', 'e-2', 'other-key'),
      event('s-1', 'c-2', 'e-2', 'k-1'),
    ]);
    const byEvent = await getJson<TraceView>(`${server.url}api/trace?q=e-2`);
    assert.deepEqual(
      byEvent.body.steps.map((step) => step.id),
      ['e-1', 'e-2', 'e-3'],
    );
    const byKey = await getJson<TraceView>(`${server.url}api/trace?q=k-1`);
    assert.deepEqual(byKey.body.steps.map((step) => step.id).sort(), ['e-1', 'e-2', 'e-3', 's-1']);
    assert.equal(byKey.body.truncated, false);
  } finally {
    await server.close();
    await broker.close();
  }
});
