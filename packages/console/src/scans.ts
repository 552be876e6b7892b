/**
 * Reads that scan whole topics: search and the trace of one flow. Each reads with
 * the CLI's {@link readTopic} and stops at an explicit scan budget, so a search over millions of
 * retained events reports progress and ends at its bound instead of running on.
 */
import {
  type ConsumedRecord,
  headerMap,
  type ReadOptions,
  readTopic,
  type Target,
} from '@herald/cli/internal';
import type { MessageView, SearchProgress, TraceStep, TraceView } from './api-types.ts';
import { messageViewOf, recordMatcher } from './message-view.ts';

/** Records a search or trace reads by default before it stops (its scan budget). */
export const SCAN_BUDGET_DEFAULT = 1_000_000;
/** The largest scan budget a request may ask for. */
export const SCAN_BUDGET_MAX = 10_000_000;
/** Matches a search returns at most by default. */
export const SEARCH_RESULTS_DEFAULT = 100;
/** The largest result limit a request may ask for. */
export const SEARCH_RESULTS_MAX = 1000;
/** Steps one trace shows at most. */
export const TRACE_STEPS_MAX = 500;
/**
 * Correlation ids a trace's second pass tests each record's bytes for before decoding its headers;
 * a flow with more (a saga restarting correlations) decodes every record's headers instead.
 */
const TRACE_PREFILTER_IDS_MAX = 16;
/** How often a search reports progress, in records scanned. */
const PROGRESS_EVERY_RECORDS = 5000;

/** What to search for, and its bounds. */
export interface SearchOptions {
  readonly needle: string;
  /** Topics to scan (default: all). */
  readonly topics?: readonly string[] | undefined;
  readonly budget: number;
  readonly resultsMax: number;
  readonly signal: AbortSignal;
  readonly onMatch: (message: MessageView) => void;
  readonly onProgress: (progress: SearchProgress) => void;
}

/**
 * Scans topics (every partition, oldest first) for `needle` in keys, values and headers; stops
 * at the budget, the result limit or the end, and resolves the final progress.
 */
export async function search(target: Target, options: SearchOptions): Promise<SearchProgress> {
  const topics = options.topics ?? (await target.listTopics()).sort();
  let scanned = 0;
  let matches = 0;
  let stoppedBy: SearchProgress['stoppedBy'] = 'end';
  let retained = 0;
  for (const topic of topics) {
    for (const p of (await target.describeTopic(topic)).partitions) {
      retained += Number(p.highWatermark - p.logStartOffset);
    }
  }
  const progress = () => ({ scanned, budget: options.budget, retained, matches });
  const contains = recordMatcher(options.needle);
  const needleBytes = [new TextEncoder().encode(options.needle)];
  let nextProgressAt = PROGRESS_EVERY_RECORDS;
  // Records read and records the target left out undecoded (batches without the needle) count alike.
  const counted = (records: number) => {
    scanned += records;
    if (scanned >= nextProgressAt) {
      options.onProgress(progress());
      nextProgressAt = (Math.floor(scanned / PROGRESS_EVERY_RECORDS) + 1) * PROGRESS_EVERY_RECORDS;
    }
    if (matches >= options.resultsMax) stoppedBy = 'limit';
    else if (scanned >= options.budget) stoppedBy = 'budget';
    return stoppedBy === 'end';
  };
  for (const topic of topics) {
    if (stoppedBy !== 'end' || options.signal.aborted) break;
    await scanTopic(target, topic, options.signal, {
      onRecord: (record) => {
        if (contains(record)) {
          matches++;
          options.onMatch(messageViewOf(record));
        }
        return counted(1);
      },
      batchHolds: () => needleBytes,
      onSkipped: counted,
    });
  }
  return { ...progress(), stoppedBy };
}

/** Reads `topic` from the start of every partition to its current end. */
async function scanTopic(
  target: Target,
  topic: string,
  signal: AbortSignal,
  scan: Pick<ReadOptions, 'onRecord' | 'batchHolds' | 'onSkipped'>,
): Promise<void> {
  const info = await target.describeTopic(topic);
  await readTopic({
    target,
    topic,
    start: new Map(info.partitions.map((p) => [p.partition, p.logStartOffset])),
    stopAt: new Map(info.partitions.map((p) => [p.partition, p.highWatermark])),
    follow: false,
    signal,
    ...scan,
  });
}

/** The service of a CloudEvents source: its last path segment (`/checkout/order` → `order`). */
export function serviceOf(source: string | undefined): string {
  if (source === undefined || source === '') return 'unknown';
  return source.split('/').filter(Boolean).at(-1) ?? source;
}

/**
 * Every event of one flow, in causation order (a depth-first walk from the first event, children
 * by time). `query` is a correlation id, the id of any event of the flow, or a key (an order id):
 * a first pass finds the correlation ids it names (an application may start a new correlation
 * mid-flow, a saga's commands, under the same key) and collects their events from there on; a
 * second reads again the topics before the last correlation was found.
 */
export async function trace(
  target: Target,
  query: string,
  budget: number,
  signal: AbortSignal,
): Promise<TraceView> {
  const topics = (await target.listTopics()).sort();
  const correlations = new Set<string>();
  const found: { record: ConsumedRecord; headers: Record<string, string> }[] = [];
  const seen = new Set<string>();
  let scanned = 0;
  let truncated = false;
  // Byte tests run before a record's headers are decoded (decoding every record's headers to
  // strings is most of a pass's cost): a record of the flow holds the ids searched.
  const queryMatches = recordMatcher(query);
  const queryBytes = new TextEncoder().encode(query);
  let correlationMatchers: ((record: ConsumedRecord) => boolean)[] = [];
  let correlationBytes: Uint8Array[] = [];
  const isFlowCandidate = (record: ConsumedRecord) =>
    correlations.size > TRACE_PREFILTER_IDS_MAX || correlationMatchers.some((matches) => matches(record));
  const collect = (record: ConsumedRecord, headers: Record<string, string>) => {
    const correlation = headers.ce_correlationid ?? headers.ce_id;
    const at = `${record.topic}/${record.partition}/${record.offset}`;
    if (correlation === undefined || !correlations.has(correlation) || seen.has(at)) return;
    if (found.length < TRACE_STEPS_MAX) {
      seen.add(at);
      found.push({ record, headers });
    }
  };
  const pass = async (
    passTopics: readonly string[],
    candidate: (record: ConsumedRecord) => boolean,
    batchHolds: () => readonly Uint8Array[] | undefined,
    onRecord: (record: ConsumedRecord, headers: Record<string, string>, topicIndex: number) => void,
  ) => {
    let passScanned = 0;
    for (const [topicIndex, topic] of passTopics.entries()) {
      if (passScanned >= budget || signal.aborted) break;
      await scanTopic(target, topic, signal, {
        onRecord: (record) => {
          passScanned++;
          if (candidate(record)) onRecord(record, headerMap(record), topicIndex);
          return passScanned < budget;
        },
        // The same test on whole batches, before they are decoded.
        batchHolds,
        onSkipped: (records) => {
          passScanned += records;
          return passScanned < budget;
        },
      });
    }
    scanned += passScanned;
    if (passScanned >= budget) truncated = true;
  };
  const keyOf = (record: ConsumedRecord) =>
    record.key === null ? undefined : Buffer.from(record.key).toString();
  // The first pass finds the correlations the query names (every way a record names it, by key,
  // ce_id, correlation or partition key, holds its bytes) and collects the flow's events from
  // there on; the second reads again only the topics up to the last one a correlation was found
  // in, for the events before it.
  let lastFoundTopic = -1;
  const tooManyToTest = () => correlations.size > TRACE_PREFILTER_IDS_MAX;
  await pass(
    topics,
    (record) => queryMatches(record) || isFlowCandidate(record),
    () => (tooManyToTest() ? undefined : [queryBytes, ...correlationBytes]),
    (record, headers, topicIndex) => {
      const correlation = headers.ce_correlationid ?? headers.ce_id;
      if (
        correlation !== undefined &&
        !correlations.has(correlation) &&
        correlations.size < TRACE_STEPS_MAX &&
        (correlation === query ||
          headers.ce_id === query ||
          headers.ce_partitionkey === query ||
          keyOf(record) === query)
      ) {
        correlations.add(correlation);
        correlationMatchers = [...correlations].map(recordMatcher);
        correlationBytes = [...correlations].map((id) => new TextEncoder().encode(id));
        lastFoundTopic = topicIndex;
      }
      collect(record, headers);
    },
  );
  if (lastFoundTopic >= 0) {
    await pass(
      topics.slice(0, lastFoundTopic + 1),
      isFlowCandidate,
      () => (tooManyToTest() ? undefined : correlationBytes),
      collect,
    );
  }
  return { query, steps: causationOrder(found), scanned, truncated };
}

function causationOrder(
  found: readonly { record: ConsumedRecord; headers: Record<string, string> }[],
): TraceStep[] {
  const byTime = [...found].sort((a, b) => a.record.timestampMs - b.record.timestampMs);
  const ids = new Set(byTime.map((entry) => entry.headers.ce_id));
  const children = new Map<string, typeof byTime>();
  const roots: typeof byTime = [];
  for (const entry of byTime) {
    const parent = entry.headers.ce_causationid;
    // A dead letter keeps its original's id: it hangs under the original, not beside it.
    if (parent !== undefined && parent !== entry.headers.ce_id && ids.has(parent)) {
      children.set(parent, [...(children.get(parent) ?? []), entry]);
    } else roots.push(entry);
  }
  const startMs = byTime[0]?.record.timestampMs ?? 0;
  const steps: TraceStep[] = [];
  const visited = new Set<(typeof byTime)[number]>();
  const visit = (entry: (typeof byTime)[number], depth: number) => {
    if (visited.has(entry)) return;
    visited.add(entry);
    const { record, headers } = entry;
    steps.push({
      id: headers.ce_id ?? '',
      causationId: headers.ce_causationid ?? null,
      service: serviceOf(headers.ce_source),
      type: headers.ce_type ?? '',
      topic: record.topic,
      partition: record.partition,
      offset: String(record.offset),
      timestampMs: record.timestampMs,
      sinceStartMs: record.timestampMs - startMs,
      depth,
      failed: record.topic.endsWith('.dlq'),
    });
    for (const child of children.get(headers.ce_id ?? '') ?? []) visit(child, depth + 1);
  };
  for (const root of roots) visit(root, 0);
  return steps;
}
