/// <reference lib="dom" />
/**
 * The produce form: topic, key, headers (a JSON object), value (JSON, text or hex) and an optional
 * CloudEvent type; checked here with the server's own checks before it is sent. A message's
 * "Re-produce" opens it prefilled.
 */
import { html } from 'htm/preact';
import { useState } from 'preact/hooks';
import type { ProduceRequest, ProduceResult, TopicView } from '../src/api-types.ts';
import { parseHeadersField, produceRequestProblems } from '../src/produce-request.ts';
import { api } from './api.ts';

/** The form's fields, as text. */
export interface Draft {
  topic: string;
  key: string;
  headers: string;
  value: string;
  valueKind: ProduceRequest['valueKind'];
  cloudEventType: string;
  newEventId: boolean;
}

/** The form's fields of `request` (empty fields without one). */
export function draftOf(request: ProduceRequest | undefined, topic = ''): Draft {
  return {
    topic: request?.topic ?? topic,
    key: request?.key ?? '',
    headers: request === undefined ? '{}' : JSON.stringify(request.headers, null, 2),
    value: request?.value ?? '{}',
    valueKind: request?.valueKind ?? 'json',
    cloudEventType: request?.cloudEventType ?? '',
    newEventId: request?.newEventId ?? false,
  };
}

/** The form; `onProduced` hears each published message. */
export function ProduceForm(props: {
  topics: readonly TopicView[];
  initial: Draft;
  heading: string;
  onProduced: (result: ProduceResult) => void;
  onCancel: () => void;
}) {
  const [draft, setDraft] = useState<Draft>(props.initial);
  const [problems, setProblems] = useState<string[]>([]);
  const [sending, setSending] = useState(false);
  const set =
    <K extends keyof Draft>(name: K, read: (target: HTMLInputElement) => Draft[K]) =>
    (event: Event) =>
      setDraft({ ...draft, [name]: read(event.target as HTMLInputElement) });
  const text = (target: HTMLInputElement) => target.value;
  const submit = (event: Event) => {
    event.preventDefault();
    const headers = parseHeadersField(draft.headers);
    const request: ProduceRequest = {
      topic: draft.topic,
      key: draft.key === '' ? null : draft.key,
      headers: typeof headers === 'string' ? {} : headers,
      value: draft.value,
      valueKind: draft.valueKind,
      cloudEventType: draft.cloudEventType,
      newEventId: draft.newEventId,
    };
    const found = [...(typeof headers === 'string' ? [headers] : []), ...produceRequestProblems(request)];
    setProblems(found);
    if (found.length > 0) return;
    setSending(true);
    api.produce(request).then(
      (result) => {
        setSending(false);
        props.onProduced(result);
      },
      (failure: Error) => {
        setSending(false);
        setProblems([failure.message]);
      },
    );
  };
  return html`<form aria-label="Produce a message" onSubmit=${submit}>
    <h3>${props.heading}</h3>
    <p><label>Topic <select value=${draft.topic} onChange=${set('topic', text)}>
      <option value="">choose…</option>
      ${props.topics.map((entry) => html`<option value=${entry.name}>${entry.name}</option>`)}
    </select></label>
    <label> Key <input type="text" value=${draft.key} onInput=${set('key', text)} /></label></p>
    <p><label>Headers (JSON object) <textarea rows="4" cols="60" value=${draft.headers}
      onInput=${set('headers', text)}></textarea></label></p>
    <p><label>Value <textarea rows="8" cols="60" value=${draft.value} onInput=${set('value', text)}></textarea></label>
    <label> Value format <select value=${draft.valueKind}
      onChange=${set('valueKind', (target) => target.value as Draft['valueKind'])}>
      <option value="json">JSON</option><option value="text">text</option><option value="hex">hex bytes</option>
    </select></label></p>
    <p><label>Wrap as CloudEvent of type <input type="text" value=${draft.cloudEventType}
      aria-describedby="produce-type-help" onInput=${set('cloudEventType', text)} /></label>
    <span id="produce-type-help"> optional, as herald produce --cloudevent TYPE</span></p>
    <p><label><input type="checkbox" checked=${draft.newEventId}
      onChange=${set('newEventId', (target) => target.checked)} /> New event id (ce_id): idempotent consumers skip a repeated id</label></p>
    ${
      problems.length === 0
        ? null
        : html`<div role="alert" class="failed"><ul aria-label="Produce problems">${problems.map((problem) => html`<li>${problem}</li>`)}</ul></div>`
    }
    <button type="submit" disabled=${sending}>Produce</button>
    <button type="button" onClick=${props.onCancel}>Cancel</button>
  </form>`;
}
