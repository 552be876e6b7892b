/** Where the RabbitMQ rows connect, and the server's version for the report. */
import type { ChannelModel } from 'amqplib';
import { PEER_PORTS } from '../../_servers.ts';

/** `HERALD_RABBITMQ_URL`, else guest/guest on the port `scripts/setup.sh` uses. */
export const RABBITMQ_URL =
  process.env.HERALD_RABBITMQ_URL ?? `amqp://guest:guest@127.0.0.1:${PEER_PORTS.rabbitmq}`;

/** The server version `connection` was told at handshake. */
export function rabbitVersion(connection: ChannelModel): string {
  return (
    (connection.connection as unknown as { serverProperties?: { version?: string } }).serverProperties
      ?.version ?? 'unknown'
  );
}
