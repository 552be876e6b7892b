/**
 * `herald serve` (a child process) over the Kafka protocol, driven by `@platformatic/kafka`. The
 * server is shared: the Herald-on-Kafka row (`herald-kafka.ts`) runs against the same one.
 */
import { startHeraldServe } from '../../_servers.ts';
import type { SystemContext, SystemEntry } from '../system.ts';
import { kafkaProtocolSystem, platformaticKafkaVersion } from './kafka-protocol.ts';

/** The run's `herald serve` (one partition per topic by default, fsync 'always'), started on first use; its bootstrap address. */
export function heraldServeBootstrap(context: SystemContext): Promise<string> {
  return context.shared('herald-serve', async () => {
    const serve = await startHeraldServe(context.directory('serve'), 1, { quiet: true });
    return { value: serve.bootstrap, stop: serve.stop };
  });
}

/** The `herald serve` row. */
export const heraldServe: SystemEntry = {
  id: 'herald-serve',
  label: 'herald serve (Kafka protocol)',
  open: async (context) => {
    const bootstrap = await heraldServeBootstrap(context);
    context.version('@platformatic/kafka', platformaticKafkaVersion());
    return kafkaProtocolSystem([bootstrap], {
      id: 'herald-serve',
      label: 'herald serve, Kafka protocol (@platformatic/kafka)',
      durability: 'fsync',
      durabilityNote: "acks=all; the server's broker appends with fsync 'always'",
    });
  },
};
