/// <reference lib="dom" />
/**
 * The console page: Preact with htm templates (3 kB + 1 kB, no JSX build step, plain TypeScript
 * that tsc checks and esbuild bundles). One view at a time, chosen in the nav; every control is a
 * real button, input or select with a label, so the keyboard and screen readers reach them.
 */
import { html } from 'htm/preact';
import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import type { MessageView } from '../src/api-types.ts';
import { api } from './api.ts';
import { TopologyView } from './topology.ts';
import { DeadLettersView, GroupsView, TopicsView } from './views-data.ts';
import { SearchView, TailView, TraceView } from './views-flow.ts';

const VIEWS = {
  topics: { label: 'Topics', view: TopicsView },
  groups: { label: 'Groups', view: GroupsView },
  deadLetters: { label: 'Dead letters', view: DeadLettersView },
  search: { label: 'Search', view: SearchView },
  tail: { label: 'Live tail', view: TailView },
  trace: { label: 'Trace', view: TraceView },
  topology: { label: 'Topology', view: TopologyView },
} as const;

type ViewName = keyof typeof VIEWS;

function App() {
  const initial = (location.hash.slice(1) || 'topics') as ViewName;
  const [current, setCurrent] = useState<ViewName>(initial in VIEWS ? initial : 'topics');
  const [traceId, setTraceId] = useState('');
  // The message to re-produce: opens the topics view with the produce form prefilled.
  const [reproducing, setReproducing] = useState<{ message: MessageView; round: number } | undefined>(
    undefined,
  );
  const [readOnly, setReadOnly] = useState(true);
  useEffect(() => {
    api.settings().then((settings) => setReadOnly(settings.readOnly));
  }, []);
  const open = (name: ViewName) => {
    location.hash = name;
    setCurrent(name);
  };
  const openTrace = (query: string) => {
    setTraceId(query);
    open('trace');
  };
  const reproduce = readOnly
    ? undefined
    : (message: MessageView) => {
        setReproducing({ message, round: (reproducing?.round ?? 0) + 1 });
        open('topics');
      };
  const View = VIEWS[current].view as (props: {
    openTrace: (id: string) => void;
    traceId: string;
    reproduce: ((message: MessageView) => void) | undefined;
    reproducing: MessageView | undefined;
  }) => unknown;
  return html`
    <header>
      <h1>Herald console</h1>
      <nav aria-label="Views">
        ${Object.entries(VIEWS).map(
          ([name, entry]) =>
            html`<button type="button" aria-current=${name === current ? 'page' : undefined}
              onClick=${() => {
                setReproducing(undefined);
                open(name as ViewName);
              }}>${entry.label}</button>`,
        )}
      </nav>
    </header>
    <main>
      <h2>${VIEWS[current].label}</h2>
      <${View} key=${`${current}:${traceId}:${reproducing?.round ?? 0}`} openTrace=${openTrace}
        traceId=${traceId} reproduce=${reproduce} reproducing=${reproducing?.message} />
    </main>
  `;
}

render(html`<${App} />`, document.getElementById('app')!);
