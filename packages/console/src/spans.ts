/**
 * Handler runs of a traced flow from a JSON-lines span file (one OpenTelemetry span per line, as
 * `spanRecord` of the checkout writes with `--otel`, `<data>/traces.jsonl`): the bus's CONSUMER
 * span `process <topic>` per handler run carries the message's CloudEvents id
 * (`messaging.message.id`), its group, attempt and outcome, so each event of a trace gets the runs
 * that handled it. Read line by line, bounded by {@link SPAN_LINES_MAX}.
 */
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import type { HandlerRunView, TraceStep, TraceView } from './api-types.ts';

/** Lines of a span file one trace request reads at most (then it says the file was cut short). */
export const SPAN_LINES_MAX = 2_000_000;
/** Runs kept per event (retries of a failing handler; a redrive starts again). */
const RUNS_PER_STEP_MAX = 20;
/** Longest span line parsed, in characters; longer lines are skipped (a span is a few hundred). */
const SPAN_LINE_CHARS_MAX = 64 * 1024;

/** What a line of the span file holds, as far as the console reads it. */
interface SpanLine {
  readonly name?: string;
  readonly kind?: string;
  readonly startTimeMs?: number;
  readonly durationMs?: number;
  readonly status?: { readonly code?: number; readonly message?: string };
  readonly attributes?: Readonly<Record<string, unknown>>;
  readonly events?: readonly { readonly name?: string }[];
}

/** OpenTelemetry's `SpanStatusCode.ERROR`. */
const STATUS_ERROR = 2;

/**
 * `view` with each step's handler runs from the span file at `path`; the view unchanged (with a
 * note) when the file cannot be read.
 */
export async function withHandlerRuns(
  view: TraceView,
  path: string,
  signal: AbortSignal,
): Promise<TraceView> {
  const runs = new Map<string, HandlerRunView[]>(view.steps.map((step) => [step.id, []]));
  if (runs.size === 0) return { ...view, spans: { file: path, lines: 0, truncated: false, note: null } };
  let lines = 0;
  let truncated = false;
  try {
    const input = createReadStream(path, { encoding: 'utf8' });
    const reader = createInterface({ input, crlfDelay: Number.POSITIVE_INFINITY });
    try {
      for await (const line of reader) {
        if (signal.aborted) break;
        if (++lines > SPAN_LINES_MAX) {
          truncated = true;
          break;
        }
        // Cheap test first: most spans are of other flows.
        if (line.length > SPAN_LINE_CHARS_MAX || !line.includes('"process')) continue;
        const run = handlerRunOf(line, runs);
        if (run !== undefined) {
          const list = runs.get(run.messageId)!;
          if (list.length < RUNS_PER_STEP_MAX) list.push(run.run);
        }
      }
    } finally {
      reader.close();
      input.destroy();
    }
  } catch (error) {
    const note = `could not read the span file ${path}: ${(error as Error).message}`;
    return { ...view, spans: { file: path, lines, truncated, note } };
  }
  const steps: TraceStep[] = view.steps.map((step) => ({
    ...step,
    runs: runs.get(step.id)!.sort((a, b) => a.startTimeMs - b.startTimeMs),
  }));
  return {
    ...view,
    steps,
    spans: { file: path, lines: Math.min(lines, SPAN_LINES_MAX), truncated, note: null },
  };
}

function handlerRunOf(
  line: string,
  wanted: ReadonlyMap<string, unknown>,
): { messageId: string; run: HandlerRunView } | undefined {
  let span: SpanLine;
  try {
    span = JSON.parse(line) as SpanLine;
  } catch {
    return undefined;
  }
  const attributes = span.attributes ?? {};
  const messageId = attributes['messaging.message.id'];
  if (typeof messageId !== 'string' || !wanted.has(messageId)) return undefined;
  if (span.kind !== 'CONSUMER' || !span.name?.startsWith('process ')) return undefined;
  const group = attributes['messaging.consumer.group.name'] ?? attributes['messaging.kafka.consumer.group'];
  const consumer = attributes['herald.consumer.source'];
  const failed = span.status?.code === STATUS_ERROR;
  return {
    messageId,
    run: {
      group: typeof group === 'string' ? group : '',
      service: typeof consumer === 'string' ? (consumer.split('/').filter(Boolean).at(-1) ?? consumer) : '',
      attempt:
        typeof attributes['herald.delivery_attempt'] === 'number' ? attributes['herald.delivery_attempt'] : 1,
      startTimeMs: span.startTimeMs ?? 0,
      durationMs: span.durationMs ?? 0,
      failed,
      error: failed ? (span.status?.message ?? String(attributes['error.type'] ?? 'error')) : null,
      deadLettered: (span.events ?? []).some((event) => event.name === 'herald.dead_letter'),
    },
  };
}
