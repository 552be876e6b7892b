/**
 * Admission of new TCP connections: at most `connectionsMax` open in total and
 * `connectionsPerIpMax` from one address (Kafka's max.connections and max.connections.per.ip).
 * Checked on the raw socket, before any TLS handshake, so a flood costs the server one accept and
 * one close per refused connection. A refused socket is destroyed at once, as Kafka does.
 */
import type { Socket } from 'node:net';

/** Counts open sockets per address and in total. */
export class Admission {
  readonly #totalMax: number;
  readonly #perIpMax: number;
  readonly #perIp = new Map<string, number>();
  #total = 0;
  /** Connections refused so far (for tests and logs). */
  refused = 0;

  constructor(totalMax: number, perIpMax: number) {
    this.#totalMax = totalMax;
    this.#perIpMax = perIpMax;
  }

  /** Open sockets admitted. */
  get total(): number {
    return this.#total;
  }

  /** Admits `socket` (counted until it closes) or destroys it; returns whether it was admitted. */
  admit(socket: Socket): boolean {
    const address = socket.remoteAddress ?? '';
    const fromAddress = this.#perIp.get(address) ?? 0;
    if (this.#total >= this.#totalMax || fromAddress >= this.#perIpMax) {
      this.refused++;
      socket.destroy();
      return false;
    }
    this.#total++;
    this.#perIp.set(address, fromAddress + 1);
    socket.once('close', () => {
      this.#total--;
      const left = (this.#perIp.get(address) ?? 1) - 1;
      if (left === 0) this.#perIp.delete(address);
      else this.#perIp.set(address, left);
    });
    return true;
  }
}
