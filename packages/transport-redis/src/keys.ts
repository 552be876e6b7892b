/**
 * Redis key names. Every key starts with the transport's `keyPrefix`; a topic's partitions are
 * streams `<prefix>s:<topic>:<partition>`, and a group's coordination keys (members and one lease
 * per partition) sit under `<prefix>g:<topic>:<group>`. Topic and group names are checked by the
 * bus (`A-Z a-z 0-9 . _ -`), so the `:` separators cannot be forged by a name.
 */

/** The stream of one partition of `topic`. */
export function streamKey(prefix: string, topic: string, partition: number): string {
  return `${prefix}s:${topic}:${partition}`;
}

/** The hash recording a topic's partition count, so every process agrees on it. */
export function topicKey(prefix: string, topic: string): string {
  return `${prefix}t:${topic}`;
}

/** The sorted set of a group's live members (score: lease expiry, ms since the epoch). */
export function membersKey(prefix: string, topic: string, group: string): string {
  return `${prefix}g:${topic}:${group}:members`;
}

/** The lease of one partition of a group: its value is the owning member's id. */
export function leaseKey(prefix: string, topic: string, group: string, partition: number): string {
  return `${prefix}g:${topic}:${group}:lease:${partition}`;
}

/** Stream entry ids as ordered offsets: `ms-seq` becomes `ms·2^32 + seq`. */
export function offsetOfId(id: string): bigint {
  const dash = id.indexOf('-');
  return (BigInt(id.slice(0, dash)) << 32n) + BigInt(id.slice(dash + 1));
}
