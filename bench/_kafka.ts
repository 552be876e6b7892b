/**
 * Apache Kafka for the benchmarks (`peers`, `kafka`): one KRaft node from the jars `npm run setup`
 * fetched (the transport's test helper, without its loopback proxy), warmed up before any row.
 */
import fs from 'node:fs';
import path from 'node:path';
import { type ApacheKafka, KAFKA_DIR, startApacheKafka } from '@herald/test-support/apache-kafka';
import type { ClusterMetadata } from '@platformatic/kafka';
import { sleep } from './_common.ts';

export { KAFKA_DIR };

/** Waits until every partition of a new topic has a leader (Apache Kafka elects them shortly after CreateTopics). */
export async function waitForLeaders(
  admin: { metadata(options: { topics: string[]; forceUpdate: boolean }): Promise<ClusterMetadata> },
  topic: string,
  partitions: number,
): Promise<void> {
  const deadline = performance.now() + 10_000;
  for (;;) {
    const metadata = await admin.metadata({ topics: [topic], forceUpdate: true }).catch(() => undefined);
    const found = metadata?.topics.get(topic)?.partitions ?? [];
    if (found.length === partitions && found.every((partition) => partition.leader >= 0)) return;
    if (performance.now() > deadline) throw new Error(`${topic}: partitions without a leader after 10 s`);
    await sleep(100);
  }
}

/**
 * Produces 100,000 small records in 1,000-record requests to a throw-away topic, so the JVM has
 * compiled its produce path before the rows run (a quick row lasts 400 ms; a cold broker spends
 * it interpreting). `herald serve` needs none: Node compiles hot code within milliseconds.
 */
export async function warmUpKafka(bootstrap: string): Promise<void> {
  const kafka = await import('@platformatic/kafka');
  const producer = new kafka.Producer({
    clientId: 'herald-peers-warm-up',
    bootstrapBrokers: [bootstrap],
    acks: -1,
  });
  const admin = new kafka.Admin({ clientId: 'herald-peers-warm-up', bootstrapBrokers: [bootstrap] });
  try {
    await admin.createTopics({ topics: ['herald-warm-up'], partitions: 1, replicas: 1 });
    await waitForLeaders(admin, 'herald-warm-up', 1);
    const value = Buffer.alloc(100, 7);
    for (let request = 0; request < 100; request++) {
      await producer.send({
        messages: Array.from({ length: 1_000 }, () => ({ topic: 'herald-warm-up', value, partition: 0 })),
      });
    }
    await admin.deleteTopics({ topics: ['herald-warm-up'] }).catch(() => {});
  } finally {
    await producer.close();
    await admin.close();
  }
}

/** The version of the fetched Apache Kafka jars (from `kafka_2.13-<version>.jar`). */
export function kafkaVersion(): string {
  const libs = path.join(KAFKA_DIR, 'libs');
  const jar = fs.existsSync(libs)
    ? fs.readdirSync(libs).find((name) => /^kafka_[\d.]+-.+\.jar$/.test(name))
    : undefined;
  return jar === undefined ? 'unknown' : jar.replace(/^kafka_[\d.]+-/, '').replace(/\.jar$/, '');
}

/**
 * Starts a broker for a benchmark (1 GiB heap, clients connect to it directly) and warms it up;
 * `settings` go to its `server.properties`.
 */
export async function startBenchKafka(options: {
  readonly partitions: number;
  readonly settings?: Readonly<Record<string, string | number>>;
}): Promise<ApacheKafka> {
  const broker = await startApacheKafka({ ...options, proxy: false, heapMbMax: 1024 });
  try {
    await warmUpKafka(broker.bootstrap);
    return broker;
  } catch (error) {
    await broker.stop();
    throw error;
  }
}
