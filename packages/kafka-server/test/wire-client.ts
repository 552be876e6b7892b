/**
 * A minimal Kafka wire client for the kafka-server tests that speak the protocol directly: it
 * sends request frames on one connection, reads the size-prefixed responses in order and notices
 * when the server closes the connection.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { decodeResponse, encodeRequest, type RequestHeader } from '@herald/kafka-protocol';
import { withDeadline } from '@herald/test-support';

/** How long a request waits for its response (or the close) by default: 15 s. */
export const RESPONSE_TIMEOUT_MS_DEFAULT = 15_000;

/** One connection to a Kafka-protocol server on 127.0.0.1. */
export class WireClient {
  readonly #socket: net.Socket;
  readonly #clientId: string;
  #buffer = Buffer.alloc(0);
  /** Requests waiting for a response, in the order sent: at most the requests a test has in flight. */
  readonly #waiting: ((frame: Buffer | null) => void)[] = [];
  #correlationId = 0;
  /** Whether the connection is closed (by either side). */
  closed = false;
  /** When it closed (`performance.now()`), if it did. */
  closedAtMs: number | undefined;

  /** Connects to `port`; `clientId` goes into the headers {@link request} builds ('herald-test' by default). */
  constructor(port: number, options: { readonly clientId?: string } = {}) {
    this.#clientId = options.clientId ?? 'herald-test';
    this.#socket = net.connect(port, '127.0.0.1');
    this.#socket.on('data', (chunk: Buffer) => {
      this.#buffer = Buffer.concat([this.#buffer, chunk]);
      while (this.#buffer.length >= 4 && this.#buffer.length >= 4 + this.#buffer.readInt32BE(0)) {
        const size = this.#buffer.readInt32BE(0);
        const frame = this.#buffer.subarray(4, 4 + size);
        this.#buffer = this.#buffer.subarray(4 + size);
        this.#waiting.shift()?.(frame);
      }
    });
    this.#socket.on('close', () => {
      this.closed = true;
      this.closedAtMs = performance.now();
      for (const waiter of this.#waiting.splice(0)) waiter(null);
    });
    this.#socket.on('error', () => {});
  }

  /** Sends one request; resolves to its response frame (without the size), or null when the connection closed. */
  send(header: RequestHeader, body: object, timeoutMs = RESPONSE_TIMEOUT_MS_DEFAULT): Promise<Buffer | null> {
    return this.sendRaw(Buffer.concat(encodeRequest(header, body)), timeoutMs);
  }

  /** Sends `bytes` as they are; resolves like {@link send}. */
  sendRaw(bytes: Buffer, timeoutMs = RESPONSE_TIMEOUT_MS_DEFAULT): Promise<Buffer | null> {
    const response = new Promise<Buffer | null>((resolve) => this.#waiting.push(resolve));
    this.#socket.write(bytes);
    return withDeadline(response, timeoutMs, 'a response or a close');
  }

  /**
   * Sends `body` as request `apiKey` v`apiVersion` with the next correlation id and resolves the
   * decoded response body; fails when the connection closes first or the correlation id differs.
   */
  async request<T>(apiKey: number, apiVersion: number, body: object, clientId = this.#clientId): Promise<T> {
    const correlationId = ++this.#correlationId;
    const frame = await this.send({ apiKey, apiVersion, correlationId, clientId }, body);
    assert.ok(frame !== null, `the server closed the connection instead of answering API ${apiKey}`);
    const response = decodeResponse(apiKey, apiVersion, frame);
    assert.equal(response.correlationId, correlationId);
    return response.body as T;
  }

  /** Closes the connection. */
  close(): void {
    this.#socket.destroy();
  }
}
