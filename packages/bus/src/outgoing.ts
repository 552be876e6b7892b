/**
 * What the bus sends that is not a contract's own publish: the reply to a query, and the event
 * time stamp every envelope carries. Kept apart from bus.ts, which holds the bus's lifecycle.
 */
import type { HandlerContext } from './context.ts';
import type { Contract, QueryContract } from './contracts.ts';
import { type Envelope, encodeEnvelope } from './envelope.ts';
import type { BusMetrics } from './metrics.ts';
import { REPLY_ERROR_MESSAGE, REPLY_ERROR_NAME } from './request-reply.ts';
import { validate } from './schema.ts';
import { activeOr, endWhenSettled, startSend } from './tracing.ts';
import type { Transport } from './transport.ts';
import { uuidv7 } from './uuid.ts';

/** Who sends a reply: the bus's transport, its CloudEvents source and its `messaging.system`. */
export interface ReplySender {
  readonly transport: Transport;
  readonly source: string;
  readonly system: string;
}

/** One reply: the topic the requester named, its query, the handler's result and the request. */
export interface Reply {
  readonly topic: string;
  readonly query: QueryContract;
  readonly result: unknown;
  readonly request: Envelope;
  /** CloudEvents extensions of the reply; `tracestate` is set here when the reply is traced. */
  readonly extensions: Record<string, string>;
}

/**
 * Publishes the reply to `request` as a `<type>.reply` event correlated with it, in a PRODUCER
 * span whose parent is the active context (the replier's handler run) or else the request's.
 */
export async function publishReply(sender: ReplySender, reply: Reply): Promise<void> {
  const { topic, query, result, request, extensions } = reply;
  const [id, type, correlationId] = [uuidv7(), `${query.type}.reply`, request.correlationid ?? request.id];
  const fields = {
    system: sender.system,
    source: sender.source,
    topic,
    id,
    type,
    key: undefined,
    correlationId,
  };
  // The replier's handler run is the active context when an SDK's context manager is set;
  // without one, the request's own context is the parent.
  const sent = startSend(fields, activeOr(request));
  if (sent.tracestate !== undefined) extensions.tracestate = sent.tracestate;
  const envelope: Envelope = {
    specversion: '1.0',
    id,
    source: sender.source,
    type,
    time: isoNow(),
    datacontenttype: 'application/json',
    correlationid: correlationId,
    causationid: request.id,
    traceparent: sent.traceparent ?? request.traceparent,
    dataversion: 1,
    extensions,
    data: result,
  };
  await endWhenSettled(sent.span, sender.transport.publish(topic, [encodeEnvelope(envelope)]));
}

/**
 * The handler a bus registers for `query`'s replier: runs `handler`, validates its result and
 * publishes the reply (or the error's name and message as extensions) to the request's `replyto`.
 */
export function replier(
  query: QueryContract,
  handler: (data: unknown, context: HandlerContext<unknown>) => unknown,
  sender: ReplySender,
): (data: unknown, context: HandlerContext<unknown>) => Promise<void> {
  return async (data, context) => {
    const replyTo = context.envelope.replyto;
    if (replyTo === undefined) {
      context.logger.warn(
        { id: context.envelope.id, type: context.envelope.type },
        'query without replyto attribute; nobody to answer',
      );
      return;
    }
    let result: unknown;
    let failure: Error | undefined;
    try {
      result = await validate(query.result, await handler(data, context), `result of "${query.type}"`);
    } catch (error) {
      failure = error instanceof Error ? error : new Error(String(error));
    }
    const extensions: Record<string, string> =
      failure === undefined
        ? {}
        : { [REPLY_ERROR_NAME]: failure.name, [REPLY_ERROR_MESSAGE]: failure.message };
    await publishReply(sender, {
      topic: replyTo,
      query,
      result: result ?? null,
      request: context.envelope,
      extensions,
    });
  };
}

/** The millisecond whose ISO text is in {@link lastTimeText}. */
let lastTimeMs = Number.NaN;
let lastTimeText = '';

/**
 * `new Date(nowMs).toISOString()`, formatted once per millisecond: formatting costs about ten
 * times reading the clock, and a busy bus stamps many events within one millisecond. `nowMs` is
 * the clock read by the caller when it has one (the bus's publish shares it with the id).
 */
export function isoNow(nowMs: number = Date.now()): string {
  if (nowMs !== lastTimeMs) {
    lastTimeMs = nowMs;
    lastTimeText = new Date(nowMs).toISOString();
  }
  return lastTimeText;
}

/**
 * `sent` (a publish of `contract` started at `startedMs`, `performance.now()`), reported to
 * `metrics` as published with its duration or as failed once it settles. A `then` rather than an
 * async frame: the bus's publish takes this path only when metrics are set.
 */
export function measuredPublish(
  metrics: BusMetrics,
  contract: Contract,
  sent: Promise<Envelope>,
  startedMs: number,
): Promise<Envelope> {
  return sent.then(
    (envelope) => {
      metrics.published(contract.topic, contract.type, performance.now() - startedMs);
      return envelope;
    },
    (error: unknown) => {
      metrics.publishFailed(contract.topic, contract.type);
      throw error;
    },
  );
}
