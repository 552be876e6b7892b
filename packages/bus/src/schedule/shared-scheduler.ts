/**
 * One {@link TopicScheduler} per transport object, however many buses share it: every bus joining
 * the schedulers' group was a member of its own (a process of fourteen buses on one Kafka
 * transport rebalanced fourteen members at each start). The first bus that starts it joins the
 * group; the others count themselves in; the last to stop leaves it. Buses on one transport also
 * share its publish side (`schedule`, `cancel`), so the ids the running scheduler remembers cover
 * what any of them scheduled.
 */
import type { Logger } from '../logger.ts';
import type { Transport } from '../transport.ts';
import { TopicScheduler } from './topic-scheduler.ts';

/**
 * The shared scheduler of each transport object. Weak: an entry goes with its transport, so it is
 * bounded by the transports the process holds.
 */
const schedulers = new WeakMap<Transport, SharedTopicScheduler>();

/** A transport's {@link TopicScheduler} and the buses running it. */
export class SharedTopicScheduler {
  /** Publishes entries and cancellations; runs (reads the schedule topic) while a bus holds it. */
  readonly scheduler: TopicScheduler;
  /** Buses holding it: started and not stopped. */
  #holders = 0;
  #running = false;
  /** The last start or stop: they run one at a time, in call order. */
  #transition: Promise<void> = Promise.resolve();

  private constructor(scheduler: TopicScheduler) {
    this.scheduler = scheduler;
  }

  /**
   * The shared scheduler of `transport`, created on first use with `logger` (the first bus's: the
   * scheduler logs there for every bus of the transport).
   */
  static of(transport: Transport, logger: Logger): SharedTopicScheduler {
    let shared = schedulers.get(transport);
    if (shared === undefined) {
      shared = new SharedTopicScheduler(new TopicScheduler(transport, logger));
      schedulers.set(transport, shared);
    }
    return shared;
  }

  /** Buses holding the scheduler now (for tests). */
  get holders(): number {
    return this.#holders;
  }

  /**
   * Counts a bus in; resolves once the scheduler runs (the first holder starts it). When the start
   * fails the bus is counted out again and this rejects with the transport's error.
   */
  async hold(): Promise<void> {
    this.#holders += 1;
    try {
      await this.#settle(undefined);
    } catch (error) {
      this.#holders -= 1;
      throw error;
    }
  }

  /** Counts a bus out; the last holder stops the scheduler within `timeoutMs`. */
  async release(timeoutMs: number): Promise<void> {
    this.#holders -= 1;
    await this.#settle(timeoutMs);
  }

  /** Starts or stops the scheduler to match the holders, after the transition before it. */
  #settle(timeoutMs: number | undefined): Promise<void> {
    const next = this.#transition.then(async () => {
      if (this.#holders > 0 && !this.#running) {
        await this.scheduler.start();
        this.#running = true;
      } else if (this.#holders === 0 && this.#running) {
        this.#running = false;
        await this.scheduler.stop(timeoutMs);
      }
    });
    // A failed transition is its caller's to report; the next one starts from the state it left.
    this.#transition = next.catch(() => {});
    return next;
  }
}
