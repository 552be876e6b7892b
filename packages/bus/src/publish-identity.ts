/**
 * The identity a broker that drops re-published copies (JetStream's `Nats-Msg-Id`) can key on.
 * The CloudEvents id alone is not enough: Herald itself publishes messages that keep their event's
 * id but differ otherwise, and a broker keyed on the id would drop them as copies within its
 * window. A redrive re-publishes a dead letter with its original id plus the group it is for, and
 * one event failed by two groups leaves two dead letters with one id on one `.dlq` topic.
 */
import { createHash } from 'node:crypto';
import type { TransportMessage } from './envelope.ts';

/**
 * A digest (base64url SHA-256, 43 characters) of `message`'s CloudEvents id `ce_id`, key, every
 * header (in name order) and body, so only an exact copy shares it: a publish retried after a lost
 * acknowledgement does, a redriven or second group's dead letter does not. `undefined` when the
 * message has no `ce_id` (nothing says two publishes are the same message).
 */
export function publishIdentity(message: TransportMessage): string | undefined {
  const id = message.headers.ce_id;
  if (id === undefined || id === '') return undefined;
  const hash = createHash('sha256');
  // Every text field is length-prefixed, so no two different messages feed the same bytes.
  const text = (value: string) => hash.update(`${Buffer.byteLength(value)}:${value}`);
  text(id);
  // A keyless message and one keyed by the empty string are different messages.
  hash.update(message.key === undefined ? '-' : '+');
  text(message.key ?? '');
  const names = Object.keys(message.headers).sort();
  hash.update(`${names.length}:`);
  for (const name of names) {
    text(name);
    text(message.headers[name]!);
  }
  hash.update(message.body);
  return hash.digest('base64url');
}
