/**
 * The checkout's OpenTelemetry set-up for `npm start`: an SDK with the AsyncLocalStorage context
 * manager and the W3C propagator, a processor that keeps the spans of the run's first order (drawn
 * as a tree in the report), and with `--otel` an export: OTLP over HTTP when
 * `OTEL_EXPORTER_OTLP_ENDPOINT` is set, else JSON lines in `<data>/traces.jsonl`.
 */
import { appendFileSync } from 'node:fs';
import { type Context, context, propagation, SpanKind, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { type ExportResult, ExportResultCode, W3CTraceContextPropagator } from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import {
  BasicTracerProvider,
  BatchSpanProcessor,
  type ReadableSpan,
  type Span,
  type SpanExporter,
  type SpanProcessor,
} from '@opentelemetry/sdk-trace-base';

/** Spans of the first order kept for the report; a longer trace is cut there (and says so). */
export const KEPT_SPANS_MAX = 500;

/** Where the run's spans go besides the report. */
export type TraceExport =
  | { readonly kind: 'none' }
  | { readonly kind: 'otlp'; readonly endpoint: string }
  | { readonly kind: 'file'; readonly path: string };

/** The registered SDK. */
export interface CheckoutTracing {
  readonly export: TraceExport;
  /** Spans of the first order's trace, in end order. */
  firstOrder(): readonly ReadableSpan[];
  /** Flushes the export and unregisters the SDK. */
  shutdown(): Promise<void>;
}

/** Keeps the spans of the trace whose first `POST /orders` span starts first. */
class FirstOrderProcessor implements SpanProcessor {
  #traceId: string | undefined;
  readonly spans: ReadableSpan[] = [];

  onStart(span: Span, _parent: Context): void {
    if (this.#traceId === undefined && span.kind === SpanKind.SERVER && span.name === 'POST /orders') {
      this.#traceId = span.spanContext().traceId;
    }
  }

  onEnd(span: ReadableSpan): void {
    if (span.spanContext().traceId === this.#traceId && this.spans.length < KEPT_SPANS_MAX)
      this.spans.push(span);
  }

  async forceFlush(): Promise<void> {}
  async shutdown(): Promise<void> {}
}

/** Appends each span as one JSON object per line (what a trace viewer can read back). */
export class JsonLinesSpanExporter implements SpanExporter {
  readonly #path: string;

  constructor(path: string) {
    this.#path = path;
  }

  export(spans: ReadableSpan[], done: (result: ExportResult) => void): void {
    try {
      appendFileSync(this.#path, spans.map((span) => `${JSON.stringify(spanRecord(span))}\n`).join(''));
      done({ code: ExportResultCode.SUCCESS });
    } catch (error) {
      done({ code: ExportResultCode.FAILED, error: error as Error });
    }
  }

  async shutdown(): Promise<void> {}
}

/** One span as a plain JSON object: ids, name, kind, times in ms since the epoch, attributes. */
export function spanRecord(span: ReadableSpan) {
  const context = span.spanContext();
  return {
    traceId: context.traceId,
    spanId: context.spanId,
    parentSpanId: span.parentSpanContext?.spanId,
    name: span.name,
    kind: SpanKind[span.kind],
    startTimeMs: hrToMs(span.startTime),
    durationMs: hrToMs(span.duration),
    status: span.status,
    attributes: span.attributes,
    links: span.links.map((link) => ({ traceId: link.context.traceId, spanId: link.context.spanId })),
    events: span.events.map((event) => ({ name: event.name, attributes: event.attributes })),
  };
}

function hrToMs([seconds, nanoseconds]: readonly [number, number]): number {
  return seconds * 1000 + nanoseconds / 1e6;
}

/**
 * Registers the SDK globally. `exportSpans` false: only the report's tree; true: also OTLP to
 * `OTEL_EXPORTER_OTLP_ENDPOINT` (the exporter reads the standard `OTEL_EXPORTER_OTLP_*` settings),
 * or JSON lines at `filePath` when no endpoint is set.
 */
export function startTracing(options: {
  readonly exportSpans: boolean;
  readonly filePath: string;
  /** `service.name` unless `OTEL_SERVICE_NAME` says otherwise (default `herald-checkout`). */
  readonly serviceName?: string;
  readonly env?: NodeJS.ProcessEnv;
}): CheckoutTracing {
  const env = options.env ?? process.env;
  const endpoint = env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT || env.OTEL_EXPORTER_OTLP_ENDPOINT;
  const firstOrder = new FirstOrderProcessor();
  const processors: SpanProcessor[] = [firstOrder];
  let exported: TraceExport = { kind: 'none' };
  if (options.exportSpans) {
    // Batch defaults: at most 2048 spans queued (more are dropped), 512 per export, every 5 s.
    if (endpoint) {
      processors.push(new BatchSpanProcessor(new OTLPTraceExporter()));
      exported = { kind: 'otlp', endpoint };
    } else {
      processors.push(new BatchSpanProcessor(new JsonLinesSpanExporter(options.filePath)));
      exported = { kind: 'file', path: options.filePath };
    }
  }
  const provider = new BasicTracerProvider({
    resource: resourceFromAttributes({
      'service.name': env.OTEL_SERVICE_NAME || options.serviceName || 'herald-checkout',
    }),
    spanProcessors: processors,
  });
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
  trace.setGlobalTracerProvider(provider);
  return {
    export: exported,
    firstOrder: () => firstOrder.spans,
    async shutdown() {
      await provider.shutdown();
      trace.disable();
      propagation.disable();
      context.disable();
    },
  };
}

/** Which service made a span: the consuming bus's source, the sending bus's, or the HTTP route's. */
function serviceOf(span: ReadableSpan): string {
  const attributes = span.attributes;
  const source =
    span.kind === SpanKind.CONSUMER
      ? attributes['herald.consumer.source']
      : attributes['cloudevents.event_source'];
  if (typeof source === 'string') return source.replace(/^\/checkout\//, '');
  const service = attributes['herald.checkout.service'];
  return typeof service === 'string' ? service : '';
}

/**
 * Draws `spans` (one trace) as an indented tree: each span under its parent, siblings in start
 * order, with its service, kind and duration. Spans whose parent is missing start a root of their own.
 */
export function renderTraceTree(spans: readonly ReadableSpan[]): string[] {
  const ids = new Set(spans.map((span) => span.spanContext().spanId));
  const children = new Map<string | undefined, ReadableSpan[]>();
  for (const span of spans) {
    const parentId = span.parentSpanContext?.spanId;
    const key = parentId !== undefined && ids.has(parentId) ? parentId : undefined;
    const siblings = children.get(key) ?? [];
    siblings.push(span);
    children.set(key, siblings);
  }
  const startMs = (span: ReadableSpan) => hrToMs(span.startTime);
  const lines: string[] = [];
  const origin = Math.min(...spans.map(startMs));
  const draw = (parentId: string | undefined, depth: number): void => {
    const level = [...(children.get(parentId) ?? [])].sort((a, b) => startMs(a) - startMs(b));
    for (const span of level) {
      const error = span.status.code === 2 ? ' ERROR' : '';
      lines.push(
        `${'  '.repeat(depth + 1)}${span.name}  [${serviceOf(span)}, ${SpanKind[span.kind].toLowerCase()}] ` +
          `+${(startMs(span) - origin).toFixed(1)} ms, ${hrToMs(span.duration).toFixed(1)} ms${error}`,
      );
      draw(span.spanContext().spanId, depth + 1);
    }
  };
  draw(undefined, 0);
  return lines;
}
