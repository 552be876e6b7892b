/** What the durability test and its producer child agree on: the topic and each message's bytes. */
import { createHash } from 'node:crypto';

export const DURABLE_TOPIC = 'durable';
export const DURABLE_PARTITIONS = 4;

/** The value of message `sequence`: the sequence and 0–1000 hex characters derived from it. */
export function durableValue(sequence: number): string {
  const digest = createHash('sha256').update(String(sequence)).digest('hex');
  return `${sequence}-${digest.repeat(16).slice(0, Number.parseInt(digest.slice(0, 3), 16) % 1000)}`;
}

export { printLine } from '@herald/bus/testing';
