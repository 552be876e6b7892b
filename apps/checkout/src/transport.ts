/**
 * Which broker the checkout's services share, chosen by `HERALD_TRANSPORT`. Services never see
 * the choice: they get a bus. Adding a transport is one case here.
 *
 * - `embedded` (default): the durable broker inside this process, in `<data>/broker`. A data
 *   directory can be opened by one process only, so with it every service runs in one process
 *   (`npm start`); `npm run service -- <name>` works for one service at a time.
 * - `kafka`, `rabbitmq`: coming with their issues (the Kafka-protocol server and the RabbitMQ
 *   transport); each becomes a case returning its transport.
 */
import { join } from 'node:path';
import { ConfigurationError, embeddedTransport, type Transport } from 'herald';

/** Transports the checkout can run on today. */
export const TRANSPORT_NAMES = ['embedded'] as const;

/** Options of {@link transportFromEnv}. */
export interface TransportFromEnvOptions {
  /** The run's data directory; the embedded broker lives in `<dataDir>/broker`. */
  readonly dataDir: string;
  /** Environment to read (default `process.env`). */
  readonly env?: Readonly<Record<string, string | undefined>>;
}

/** Opens the transport named by `HERALD_TRANSPORT` (default `embedded`). */
export async function transportFromEnv(options: TransportFromEnvOptions): Promise<Transport> {
  const name = (options.env ?? process.env).HERALD_TRANSPORT ?? 'embedded';
  switch (name) {
    case 'embedded':
      return openEmbedded(join(options.dataDir, 'broker'));
    default:
      throw new ConfigurationError(
        `HERALD_TRANSPORT=${name} is not available: the checkout runs on ${TRANSPORT_NAMES.join(', ')} ` +
          '(kafka and rabbitmq are being added); unset HERALD_TRANSPORT to use the embedded broker',
      );
  }
}

async function openEmbedded(dir: string): Promise<Transport> {
  try {
    // One partition per topic: per-key order and handler concurrency are unchanged, and every
    // partition is a log to fsync; on this 2-core VM (fdatasync ≈ 3 ms) four per topic doubled
    // the accept latency of the default load.
    return await embeddedTransport({ dir, partitions: 1 });
  } catch (error) {
    if ((error as { reason?: string }).reason === 'BROKER_LOCKED') {
      throw new ConfigurationError(
        `${(error as Error).message}. An embedded broker's data directory can be opened by one process ` +
          'only: run every service in one process with `npm start`, give this process its own ' +
          'directory with --data, or use a shared broker through HERALD_TRANSPORT once kafka or ' +
          'rabbitmq is available',
        { cause: error },
      );
    }
    throw error;
  }
}
