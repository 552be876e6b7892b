/** What the durability test and its producer child agree on: the topic and each message's bytes. */
import { createHash } from 'node:crypto';
import { writeSync } from 'node:fs';

export const DURABLE_TOPIC = 'durable';
export const DURABLE_PARTITIONS = 4;

/** The value of message `sequence`: the sequence and 0–1000 hex characters derived from it. */
export function durableValue(sequence: number): string {
  const digest = createHash('sha256').update(String(sequence)).digest('hex');
  return `${sequence}-${digest.repeat(16).slice(0, Number.parseInt(digest.slice(0, 3), 16) % 1000)}`;
}

/**
 * Writes `line` to stdout synchronously. `process.stdout.write` to a pipe is asynchronous here
 * (measured: lines written just before a SIGKILL go missing), so a child's `begin` line could be
 * lost while its write went ahead, and the harness would see a phantom. `writeSync` on the pipe
 * (non-blocking) retries EAGAIN until the parent has read enough; bounded by the attempts.
 */
export function printLine(line: string): void {
  for (let attempt = 0; attempt < 10_000_000; attempt++) {
    try {
      writeSync(1, `${line}\n`);
      return;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EAGAIN') throw error;
    }
  }
  throw new Error('stdout stayed full: the parent stopped reading');
}
