/// <reference lib="dom" />
/** The views over stored data: topics and their messages, groups and lag, dead letters. */
import { html } from 'htm/preact';
import { useEffect, useState } from 'preact/hooks';
import type {
  DeadLetterView,
  GroupView,
  MessagePage,
  MessageView,
  ProduceResult,
  TopicView,
} from '../src/api-types.ts';
import { reproduceRequestOf } from '../src/produce-request.ts';
import { api } from './api.ts';
import { Message, MessageList } from './message.ts';
import { type Draft, draftOf, ProduceForm } from './produce.ts';

/** Messages one page of the browser asks for. */
const BROWSE_PAGE_MESSAGES = 50;

/** The produce form's fields for re-producing `message`, or why it cannot be. */
function reproduceDraft(message: MessageView): Draft | string {
  const request = reproduceRequestOf(message);
  return typeof request === 'string' ? `Cannot re-produce this message: ${request}.` : draftOf(request);
}

/** Loads `load()` once (and again on `reload`), with its error shown. */
function useLoad<T>(load: () => Promise<T>): { data: T | undefined; error: string; reload: () => void } {
  const [data, setData] = useState<T | undefined>(undefined);
  const [error, setError] = useState('');
  const [round, setRound] = useState(0);
  useEffect(() => {
    load().then(
      (value) => {
        setData(value);
        setError('');
      },
      (failure: Error) => setError(failure.message),
    );
  }, [round]);
  return { data, error, reload: () => setRound(round + 1) };
}

function ErrorText(props: { error: string }) {
  return props.error === '' ? null : html`<p role="alert" class="failed">${props.error}</p>`;
}

/**
 * Topics with partitions and offsets; browse one partition from an offset; produce a message, or
 * re-produce one (`reproducing`: opened from another view's message). `reproduce` is absent on a
 * read-only console.
 */
export function TopicsView(props: {
  openTrace: (id: string) => void;
  reproduce: ((message: MessageView) => void) | undefined;
  reproducing: MessageView | undefined;
}) {
  const topics = useLoad(api.topics);
  const initial = props.reproducing === undefined ? undefined : reproduceDraft(props.reproducing);
  const [producing, setProducing] = useState<{ draft: Draft; heading: string; round: number } | undefined>(
    initial === undefined || typeof initial === 'string'
      ? undefined
      : { draft: initial, heading: 'Re-produce a message', round: 0 },
  );
  const [produced, setProduced] = useState<ProduceResult | undefined>(undefined);
  const [topic, setTopic] = useState('');
  const [partition, setPartition] = useState(0);
  const [offset, setOffset] = useState('0');
  const [time, setTime] = useState('');
  const [page, setPage] = useState<MessagePage | undefined>(undefined);
  const [selected, setSelected] = useState<MessageView | undefined>(undefined);
  const [error, setError] = useState(typeof initial === 'string' ? initial : '');
  const load = (name: string, from: number, start: string, at: string) =>
    api
      .messages(name, from, start, BROWSE_PAGE_MESSAGES, at)
      .then(setPage, (failure: Error) => setError(failure.message));
  const browse = (event: Event) => {
    event.preventDefault();
    void load(topic, partition, offset, time);
  };
  /** Shows the last page of a partition (where a produced message lands). */
  const browseNewest = async (name: string, from: number) => {
    const fresh = await api.topics();
    const info = fresh.find((entry) => entry.name === name)?.partitions.find((p) => p.partition === from);
    const end = BigInt(info?.highWatermark ?? '0');
    const start = BigInt(info?.logStartOffset ?? '0');
    const first = end - BigInt(BROWSE_PAGE_MESSAGES) > start ? end - BigInt(BROWSE_PAGE_MESSAGES) : start;
    setTopic(name);
    setPartition(from);
    setOffset(String(first));
    setTime('');
    await load(name, from, String(first), '');
  };
  const reproduceHere = (message: MessageView) => {
    const draft = reproduceDraft(message);
    if (typeof draft === 'string') return setError(draft);
    setError('');
    setProducing({ draft, heading: 'Re-produce a message', round: (producing?.round ?? 0) + 1 });
  };
  const list: readonly TopicView[] = topics.data ?? [];
  return html`<${ErrorText} error=${topics.error || error} />
    <table aria-label="Topics">
      <thead><tr><th>Topic</th><th>Partitions</th><th>Messages</th><th>Offsets (start–end)</th></tr></thead>
      <tbody>${list.map(
        (
          entry,
        ) => html`<tr><td>${entry.name}</td><td>${entry.partitions.length}</td><td>${entry.messages}</td>
          <td>${entry.partitions.map((p) => `${p.partition}: ${p.logStartOffset}–${p.highWatermark}`).join(', ')}</td></tr>`,
      )}</tbody>
    </table>
    <form onSubmit=${browse} aria-label="Browse a partition">
      <label>Topic <select value=${topic} onChange=${(event: Event) => setTopic((event.target as HTMLSelectElement).value)}>
        <option value="">choose…</option>
        ${list.map((entry) => html`<option value=${entry.name}>${entry.name}</option>`)}
      </select></label>
      <label> Partition <input type="number" min="0" value=${partition}
        onInput=${(event: Event) => setPartition(Number((event.target as HTMLInputElement).value))} /></label>
      <label> From offset <input type="text" inputmode="numeric" value=${offset}
        onInput=${(event: Event) => setOffset((event.target as HTMLInputElement).value)} /></label>
      <label> or from time (ISO 8601) <input type="text" value=${time} placeholder="2025-01-31T12:00:00Z"
        onInput=${(event: Event) => setTime((event.target as HTMLInputElement).value)} /></label>
      <button type="submit">Browse</button>
    </form>
    ${
      page === undefined
        ? null
        : html`<p>Next offset ${page.nextOffset} of ${page.highWatermark}</p>
      <${MessageList} label="Messages" messages=${page.messages} onSelect=${setSelected} />`
    }
    ${
      props.reproduce === undefined
        ? null
        : html`<p><button type="button" onClick=${() =>
            setProducing({
              draft: draftOf(undefined, topic),
              heading: 'Produce a message',
              round: (producing?.round ?? 0) + 1,
            })}>
            Produce a message…</button></p>`
    }
    ${
      produced === undefined
        ? null
        : html`<p role="status">Produced ${produced.sizeBytes} bytes to ${produced.topic}${
            produced.partition === null ? '' : ` partition ${produced.partition}`
          }${produced.eventId === null ? '' : ` (event ${produced.eventId})`}.
          ${
            produced.partition === null
              ? null
              : html`<button type="button" onClick=${() => void browseNewest(produced.topic, produced.partition!)}>
                Browse the newest of ${produced.topic} / ${produced.partition}</button>`
          }</p>`
    }
    ${
      producing === undefined
        ? null
        : html`<${ProduceForm} key=${producing.round} topics=${list} initial=${producing.draft}
          heading=${producing.heading} onCancel=${() => setProducing(undefined)}
          onProduced=${(result: ProduceResult) => {
            setProducing(undefined);
            setProduced(result);
            topics.reload();
          }} />`
    }
    ${
      selected === undefined
        ? null
        : html`<${Message} message=${selected} openTrace=${props.openTrace}
          onReproduce=${props.reproduce === undefined ? undefined : reproduceHere} />`
    }`;
}

/** Groups with members and lag per partition; reset offsets with a confirmation. */
export function GroupsView() {
  const groups = useLoad(api.groups);
  const [pending, setPending] = useState<{ group: string; topic: string; to: string } | undefined>(undefined);
  const [message, setMessage] = useState('');
  const [to, setTo] = useState('latest');
  const confirm = () => {
    if (pending === undefined) return;
    api.reset(pending).then(
      () => {
        setMessage(`Moved ${pending.group} on ${pending.topic} to ${pending.to}.`);
        setPending(undefined);
        groups.reload();
      },
      (failure: Error) => {
        setMessage(failure.message);
        setPending(undefined);
      },
    );
  };
  return html`<${ErrorText} error=${groups.error} />
    <button type="button" onClick=${groups.reload}>Refresh groups</button>
    <label> Reset to <input type="text" value=${to} aria-describedby="reset-help"
      onInput=${(event: Event) => setTo((event.target as HTMLInputElement).value)} /></label>
    <span id="reset-help"> earliest, latest, offset:N or time:ISO</span>
    <p role="status">${message}</p>
    ${(groups.data ?? []).map(
      (group: GroupView) => html`<section aria-label=${`group ${group.group}`}>
      <h3>${group.group} <span data-testid=${`lag-${group.group}`}>total lag ${group.lag}</span></h3>
      ${group.positions.map(
        (position) => html`<table aria-label=${`${group.group} on ${position.topic}`}>
        <caption>${position.topic} (${position.kind}, members ${position.members ?? 'unknown'}, lag ${position.lag})</caption>
        <thead><tr><th>Partition</th><th>Committed</th><th>End</th><th>Lag</th><th>Time lag (ms)</th></tr></thead>
        <tbody>${position.partitions.map(
          (p) => html`<tr><td>${p.partition}</td><td>${p.committed ?? '-'}</td>
          <td>${p.end}</td><td>${p.lag}</td><td>${p.timeLagMs}</td></tr>`,
        )}</tbody>
      </table>
      <button type="button" onClick=${() => setPending({ group: group.group, topic: position.topic, to })}>
        Reset ${group.group} on ${position.topic}…</button>`,
      )}
    </section>`,
    )}
    ${
      pending === undefined
        ? null
        : html`<div role="alertdialog" aria-label="Confirm reset">
      <p>Move ${pending.group} on ${pending.topic} to ${pending.to}? Messages in between are skipped.</p>
      <button type="button" onClick=${confirm}>Confirm reset</button>
      <button type="button" onClick=${() => setPending(undefined)}>Cancel</button></div>`
    }`;
}

/** Pending dead letters: reason, error, attempts; view the original; redrive one. */
export function DeadLettersView(props: {
  openTrace: (id: string) => void;
  reproduce: ((message: MessageView) => void) | undefined;
}) {
  const letters = useLoad(api.deadLetters);
  const [selected, setSelected] = useState<DeadLetterView | undefined>(undefined);
  const [message, setMessage] = useState('');
  const redrive = (letter: DeadLetterView) => {
    api.redrive({ deadLetterTopic: letter.deadLetterTopic, id: letter.id }).then(
      () => {
        setMessage(`Redrove ${letter.id} to ${letter.topic} for ${letter.group}.`);
        setSelected(undefined);
        letters.reload();
      },
      (failure: Error) => setMessage(failure.message),
    );
  };
  const [filter, setFilter] = useState({ group: '', reason: '' });
  const [confirming, setConfirming] = useState(false);
  const redriveMatching = () => {
    setConfirming(false);
    api.redriveAll(filter).then(
      (result) => {
        setMessage(
          `Redrove ${result.redriven} dead letter(s)${result.more ? '; more match, run it again' : ''}.`,
        );
        letters.reload();
      },
      (failure: Error) => setMessage(failure.message),
    );
  };
  const list = letters.data ?? [];
  const field = (name: keyof typeof filter, label: string) =>
    html`<label> ${label} <input type="text" value=${filter[name]}
      onInput=${(event: Event) => setFilter({ ...filter, [name]: (event.target as HTMLInputElement).value })} /></label>`;
  return html`<${ErrorText} error=${letters.error} />
    <form aria-label="Redrive matching dead letters" onSubmit=${(event: Event) => {
      event.preventDefault();
      setConfirming(true);
    }}>
      ${field('group', 'Group')} ${field('reason', 'Reason')}
      <button type="submit">Redrive all matching…</button>
    </form>
    ${
      confirming
        ? html`<div role="alertdialog" aria-label="Confirm redrive">
      <p>Redrive every pending dead letter${filter.group === '' ? '' : ` of group ${filter.group}`}${filter.reason === '' ? '' : ` with reason ${filter.reason}`}?</p>
      <button type="button" onClick=${redriveMatching}>Confirm redrive</button>
      <button type="button" onClick=${() => setConfirming(false)}>Cancel</button></div>`
        : null
    }
    <p role="status">${message}</p>
    <p>${list.length} pending dead letter${list.length === 1 ? '' : 's'}</p>
    <table aria-label="Dead letters">
      <thead><tr><th>Id</th><th>Topic</th><th>Group</th><th>Reason</th><th>Error</th><th>Attempts</th><th>First failure</th><th>Last failure</th><th>Actions</th></tr></thead>
      <tbody>${list.map(
        (letter) => html`<tr>
        <td>${letter.id}</td><td>${letter.topic}</td><td>${letter.group}</td><td>${letter.reason}</td>
        <td>${letter.errorName}: ${letter.errorMessage}</td><td>${letter.attempts}</td><td>${letter.firstFailedAt}</td><td>${letter.lastFailedAt}</td>
        <td><button type="button" onClick=${() => setSelected(letter)}>View original ${letter.id}</button>
          <button type="button" onClick=${() => redrive(letter)}>Redrive ${letter.id}</button></td>
      </tr>`,
      )}</tbody>
    </table>
    ${selected === undefined ? null : html`<${Message} message=${selected.original} openTrace=${props.openTrace} onReproduce=${props.reproduce} />`}`;
}
