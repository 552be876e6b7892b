/**
 * The trace view's handler runs from a span file (`startConsole({ traces })`, `herald console
 * --traces FILE`): each event of a flow gets the `process` spans that carry its id — group,
 * service, attempt, timings, a failure and a dead letter — and other lines (other flows, send
 * spans, malformed lines) are skipped; a missing file is a note, not an error.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { openBroker } from '@herald/broker';
import { targetOfBroker } from '@herald/cli/internal';
import { temporaryDirectory } from '@herald/test-support';
import type { TraceView } from '../src/api-types.ts';
import { startConsole } from '../src/index.ts';

const REQUEST_TIMEOUT_MS = 10_000;

/** A `process <topic>` span line as the checkout's JSON-lines exporter writes it. */
function processSpan(
  id: string,
  fields: { group: string; attempt: number; startMs: number; error?: string },
) {
  return JSON.stringify({
    traceId: 't'.repeat(32),
    spanId: `${id}-${fields.attempt}`,
    name: 'process orders',
    kind: 'CONSUMER',
    startTimeMs: fields.startMs,
    durationMs: 2.5,
    status: fields.error === undefined ? { code: 0 } : { code: 2, message: fields.error },
    attributes: {
      'messaging.message.id': id,
      'messaging.consumer.group.name': fields.group,
      'herald.consumer.source': `/shop/${fields.group}`,
      'herald.delivery_attempt': fields.attempt,
    },
    events: fields.error === undefined ? [] : [{ name: 'herald.dead_letter', attributes: {} }],
  });
}

test('trace spans - each event gets its handler runs from the span file', { timeout: 60_000 }, async () => {
  const dir = temporaryDirectory('herald-console-spans-');
  const broker = await openBroker({ dir: join(dir, 'broker') });
  const target = targetOfBroker(broker);
  const traces = join(dir, 'traces.jsonl');
  const server = await startConsole({ target, traces });
  const missing = await startConsole({ target, traces: join(dir, 'no-such-file.jsonl') });
  try {
    await target.createTopic('orders', 1);
    const nowMs = Date.now();
    const headers = (id: string, type: string, causation?: string) => ({
      ce_specversion: '1.0',
      ce_id: id,
      ce_source: '/shop/order',
      ce_type: type,
      ce_time: new Date(nowMs).toISOString(),
      ce_correlationid: 'flow-1',
      ...(causation === undefined ? {} : { ce_causationid: causation }),
    });
    await target.publish('orders', [
      { key: 'o-1', headers: headers('e-1', 'OrderCreated'), value: Buffer.from('{}') },
      { key: 'o-1', headers: headers('e-2', 'OrderConfirmed', 'e-1'), value: Buffer.from('{}') },
    ]);
    writeFileSync(
      traces,
      [
        processSpan('e-1', { group: 'billing', attempt: 1, startMs: nowMs + 5, error: 'card declined' }),
        '{ not json',
        JSON.stringify({
          name: 'send orders',
          kind: 'PRODUCER',
          attributes: { 'messaging.message.id': 'e-1' },
        }),
        processSpan('other-flow', { group: 'billing', attempt: 1, startMs: nowMs }),
        processSpan('e-1', { group: 'billing', attempt: 2, startMs: nowMs + 50 }),
        processSpan('e-2', { group: 'mail', attempt: 1, startMs: nowMs + 80 }),
      ].join('\n'),
    );
    const response = await fetch(`${server.url}api/trace?q=flow-1`, {
      signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
    });
    const view = (await response.json()) as TraceView;
    assert.equal(response.status, 200);
    assert.deepEqual(
      view.steps.map((step) => [step.id, step.runs?.map((run) => [run.service, run.attempt, run.failed])]),
      [
        [
          'e-1',
          [
            ['billing', 1, true],
            ['billing', 2, false],
          ],
        ],
        ['e-2', [['mail', 1, false]]],
      ],
    );
    const failed = view.steps[0]!.runs![0]!;
    assert.equal(failed.error, 'card declined');
    assert.equal(failed.deadLettered, true);
    assert.equal(failed.durationMs, 2.5);
    assert.deepEqual(view.spans, { file: traces, lines: 6, truncated: false, note: null });

    const none = (await (
      await fetch(`${missing.url}api/trace?q=flow-1`, { signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) })
    ).json()) as TraceView;
    assert.equal(none.steps.length, 2, 'the events are still traced');
    assert.match(none.spans?.note ?? '', /could not read the span file .*no-such-file/);
  } finally {
    await server.close();
    await missing.close();
    await broker.close();
  }
});
