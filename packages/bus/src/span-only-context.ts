/**
 * A one-span context for the tracing hooks: what `trace.setSpan(ROOT_CONTEXT, span)` gives, in one
 * object (see {@link spanOnlyContext} for why).
 */
import { type Context, createContextKey, ROOT_CONTEXT, type Span } from '@opentelemetry/api';

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
