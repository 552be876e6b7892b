/**
 * The console's server over a data directory, without a browser: the JSON routes, a binary value
 * shown as hex, a search that stops at its scan budget, the token, and the refusal to bind beyond
 * loopback without one.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { openBroker } from '@herald/broker';
import { DEAD_LETTER_HEADERS, DEAD_LETTER_KEY } from '@herald/bus';
import { targetOfBroker } from '@herald/cli/internal';
import { temporaryDirectory } from '@herald/test-support';
import type {
  DeadLetterView,
  MessagePage,
  RedriveAllResult,
  SearchProgress,
  TopicView,
} from '../src/api-types.ts';
import { startConsole } from '../src/index.ts';

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
      data: { scanned: 22, budget: 1_000_000, matches: 1, stoppedBy: 'end' },
    });
    const bounded = await readEvents(`${base}/api/search?q=nowhere&budget=5&token=secret`);
    const last = bounded.at(-1)!.data as SearchProgress;
    assert.equal(last.stoppedBy, 'budget');
    assert.equal(last.scanned, 5);

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
