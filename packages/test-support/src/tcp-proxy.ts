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

/** Options of {@link startProxy}. */
export interface TcpProxyOptions {
  /** The loopback address the server listens on (default 127.0.0.1). */
  readonly targetHost?: string;
  /**
   * The port to listen on (default 0, a free one). A server that advertises its own port (like
   * `herald serve`) is put behind the proxy by binding it to another loopback address on that port.
   */
  readonly port?: number;
}

/**
 * A TCP proxy from a loopback port (a free one unless `options.port`) to `targetPort`, whose
 * connections can be cut at once.
 */
export async function startProxy(targetPort: number, options: TcpProxyOptions = {}): Promise<TcpProxy> {
  const targetHost = options.targetHost ?? '127.0.0.1';
  const sockets = new Set<net.Socket>();
  const track = (socket: net.Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  };
  const server = net.createServer((client) => {
    const upstream = net.connect(targetPort, targetHost);
    track(client);
    track(upstream);
    client.pipe(upstream).pipe(client);
    client.once('error', () => upstream.destroy());
    upstream.once('error', () => client.destroy());
    client.once('close', () => upstream.destroy());
    upstream.once('close', () => client.destroy());
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject); // a port in use
    server.listen(options.port ?? 0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
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
