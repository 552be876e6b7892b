/// <reference lib="dom" />
/** The message view: CloudEvents attributes, headers, key and value (JSON pretty-printed, hex for binary). */
import { html } from 'htm/preact';
import type { MessageView, PayloadView } from '../src/api-types.ts';

function payload(label: string, value: PayloadView | null) {
  if (value === null) return html`<p>${label}: none</p>`;
  return html`<p>${label} (${value.kind}, ${value.sizeBytes} bytes)</p><pre aria-label=${label} tabindex="0">${value.text}</pre>`;
}

/**
 * One message in full; `openTrace` links its flow when it has a correlation id, `onReproduce`
 * (absent on a read-only console) opens the produce form prefilled with it.
 */
export function Message(props: {
  message: MessageView;
  openTrace?: ((id: string) => void) | undefined;
  onReproduce?: ((message: MessageView) => void) | undefined;
}) {
  const { message } = props;
  const ce = message.cloudEvent;
  return html`<section aria-label=${`message ${message.topic}/${message.partition}@${message.offset}`}>
    <h3>${message.topic} / ${message.partition} @ ${message.offset}</h3>
    <p>${new Date(message.timestampMs).toISOString()}</p>
    ${
      ce === null
        ? html`<p>Not a CloudEvent.</p>`
        : html`<table aria-label="CloudEvents attributes"><tbody>
          ${Object.entries(ce).map(([name, value]) => html`<tr><th scope="row">${name}</th><td>${value}</td></tr>`)}
        </tbody></table>
        ${
          props.openTrace !== undefined && (ce.partitionkey ?? ce.correlationid) !== undefined
            ? html`<button type="button" onClick=${() => props.openTrace?.((ce.partitionkey ?? ce.correlationid)!)}>
                Trace flow ${ce.partitionkey ?? ce.correlationid}</button>`
            : null
        }`
    }
    ${
      props.onReproduce === undefined
        ? null
        : html`<button type="button" onClick=${() => props.onReproduce?.(message)}>Re-produce…</button>`
    }
    ${payload('Key', message.key)} ${payload('Value', message.value)}
    <details><summary>Headers (${message.headers.length})</summary>
      <table aria-label="Headers"><tbody>
        ${message.headers.map(([name, value]) => html`<tr><th scope="row">${name}</th><td>${value}</td></tr>`)}
      </tbody></table>
    </details>
  </section>`;
}

/** A table of messages; selecting a row shows it with {@link Message}. */
export function MessageList(props: {
  messages: readonly MessageView[];
  label: string;
  onSelect: (message: MessageView) => void;
}) {
  return html`<table aria-label=${props.label}>
    <thead><tr><th>Topic</th><th>Partition</th><th>Offset</th><th>Type</th><th>Key</th><th>Open</th></tr></thead>
    <tbody>
      ${props.messages.map(
        (message) => html`<tr>
          <td>${message.topic}</td><td>${message.partition}</td><td>${message.offset}</td>
          <td>${message.cloudEvent?.type ?? ''}</td><td>${message.key?.text ?? ''}</td>
          <td><button type="button" onClick=${() => props.onSelect(message)}>View ${message.topic}@${message.offset}</button></td>
        </tr>`,
      )}
    </tbody>
  </table>`;
}
