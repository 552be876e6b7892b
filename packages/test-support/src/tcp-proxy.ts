/**
 * A loopback TCP proxy whose connections a test can cut at once, like a network failure would,
 * while the server behind it keeps running.
 */
import net from 'node:net';

/** A running {@link startProxy}. */
export interface TcpProxy {
  /** The loopback port clients connect to. */
  readonly port: number;
  /** Destroys every connection through the proxy now (client and server side); new ones are accepted. */
  dropConnections(): void;
  /** Drops every connection and stops listening. */
  close(): Promise<void>;
}

/** A TCP proxy from a free loopback port to `targetPort`, whose connections can be cut at once. */
export async function startProxy(targetPort: number): Promise<TcpProxy> {
  const sockets = new Set<net.Socket>();
  const track = (socket: net.Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  };
  const server = net.createServer((client) => {
    const upstream = net.connect(targetPort, '127.0.0.1');
    track(client);
    track(upstream);
    client.pipe(upstream).pipe(client);
    client.once('error', () => upstream.destroy());
    upstream.once('error', () => client.destroy());
    client.once('close', () => upstream.destroy());
    upstream.once('close', () => client.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const dropConnections = () => {
    for (const socket of sockets) socket.destroy();
  };
  return {
    port: (server.address() as net.AddressInfo).port,
    dropConnections,
    close: () => {
      dropConnections();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
