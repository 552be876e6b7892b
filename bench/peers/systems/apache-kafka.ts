/**
 * Apache Kafka (single KRaft node, the jars `npm run setup` fetched), driven like `herald serve`.
 * By default Kafka acknowledges acks=all once the record is in the page cache of every in-sync
 * replica (here: the one broker) and flushes later; `log.flush.interval.messages=1` makes it
 * fsync the log before answering, the class `herald serve` is in. Each variant is its own broker,
 * shared with the Herald-on-Kafka row that runs against it (`herald-kafka.ts`).
 */
import { kafkaVersion, startBenchKafka } from '../../_servers.ts';
import type { SystemContext, SystemEntry } from '../system.ts';
import { kafkaProtocolSystem, platformaticKafkaVersion } from './kafka-protocol.ts';

/** The run's Apache Kafka broker (with fsync per message or not), started on first use; its bootstrap address. */
export function apacheKafkaBootstrap(context: SystemContext, fsyncEveryMessage: boolean): Promise<string> {
  return context.shared(fsyncEveryMessage ? 'apache-kafka-fsync' : 'apache-kafka', async () => {
    const broker = await startBenchKafka({
      partitions: 1,
      settings: fsyncEveryMessage ? { 'log.flush.interval.messages': 1 } : {},
    });
    return { value: broker.bootstrap, stop: () => broker.stop() };
  });
}

function apacheKafka(fsyncEveryMessage: boolean): SystemEntry {
  const id = fsyncEveryMessage ? 'apache-kafka-fsync' : 'apache-kafka';
  return {
    id,
    label: fsyncEveryMessage ? 'Apache Kafka (fsync per message)' : 'Apache Kafka',
    open: async (context) => {
      const bootstrap = await apacheKafkaBootstrap(context, fsyncEveryMessage);
      context.version('apache-kafka', kafkaVersion());
      context.version('@platformatic/kafka', platformaticKafkaVersion());
      return kafkaProtocolSystem([bootstrap], {
        id,
        label: fsyncEveryMessage
          ? 'Apache Kafka, log.flush.interval.messages=1 (@platformatic/kafka)'
          : 'Apache Kafka (@platformatic/kafka)',
        durability: fsyncEveryMessage ? 'fsync' : 'page cache',
        durabilityNote: fsyncEveryMessage
          ? 'acks=all, one broker; the log is fsynced after every append, before the produce response'
          : 'acks=all, one broker; Kafka default flush policy: in the page cache when acked, fsynced later by the OS',
      });
    },
  };
}

/** Kafka's default flush policy (page cache). */
export const apacheKafkaDefault: SystemEntry = apacheKafka(false);
/** `log.flush.interval.messages=1` (fsync). */
export const apacheKafkaFsync: SystemEntry = apacheKafka(true);
