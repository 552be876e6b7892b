/**
 * The memory transport's scheduler: scheduled messages wait in a {@link DueQueue} and are
 * published when due. Nothing survives the process, like the rest of the memory transport.
 */
import type { TransportMessage } from '../envelope.ts';
import { ClosedError, ScheduleError } from '../errors.ts';
import type { CancelOutcome, TransportScheduler } from '../transport.ts';
import { DueQueue } from './due-queue.ts';

interface Waiting {
  readonly topic: string;
  readonly message: TransportMessage;
}

/** A scheduler over `publish`, holding at most `scheduledMax` messages. */
export class MemoryScheduler implements TransportScheduler {
  readonly #queue: DueQueue<Waiting>;
  readonly #scheduledMax: number;
  readonly #onError: (error: unknown) => void;
  #closed = false;

  constructor(
    publish: (topic: string, messages: readonly TransportMessage[]) => Promise<void>,
    scheduledMax: number,
    onError: (error: unknown) => void,
  ) {
    this.#scheduledMax = scheduledMax;
    this.#onError = onError;
    this.#queue = new DueQueue<Waiting>((due) => {
      for (const { value } of due) {
        publish(value.topic, [value.message]).catch((error: unknown) => {
          if (!this.#closed) this.#onError(error);
        });
      }
    });
  }

  /** Messages waiting. */
  get size(): number {
    return this.#queue.size;
  }

  async schedule(topic: string, message: TransportMessage, deliverAtMs: number): Promise<void> {
    if (this.#closed) throw new ClosedError('memory transport scheduler');
    const id = message.headers.ce_id ?? '';
    if (!this.#queue.has(id) && this.#queue.size >= this.#scheduledMax) {
      throw new ScheduleError(
        'SCHEDULE_FULL',
        `memory transport: ${this.#queue.size} scheduled messages wait, the limit is ${this.#scheduledMax}; ` +
          'retry later or raise scheduledMax',
      );
    }
    this.#queue.add(id, deliverAtMs, { topic, message });
  }

  async cancel(id: string): Promise<CancelOutcome> {
    if (this.#closed) throw new ClosedError('memory transport scheduler');
    return this.#queue.remove(id) === undefined ? 'not-pending' : 'cancelled';
  }

  /** Drops every waiting message and the timer. */
  close(): void {
    this.#closed = true;
    this.#queue.close();
  }
}
