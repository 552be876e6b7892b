/**
 * OpenTelemetry traces by the messaging semantic conventions: a PRODUCER span `send <topic>` per
 * publish / send / request, a CONSUMER span `process <topic>` per handler run. The producer's
 * context travels in the CloudEvents distributed-tracing extension (`traceparent`, `tracestate`,
 * W3C format) whatever propagator the application registered: the extension defines the format.
 *
 * Only `@opentelemetry/api` is used. With no SDK registered every span is a non-recording no-op;
 * a `traceparent` given by the caller (or received with the message being handled) still passes
 * through unchanged, as it did before Herald made spans.
 */
import {
  type Context,
  context,
  createContextKey,
  INVALID_SPAN_CONTEXT,
  type Link,
  ProxyTracerProvider,
  ROOT_CONTEXT,
  type Span,
  type SpanContext,
  SpanKind,
  SpanStatusCode,
  type Tracer,
  type TracerProvider,
  trace,
} from '@opentelemetry/api';
import type { Envelope } from './envelope.ts';
import { remoteSpanContext, spanOnlyContext } from './span-only-context.ts';
import { formatTraceparent, isCanonicalTraceparent, parseTraceparent } from './trace-context.ts';
import type { ReceivedMessage } from './transport.ts';

export { formatTraceparent, parseTraceparent, remoteSpanContext, spanOnlyContext };

/** The instrumentation scope name of Herald's spans. */
export const TRACER_NAME = '@herald/bus';

/** Which attribute names the spans carry, from `OTEL_SEMCONV_STABILITY_OPT_IN`. */
export interface SemconvMode {
  /** The current messaging conventions (`messaging.operation.type`, `messaging.consumer.group.name`, …). */
  readonly current: boolean;
  /** The pre-1.26 names too (`messaging.operation`, `messaging.kafka.consumer.group`, …). */
  readonly old: boolean;
}

/**
 * Reads `OTEL_SEMCONV_STABILITY_OPT_IN` (comma-separated). Herald emitted no spans before, so
 * there is no older Herald output to stay compatible with: the current conventions are the
 * default (`messaging` asks for the same), and `messaging/dup` adds the pre-1.26 attribute names
 * next to them for dashboards still built on those.
 */
export function semconvMode(optIn: string | undefined): SemconvMode {
  const tokens = (optIn ?? '').split(',').map((token) => token.trim());
  return { current: true, old: tokens.includes('messaging/dup') };
}

const MODE = semconvMode(process.env.OTEL_SEMCONV_STABILITY_OPT_IN);

/**
 * `messaging.system` of a transport: the convention's well-known value where one exists,
 * otherwise the transport's own name (`embedded`, `memory`, `nats`, `redis`).
 */
export function messagingSystem(transportName: string): string {
  return transportName === 'aws' ? 'aws_sqs' : transportName;
}

/** The provider {@link cachedTracer} came from (the SDK's, not the API's proxy in front of it). */
let cachedProvider: TracerProvider | undefined;
let cachedTracer: Tracer | undefined;

/**
 * The API's no-op provider, which a global provider delegates to until an SDK is registered (a
 * fresh proxy has no delegate, so it hands out that singleton).
 */
const NOOP_PROVIDER = new ProxyTracerProvider().getDelegate();

/** The no-op span of a message with no trace to continue (stateless, so one serves all). */
const NO_TRACE_SPAN: Span = trace.wrapSpanContext(INVALID_SPAN_CONTEXT);

/**
 * The registered SDK's tracer, or `undefined` when no SDK is registered (the global provider is
 * the API's proxy with no delegate: every tracer is the no-op one). One provider lookup per span,
 * and the SDK's own tracer rather than the proxy's, which forwards each call to it; an SDK
 * registered, replaced or unregistered later is seen at once (a tracer kept from an earlier
 * provider would go on recording into it).
 */
function sdkTracer(): Tracer | undefined {
  const global = trace.getTracerProvider();
  // Another copy of the API has its own proxy class: its tracers forward to its delegate.
  const provider = global instanceof ProxyTracerProvider ? global.getDelegate() : global;
  if (provider === NOOP_PROVIDER) return undefined;
  if (provider !== cachedProvider || cachedTracer === undefined) {
    cachedProvider = provider;
    cachedTracer = provider.getTracer(TRACER_NAME);
  }
  return cachedTracer;
}

/** A context that `context.with` makes active only when a context manager is registered. */
const PROBE = ROOT_CONTEXT.setValue(createContextKey('herald.context-manager-probe'), true);
const probeIsActive = (): boolean => context.active() === PROBE;

/**
 * True when no context manager is registered (the API's no-op one runs `with` without making its
 * context active): then a handler's context is seen by nothing but the bus's own follow-up sends.
 * Probed per call (about 20 ns with the no-op manager), so a manager registered later is seen at once.
 */
function noContextManager(): boolean {
  return !context.with(PROBE, probeIsActive);
}

/** True when a received message carries no `traceparent` at all (a property read or two). */
function noTraceCarried(message: ReceivedMessage, envelope: Envelope | undefined): boolean {
  return (envelope?.traceparent ?? message.headers.ce_traceparent) === undefined;
}

/** The trace context a received message carries: the envelope's, else its raw `ce_` headers. */
function carriedContext(message: ReceivedMessage, envelope: Envelope | undefined): SpanContext | undefined {
  const traceparent = envelope?.traceparent ?? message.headers.ce_traceparent;
  const tracestate = envelope?.extensions.tracestate ?? message.headers.ce_tracestate;
  return parseTraceparent(traceparent, tracestate);
}

/** What a send needs to know about the message it sends. */
export interface SendFields {
  readonly system: string;
  /** The sending bus's CloudEvents `source` (which service sends). */
  readonly source: string;
  readonly topic: string;
  readonly id: string;
  readonly type: string;
  readonly key: string | undefined;
  readonly correlationId: string | undefined;
}

/** A started PRODUCER span and the trace context to put in the message. */
export interface SendTrace {
  readonly span: Span;
  /** `traceparent` for the envelope; `undefined` when there is no trace to continue. */
  readonly traceparent: string | undefined;
  /** `tracestate` for the envelope's extensions, when the context has one. */
  readonly tracestate: string | undefined;
}

/**
 * The parent of a send: the caller's explicit `traceparent` if given, else `fallback` (the context
 * of the handler run that causes the send), else the active context.
 */
export function sendParent(
  traceparent: string | undefined,
  tracestate: string | undefined,
  fallback: Context | undefined,
): Context {
  const explicit = parseTraceparent(traceparent, tracestate);
  if (explicit !== undefined) return remoteSpanContext(explicit);
  return fallback ?? context.active();
}

/** The message being handled when a handler sends: its run's trace context and what it carried. */
export interface SendCause {
  /** The handler run's context (the root context when nothing could observe it; see startProcess). */
  readonly context: Context;
  readonly traceparent: string | undefined;
  readonly tracestate: string | undefined;
}

/**
 * Starts `send <topic>` for a bus publish: under the caller's explicit `traceparent`, else the
 * cause's handler run, else the active context. With no SDK registered, a valid `traceparent`
 * (given, or carried by a cause whose context holds nothing) is passed on as text with its
 * `tracestate`, unparsed: no span context, context object or span is made for a trace nobody
 * records (measured: parsing, validating and formatting it were most of the no-SDK cost of a
 * message carrying a trace). What travels is the same text the parsing path would write.
 */
export function startSendFrom(
  fields: SendFields,
  given: { readonly traceparent?: string; readonly extensions?: Readonly<Record<string, string>> },
  cause: SendCause | undefined,
): SendTrace {
  const { traceparent } = given;
  const tracestate = given.extensions?.tracestate;
  const tracer = sdkTracer();
  if (tracer !== undefined)
    return sendSpan(tracer, fields, sendParent(traceparent, tracestate, cause?.context));
  if (traceparent !== undefined) {
    if (isCanonicalTraceparent(traceparent)) return passedOn(traceparent, tracestate);
  } else if (cause?.context === ROOT_CONTEXT && cause.traceparent !== undefined) {
    if (isCanonicalTraceparent(cause.traceparent)) return passedOn(cause.traceparent, cause.tracestate);
  }
  return untracedSend(sendParent(traceparent, tracestate, cause?.context));
}

/** The cause of a handler's send: its run's context (if given) and what its message carried. */
export function sendCause(context: Context | undefined, envelope: Envelope): SendCause | undefined {
  if (context === undefined) return undefined;
  return { context, traceparent: envelope.traceparent, tracestate: envelope.extensions.tracestate };
}

function passedOn(traceparent: string, tracestate: string | undefined): SendTrace {
  return { span: NO_TRACE_SPAN, traceparent, tracestate: tracestate || undefined };
}

/** The active context if it holds a span, else the context `envelope` carries. */
export function activeOr(envelope: Envelope): Context {
  const active = context.active();
  if (trace.getSpan(active) !== undefined) return active;
  return sendParent(envelope.traceparent, envelope.extensions.tracestate, active);
}

/** Most span names {@link spanName} keeps (a bus has a handful of topics; beyond it, built per span). */
const SPAN_NAMES_MAX = 1024;
const SPAN_NAMES = { send: new Map<string, string>(), process: new Map<string, string>() };

/** `send <topic>` / `process <topic>`, made once per topic rather than a string per message. */
function spanName(operation: 'send' | 'process', topic: string): string {
  const names = SPAN_NAMES[operation];
  const cached = names.get(topic);
  if (cached !== undefined) return cached;
  const name = `${operation} ${topic}`;
  if (names.size < SPAN_NAMES_MAX) names.set(topic, name);
  return name;
}

/** The options of a send span with no links: one object for all (the SDK only reads it). */
const PRODUCER_OPTIONS = { kind: SpanKind.PRODUCER } as const;

/** Starts `send <topic>` under `parent`; end it with {@link endSpan}. */
export function startSend(fields: SendFields, parent: Context, links?: Link[]): SendTrace {
  const tracer = sdkTracer();
  return tracer === undefined ? untracedSend(parent) : sendSpan(tracer, fields, parent, links);
}

/** `send <topic>` with the SDK's tracer (see {@link startSend}). */
function sendSpan(tracer: Tracer, fields: SendFields, parent: Context, links?: Link[]): SendTrace {
  const span = tracer.startSpan(
    spanName('send', fields.topic),
    links === undefined ? PRODUCER_OPTIONS : { kind: SpanKind.PRODUCER, links },
    parent,
  );
  // Building attributes costs objects per message: only for a span that records them.
  if (span.isRecording()) setSendAttributes(span, fields);
  const spanContext = span.spanContext();
  // Tracers give a span either valid ids (its own, or a no-op span its valid parent's) or the API's
  // invalid context itself: told apart by identity, not by the API's regular expressions.
  if (spanContext === INVALID_SPAN_CONTEXT) return { span, traceparent: undefined, tracestate: undefined };
  return {
    span,
    traceparent: formatTraceparent(spanContext),
    tracestate: spanContext.traceState?.serialize() || undefined,
  };
}

/**
 * A send with no SDK registered: what the no-op tracer returns (a non-recording span continuing a
 * valid parent's context, or the invalid one), without the tracer call and its proxy hops.
 */
function untracedSend(parent: Context): SendTrace {
  const parentContext = trace.getSpanContext(parent);
  if (parentContext === undefined || !trace.isSpanContextValid(parentContext))
    return { span: NO_TRACE_SPAN, traceparent: undefined, tracestate: undefined };
  return {
    span: trace.wrapSpanContext(parentContext),
    traceparent: formatTraceparent(parentContext),
    tracestate: parentContext.traceState?.serialize() || undefined,
  };
}

/**
 * Sets the send attributes one call each: no attributes object to build and for-in walk per
 * message (in an A/B micro-benchmark no slower, in the median ~10% less per span; passing them to
 * `startSpan` measured slower, as the SDK sanitizes them there and then sets them one by one).
 */
function setSendAttributes(span: Span, fields: SendFields): void {
  span.setAttribute('messaging.system', fields.system);
  span.setAttribute('messaging.destination.name', fields.topic);
  span.setAttribute('messaging.message.id', fields.id);
  span.setAttribute('cloudevents.event_type', fields.type);
  span.setAttribute('cloudevents.event_source', fields.source);
  if (fields.correlationId !== undefined)
    span.setAttribute('messaging.message.conversation_id', fields.correlationId);
  if (MODE.current) {
    span.setAttribute('messaging.operation.type', 'send');
    span.setAttribute('messaging.operation.name', 'send');
  }
  if (MODE.old) span.setAttribute('messaging.operation', 'publish');
  setKey(span, fields.system, fields.key, fields.type);
}

function setKey(span: Span, system: string, key: string | undefined, type: string): void {
  if (system === 'kafka' && key !== undefined) span.setAttribute('messaging.kafka.message.key', key);
  // The RabbitMQ transport routes by event type (one topic exchange per topic).
  if (system === 'rabbitmq') span.setAttribute('messaging.rabbitmq.destination.routing_key', type);
}

/** A started CONSUMER span and the context to run the handler in. */
export interface ProcessTrace {
  readonly span: Span;
  readonly context: Context;
}

/** The options of a process span with no producer to link: one object for all. */
const CONSUMER_OPTIONS = { kind: SpanKind.CONSUMER } as const;

/** A handler run with no SDK and no context manager: one stateless value serves every message. */
const UNTRACED_PROCESS: ProcessTrace = { span: NO_TRACE_SPAN, context: ROOT_CONTEXT };

/**
 * Starts `process <topic>` for one delivery. Its parent is the producer's context carried in the
 * message, and it links that context too: the conventions ask for the link (the producer's
 * context may also be the parent, and being the parent is what makes one business flow one
 * trace). Every retry of a message links the same producer span; a redriven message carries the
 * redrive's context, whose span links the original (see {@link redriveTrace}).
 */
export function startProcess(
  system: string,
  source: string,
  group: string,
  message: ReceivedMessage,
  envelope: Envelope | undefined,
): ProcessTrace {
  const tracer = sdkTracer();
  if (tracer === undefined && (noTraceCarried(message, envelope) || noContextManager())) {
    // Nothing can read the handler's context but the bus's own follow-up sends, which pass the
    // received `traceparent` on as text (startSendFrom): no parse, span or context per message.
    return UNTRACED_PROCESS;
  }
  const producer = carriedContext(message, envelope);
  if (tracer === undefined) {
    // What the no-op tracer returns (a non-recording span with the producer's context, or the
    // invalid one), without its parent context, link array and validity regexes: the parser has
    // already checked the ids. Measured: most of the hooks' cost for a message carrying a trace.
    if (producer === undefined) return { span: NO_TRACE_SPAN, context: ROOT_CONTEXT };
    const span = remoteSpanContext(producer);
    return { span, context: span };
  }
  const parent = producer === undefined ? ROOT_CONTEXT : remoteSpanContext(producer);
  const span = tracer.startSpan(
    spanName('process', message.topic),
    producer === undefined ? CONSUMER_OPTIONS : { kind: SpanKind.CONSUMER, links: [{ context: producer }] },
    parent,
  );
  if (span.isRecording()) setProcessAttributes(span, system, source, group, message, envelope);
  // A no-op span with no trace to continue needs no context of its own (one allocation less).
  if (producer === undefined && span.spanContext() === INVALID_SPAN_CONTEXT) return { span, context: parent };
  // `parent` holds nothing but the producer's span, which this span replaces.
  return { span, context: spanOnlyContext(span) };
}

/** Sets the process attributes, one call each (see {@link setSendAttributes}). */
function setProcessAttributes(
  span: Span,
  system: string,
  source: string,
  group: string,
  message: ReceivedMessage,
  envelope: Envelope | undefined,
): void {
  span.setAttribute('messaging.system', system);
  span.setAttribute('messaging.destination.name', message.topic);
  span.setAttribute('messaging.destination.partition.id', partitionId(message.partition));
  span.setAttribute('herald.delivery_attempt', message.deliveryAttempt);
  // Which service handles it: the consuming bus's source (the event's is the producer's).
  span.setAttribute('herald.consumer.source', source);
  if (envelope !== undefined) {
    span.setAttribute('messaging.message.id', envelope.id);
    span.setAttribute('cloudevents.event_type', envelope.type);
    span.setAttribute('cloudevents.event_source', envelope.source);
    span.setAttribute('messaging.message.conversation_id', envelope.correlationid ?? envelope.id);
  }
  if (MODE.current) {
    span.setAttribute('messaging.operation.type', 'process');
    span.setAttribute('messaging.operation.name', 'process');
    span.setAttribute('messaging.consumer.group.name', group);
    if (system === 'kafka') span.setAttribute('messaging.kafka.offset', Number(message.offset));
  }
  if (MODE.old) {
    span.setAttribute('messaging.operation', 'process');
    if (system === 'kafka') {
      span.setAttribute('messaging.kafka.consumer.group', group);
      span.setAttribute('messaging.kafka.message.offset', Number(message.offset));
    }
  }
  setKey(span, system, message.key, envelope?.type ?? message.headers.ce_type ?? '');
}

/** Partition ids as attribute text, made once for the first {@link PARTITION_IDS_CACHED}. */
const PARTITION_IDS_CACHED = 256;
const PARTITION_IDS = Array.from({ length: PARTITION_IDS_CACHED }, (_, partition) => String(partition));

function partitionId(partition: number): string {
  return PARTITION_IDS[partition] ?? String(partition);
}

/** Records a failed attempt: the exception, `error.type` and an error status. */
export function recordFailure(span: Span, error: unknown): void {
  if (!span.isRecording()) return;
  const failure = error instanceof Error ? error : new Error(String(error));
  span.recordException(failure);
  span.setAttribute('error.type', errorType(failure));
  span.setStatus({ code: SpanStatusCode.ERROR, message: failure.message });
}

/** Records that the message went to `deadLetterTopic` because of `reason`. */
export function recordDeadLetter(span: Span, deadLetterTopic: string, reason: string, error: unknown): void {
  if (!span.isRecording()) return;
  span.addEvent('herald.dead_letter', {
    'herald.dead_letter.reason': reason,
    'herald.dead_letter.topic': deadLetterTopic,
  });
  span.setAttribute('herald.dead_letter.reason', reason);
  recordFailure(span, error);
}

function errorType(error: Error): string {
  const code = (error as { code?: unknown }).code;
  return typeof code === 'string' ? code : error.name;
}

/** Ends `span` when `work` settles (recording its error), and settles as `work` does. */
export function endWhenSettled(span: Span, work: Promise<void>): Promise<void> {
  return work.then(
    () => span.end(),
    (error: unknown) => {
      endSpan(span, error);
      throw error;
    },
  );
}

/** Ends a span, recording `error` first when the operation failed. */
export function endSpan(span: Span, error?: unknown): void {
  if (error !== undefined) recordFailure(span, error);
  span.end();
}

/**
 * A redrive republishes a dead letter: it is a new send, under the active context, that links the
 * message's original producer. The headers get the redrive's context (so the new handler run is
 * its child), or keep the original when there is no span (no SDK).
 */
export function redriveTrace(
  system: string,
  source: string,
  topic: string,
  headers: Record<string, string>,
  key: string | undefined,
): Span {
  const original = parseTraceparent(headers.ce_traceparent, headers.ce_tracestate);
  const sent = startSend(
    {
      system,
      source,
      topic,
      id: headers.ce_id ?? '',
      type: headers.ce_type ?? '',
      key,
      correlationId: headers.ce_correlationid,
    },
    context.active(),
    original === undefined ? undefined : [{ context: original }],
  );
  if (sent.span.isRecording()) sent.span.setAttribute('herald.redrive', true);
  if (sent.traceparent !== undefined && sent.span.isRecording()) {
    headers.ce_traceparent = sent.traceparent;
    if (sent.tracestate === undefined) delete headers.ce_tracestate;
    else headers.ce_tracestate = sent.tracestate;
  }
  return sent.span;
}

/**
 * Ends `span` once `settling` settles, however it settles (its outcome is the caller's to
 * report). A function of its own: a closure over the span written in
 * the dispatcher's `#handled` made every call allocate a context for it, the calls with a span
 * that does not record (no tracing SDK) included.
 */
export function endOnceSettled(span: Span, settling: Promise<unknown>): void {
  const end = (): void => span.end();
  settling.then(end, end);
}
