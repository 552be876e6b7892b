/**
 * One-span contexts for the tracing hooks: what `trace.setSpan(ROOT_CONTEXT, span)` and
 * `trace.setSpanContext(ROOT_CONTEXT, spanContext)` give, each in one object (see
 * {@link spanOnlyContext} and {@link remoteSpanContext} for why).
 */
import {
  type Context,
  createContextKey,
  type Exception,
  type Link,
  ROOT_CONTEXT,
  type Span,
  type SpanAttributes,
  type SpanAttributeValue,
  type SpanContext,
  type SpanStatus,
  type TimeInput,
} from '@opentelemetry/api';

/**
 * The API's key for the active span. `createContextKey` is `Symbol.for`, so every copy of the API
 * shares it (the API relies on that itself); a test checks that `trace.getSpan` reads it.
 */
const SPAN_KEY = createContextKey('OpenTelemetry Context Key SPAN');

/**
 * A context holding one span and nothing else, what `trace.setSpan(ROOT_CONTEXT, span)` gives,
 * in one object. The API's `BaseContext` is an object, a `Map` copied from its parent and three
 * closures per instance; a message traced end to end made two of them (the producer as parent,
 * the handler run's context), and on the embedded broker the garbage they left was a visible part
 * of the tracing cost. Deriving from it (`setValue`, `deleteValue`) gives the API's own contexts.
 */
class SpanOnlyContext implements Context {
  readonly #span: Span;

  constructor(span: Span) {
    this.#span = span;
  }

  getValue(key: symbol): unknown {
    return key === SPAN_KEY ? this.#span : undefined;
  }

  setValue(key: symbol, value: unknown): Context {
    return ROOT_CONTEXT.setValue(SPAN_KEY, this.#span).setValue(key, value);
  }

  deleteValue(key: symbol): Context {
    return key === SPAN_KEY ? ROOT_CONTEXT : this;
  }
}

/** A context whose only value is `span`: `trace.setSpan(ROOT_CONTEXT, span)` in one object. */
export function spanOnlyContext(span: Span): Context {
  return new SpanOnlyContext(span);
}

/**
 * A context whose only value is a non-recording span of a received span context, the object being
 * both: what `trace.setSpanContext(ROOT_CONTEXT, spanContext)` gives (a `NonRecordingSpan` and a
 * context holding it), in one object instead of two. Each traced message has one (its process
 * span's parent), and every object a traced message leaves counts on the embedded broker, where
 * the garbage collector is half of what tracing costs.
 */
class RemoteSpanContext implements Context, Span {
  readonly #spanContext: SpanContext;

  constructor(spanContext: SpanContext) {
    this.#spanContext = spanContext;
  }

  getValue(key: symbol): unknown {
    return key === SPAN_KEY ? this : undefined;
  }

  setValue(key: symbol, value: unknown): Context {
    return ROOT_CONTEXT.setValue(SPAN_KEY, this).setValue(key, value);
  }

  deleteValue(key: symbol): Context {
    return key === SPAN_KEY ? ROOT_CONTEXT : this;
  }

  spanContext(): SpanContext {
    return this.#spanContext;
  }

  // A non-recording span: as the API's `NonRecordingSpan`, everything else does nothing.
  setAttribute(_key: string, _value: SpanAttributeValue): this {
    return this;
  }

  setAttributes(_attributes: SpanAttributes): this {
    return this;
  }

  addEvent(_name: string, _attributesOrStartTime?: SpanAttributes | TimeInput, _startTime?: TimeInput): this {
    return this;
  }

  addLink(_link: Link): this {
    return this;
  }

  addLinks(_links: Link[]): this {
    return this;
  }

  setStatus(_status: SpanStatus): this {
    return this;
  }

  updateName(_name: string): this {
    return this;
  }

  end(_endTime?: TimeInput): void {}

  isRecording(): boolean {
    return false;
  }

  recordException(_exception: Exception, _time?: TimeInput): void {}
}

/**
 * A context whose only value is a non-recording span of `spanContext`, which is the context
 * itself: `trace.setSpanContext(ROOT_CONTEXT, spanContext)` in one object (see
 * {@link RemoteSpanContext}).
 */
export function remoteSpanContext(spanContext: SpanContext): Context & Span {
  return new RemoteSpanContext(spanContext);
}
