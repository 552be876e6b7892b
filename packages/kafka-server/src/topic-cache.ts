/**
 * Partition counts of existing topics, kept in memory so that Produce and Fetch (the hot paths)
 * check a topic and partition without an async round trip to the broker per request. Refreshed on
 * create and delete through this server, and from the broker on a miss.
 */
import type { Broker } from '@herald/broker';

/** A cache of topic partition counts. */
export class TopicCache {
  readonly #broker: Broker;
  readonly #partitions = new Map<string, number>();

  constructor(broker: Broker) {
    this.#broker = broker;
  }

  /** Partition count of `topic`, or undefined when it does not exist. */
  async partitions(topic: string): Promise<number | undefined> {
    const cached = this.#partitions.get(topic);
    if (cached !== undefined) return cached;
    if (!this.#broker.listTopics().includes(topic)) return undefined;
    try {
      const count = (await this.#broker.describeTopic(topic)).partitions.length;
      this.#partitions.set(topic, count);
      return count;
    } catch {
      return undefined;
    }
  }

  /** Partition count from the cache only (no broker call). */
  cached(topic: string): number | undefined {
    return this.#partitions.get(topic);
  }

  /** Records a created topic. */
  remember(topic: string, partitions: number): void {
    this.#partitions.set(topic, partitions);
  }

  /** Forgets a deleted topic. */
  forget(topic: string): void {
    this.#partitions.delete(topic);
  }
}
