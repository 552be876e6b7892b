/// <reference lib="dom" />
/** The views over flows: search, live tail, the trace of one flow (the topology is in topology.ts). */
import { html } from 'htm/preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import type {
  HandlerRunView,
  MessageView,
  SearchProgress,
  TraceView as Trace,
  TraceStep,
} from '../src/api-types.ts';
import { api, withToken } from './api.ts';
import { Message, MessageList } from './message.ts';

/** Messages the live tail keeps: older ones drop off, so the page's memory stays bounded. */
const TAIL_MESSAGES_MAX = 200;
/** Matches the search list shows at most (the server's limit bounds them too). */
const SEARCH_MATCHES_MAX = 1000;

/** A count with thousands separators. */
const count = (value: number) => value.toLocaleString('en-US');

/** Search keys, values and headers of every topic, with a scan budget, a result limit and progress. */
export function SearchView(props: {
  openTrace: (id: string) => void;
  reproduce: ((message: MessageView) => void) | undefined;
}) {
  const [needle, setNeedle] = useState('');
  const [budget, setBudget] = useState(1_000_000);
  const [limit, setLimit] = useState(100);
  const [matches, setMatches] = useState<MessageView[]>([]);
  const [progress, setProgress] = useState<SearchProgress | undefined>(undefined);
  const [selected, setSelected] = useState<MessageView | undefined>(undefined);
  const source = useRef<EventSource | undefined>(undefined);
  const startedMs = useRef(0);
  /** Events scanned per second since the search started, by the page's clock. */
  const rate = (now: SearchProgress) =>
    Math.round(now.scanned / Math.max(0.001, (performance.now() - startedMs.current) / 1000));
  useEffect(() => () => source.current?.close(), []);
  const start = (event: Event) => {
    event.preventDefault();
    source.current?.close();
    setMatches([]);
    setProgress(undefined);
    startedMs.current = performance.now();
    const found: MessageView[] = [];
    const events = new EventSource(
      withToken(`/api/search?q=${encodeURIComponent(needle)}&budget=${budget}&limit=${limit}`),
    );
    source.current = events;
    events.addEventListener('match', (message) => {
      if (found.length < SEARCH_MATCHES_MAX)
        found.push(JSON.parse((message as MessageEvent).data) as MessageView);
      setMatches([...found]);
    });
    events.addEventListener('progress', (message) => setProgress(JSON.parse((message as MessageEvent).data)));
    events.addEventListener('done', (message) => {
      setProgress(JSON.parse((message as MessageEvent).data));
      events.close();
    });
  };
  return html`<form onSubmit=${start} aria-label="Search messages">
      <label>Text in key, value or headers <input type="search" value=${needle} required
        onInput=${(event: Event) => setNeedle((event.target as HTMLInputElement).value)} /></label>
      <label> Scan budget (records) <input type="number" min="1" value=${budget}
        onInput=${(event: Event) => setBudget(Number((event.target as HTMLInputElement).value))} /></label>
      <label> Result limit <input type="number" min="1" max="1000" value=${limit}
        onInput=${(event: Event) => setLimit(Number((event.target as HTMLInputElement).value))} /></label>
      <button type="submit">Search</button>
    </form>
    <p role="status" data-testid="search-progress">${
      progress === undefined
        ? ''
        : `Scanned ${count(progress.scanned)} of ${count(progress.retained)} retained events (scan budget ${count(progress.budget)}), ${count(progress.matches)} found, ${count(rate(progress))} events/s${
            progress.stoppedBy === undefined ? '…' : ` (done: ${progress.stoppedBy})`
          }`
    }</p>
    ${
      progress === undefined
        ? null
        : html`<progress aria-label="Search progress" max=${Math.max(1, Math.min(progress.retained, progress.budget))}
          value=${progress.scanned}></progress>`
    }
    <${MessageList} label="Search results" messages=${matches} onSelect=${setSelected} />
    ${selected === undefined ? null : html`<${Message} message=${selected} openTrace=${props.openTrace} onReproduce=${props.reproduce} />`}`;
}

/** New messages of one topic as they arrive, over SSE, filtered by type, key or header, in a fixed-size list. */
export function TailView() {
  const [topics, setTopics] = useState<string[]>([]);
  const [topic, setTopic] = useState('');
  const [filters, setFilters] = useState({ type: '', key: '', header: '' });
  const [draft, setDraft] = useState(filters);
  const [messages, setMessages] = useState<MessageView[]>([]);
  useEffect(() => {
    api.topics().then((list) => setTopics(list.map((entry) => entry.name)));
  }, []);
  useEffect(() => {
    if (topic === '') return;
    const kept: MessageView[] = [];
    setMessages([]);
    const query = new URLSearchParams({ topic });
    for (const [name, value] of Object.entries(filters)) if (value !== '') query.set(name, value);
    const events = new EventSource(withToken(`/api/tail?${query}`));
    events.addEventListener('message', (message) => {
      kept.unshift(JSON.parse((message as MessageEvent).data) as MessageView);
      if (kept.length > TAIL_MESSAGES_MAX) kept.length = TAIL_MESSAGES_MAX;
      setMessages([...kept]);
    });
    return () => events.close();
  }, [topic, filters]);
  const field = (name: keyof typeof draft, label: string) =>
    html`<label> ${label} <input type="text" value=${draft[name]}
      onInput=${(event: Event) => setDraft({ ...draft, [name]: (event.target as HTMLInputElement).value })} /></label>`;
  return html`<label>Topic to follow <select value=${topic}
      onChange=${(event: Event) => setTopic((event.target as HTMLSelectElement).value)}>
      <option value="">choose…</option>
      ${topics.map((name) => html`<option value=${name}>${name}</option>`)}
    </select></label>
    <form aria-label="Tail filters" onSubmit=${(event: Event) => {
      event.preventDefault();
      setFilters(draft);
    }}>
      ${field('type', 'Type')} ${field('key', 'Key')} ${field('header', 'Header name=value')}
      <button type="submit">Apply filters</button>
    </form>
    <p>Newest first; the last ${TAIL_MESSAGES_MAX} are kept.</p>
    <${MessageList} label="Live messages" messages=${messages} onSelect=${() => {}} />`;
}

/** Every event of one flow, by key, correlation id or event id, in causation order with timings. */
export function TraceView(props: { traceId: string }) {
  const [id, setId] = useState(props.traceId);
  const [trace, setTrace] = useState<Trace | undefined>(undefined);
  const [error, setError] = useState('');
  const load = (query: string) =>
    api.trace(query).then(setTrace, (failure: Error) => setError(failure.message));
  useEffect(() => {
    if (props.traceId !== '') void load(props.traceId);
  }, []);
  return html`<form aria-label="Trace a flow" onSubmit=${(event: Event) => {
    event.preventDefault();
    void load(id);
  }}>
      <label>Order id (key), correlation id or event id <input type="text" value=${id} required
        onInput=${(event: Event) => setId((event.target as HTMLInputElement).value)} /></label>
      <button type="submit">Trace</button>
    </form>
    ${error === '' ? null : html`<p role="alert">${error}</p>`}
    ${
      trace === undefined
        ? null
        : html`<p>${trace.steps.length} events, ${trace.scanned} records scanned${trace.truncated ? ' (scan budget reached)' : ''}</p>
      <ol aria-label="Flow steps">${trace.steps.map(
        (step) => html`<li class=${step.failed ? 'failed' : ''}
        style=${`margin-left:${step.depth * 24}px`} data-service=${step.service}>
        <strong>${step.service}</strong> → ${step.type} on ${step.topic} @ ${step.offset}
        <span> +${step.sinceStartMs} ms</span>${step.failed ? ' (dead letter)' : ''}
        ${step.runs === undefined || step.runs.length === 0 ? null : html`<${HandlerRuns} step=${step} />`}</li>`,
      )}</ol>${trace.spans === undefined ? null : html`<p>${spansNote(trace.spans)}</p>`}`
    }`;
}

/** The handler runs of one event (from the spans): service and group, attempt, start and duration; failures in red. */
function HandlerRuns(props: { step: TraceStep }) {
  const startMs = props.step.timestampMs - props.step.sinceStartMs;
  const text = (run: HandlerRunView) =>
    `${run.service} (${run.group}) attempt ${run.attempt}: +${Math.round(run.startTimeMs - startMs)} ms, ` +
    `took ${run.durationMs.toFixed(1)} ms${run.failed ? `, failed: ${run.error}` : ''}${run.deadLettered ? ', dead-lettered' : ''}`;
  return html`<ul aria-label=${`Handler runs of ${props.step.type} ${props.step.id}`}>${props.step.runs!.map(
    (run) => html`<li class=${run.failed ? 'failed' : ''} data-run-service=${run.service}>${text(run)}</li>`,
  )}</ul>`;
}

function spansNote(spans: NonNullable<Trace['spans']>): string {
  if (spans.note !== null) return spans.note;
  return `Handler runs from ${spans.file} (${spans.lines} spans read${spans.truncated ? ', cut short at the bound' : ''}).`;
}
