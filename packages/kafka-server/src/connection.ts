/**
 * One client connection: splits the byte stream into size-prefixed frames, runs requests
 * concurrently (at most `inFlightRequestsMax` at once) and writes responses strictly in request
 * order, as every Kafka client requires. Frames above `requestBytesMax`, malformed frames and
 * unknown API keys or versions close the connection (ApiVersions with an unknown version is
 * answered with UNSUPPORTED_VERSION first, as Kafka does). Reading pauses while the in-flight
 * limit is reached or unsent output piles up, so a client cannot make the server buffer without
 * bound. On a SASL listener a connection serves only the authentication APIs (see
 * `security/sasl-gate.ts`) until it has authenticated, with a smaller frame bound and a deadline.
 */
import type { Socket } from 'node:net';
import {
  API_KEY,
  decodeRequest,
  ERROR_CODE,
  encodeResponse,
  isKafkaProtocolError,
  type RequestHeader,
} from '@herald/kafka-protocol';
import type { ServerContext } from './context.ts';
import { apiVersionsResponse } from './handlers/api-versions.ts';
import { type ConnectionState, dispatch } from './handlers/index.ts';
import type { Quotas } from './security/quotas.ts';
import { isSaslRequest, saslReply, saslToken } from './security/sasl-gate.ts';
import { SaslSession, type SaslSettings } from './security/sasl-session.ts';

/** Limits of one connection. */
export interface ConnectionLimits {
  readonly requestBytesMax: number;
  readonly inFlightRequestsMax: number;
  /** Unsent response bytes above which reading pauses. */
  readonly outputBytesMax: number;
  readonly idleTimeoutMs: number;
  /** Largest frame before authentication (Kafka's sasl.server.max.receive.size, 512 KiB). */
  readonly authRequestBytesMax: number;
  /** A connection not authenticated within this is closed. */
  readonly authTimeoutMs: number;
}

/** The principal of connections that did not authenticate (no SASL on the listener). */
export const ANONYMOUS = 'User:ANONYMOUS';

interface Slot {
  done: boolean;
  chunks: Uint8Array[] | null;
}

/** Smallest legal frame: api_key, api_version, correlation_id. */
const FRAME_BYTES_MIN = 8;

/** Serves one socket. */
export class Connection implements ConnectionState {
  produceGate: Promise<void> = Promise.resolve();
  readonly clientHost: string;
  readonly #socket: Socket;
  readonly #context: ServerContext;
  readonly #limits: ConnectionLimits;
  readonly #chunks: Buffer[] = [];
  #buffered = 0;
  readonly #queue: Slot[] = [];
  #readingPaused = false;
  #closed = false;
  #draining = false;
  readonly #idle: { resolve: () => void; promise: Promise<void> };
  /** Set on a SASL listener; authenticated once its principal is known. */
  readonly #sasl: SaslSession | undefined;
  /** After SaslHandshake v0 the client's tokens come as bare size-prefixed frames. */
  #rawTokens = false;
  #authTimer: NodeJS.Timeout | undefined;
  readonly #quotas: Quotas;
  /** Set while a quota throttle mutes this connection (no reading until it fires). */
  #throttleTimer: NodeJS.Timeout | undefined;

  constructor(
    socket: Socket,
    context: ServerContext,
    limits: ConnectionLimits,
    sasl?: SaslSettings,
    quotas: Quotas = {},
  ) {
    this.#socket = socket;
    this.#context = context;
    this.#limits = limits;
    this.#quotas = quotas;
    this.#quotas = quotas;
    // As Kafka's InetAddress.toString() of the peer: "/127.0.0.1".
    this.clientHost = `/${socket.remoteAddress ?? ''}`;
    let resolve!: () => void;
    const promise = new Promise<void>((done) => {
      resolve = done;
    });
    this.#idle = { resolve, promise };
    socket.setNoDelay(true);
    socket.setTimeout(limits.idleTimeoutMs, () => this.destroy());
    if (sasl !== undefined) {
      this.#sasl = new SaslSession(sasl);
      this.#authTimer = setTimeout(() => this.destroy(), limits.authTimeoutMs);
      this.#authTimer.unref();
    }
    socket.on('data', (chunk: Buffer) => this.#onData(chunk));
    socket.on('drain', () => this.#maybeResume());
    socket.on('error', () => this.destroy());
    socket.on('close', () => this.destroy());
  }

  /** Who the client is: `User:<name>` after SASL, {@link ANONYMOUS} without. */
  get principal(): string {
    return this.#sasl?.principal ?? ANONYMOUS;
  }

  get #authenticating(): boolean {
    return this.#sasl !== undefined && !this.#sasl.authenticated;
  }

  /** True once the socket is gone. */
  get closed(): boolean {
    return this.#closed;
  }

  /** Closes the socket at once; queued responses are dropped. */
  destroy(): void {
    if (this.#closed) return;
    this.#closed = true;
    clearTimeout(this.#authTimer);
    clearTimeout(this.#throttleTimer);
    this.#queue.length = 0;
    this.#chunks.length = 0;
    this.#buffered = 0;
    this.#socket.destroy();
    this.#idle.resolve();
  }

  /** Stops reading requests, answers those in flight (until `deadlineMs`), then closes. */
  async drain(deadlineMs: number): Promise<void> {
    if (this.#closed) return;
    this.#draining = true;
    this.#socket.pause();
    if (this.#queue.length === 0) this.#endSocket();
    const timer = setTimeout(() => this.destroy(), Math.max(0, deadlineMs - performance.now()));
    await this.#idle.promise;
    clearTimeout(timer);
  }

  #endSocket(): void {
    this.#socket.end(() => this.destroy());
  }

  #onData(chunk: Buffer): void {
    if (this.#closed || this.#draining) return;
    this.#chunks.push(chunk);
    this.#buffered += chunk.length;
    this.#readFrames();
  }

  #pauseReading(): void {
    if (!this.#readingPaused) {
      this.#readingPaused = true;
      this.#socket.pause();
    }
  }

  #maybeResume(): void {
    if (this.#closed || this.#draining || !this.#readingPaused) return;
    if (this.#throttleTimer !== undefined) return;
    if (this.#queue.length >= this.#limits.inFlightRequestsMax) return;
    if (this.#socket.writableLength > this.#limits.outputBytesMax) return;
    this.#readingPaused = false;
    this.#socket.resume();
    this.#readFrames();
  }

  #readFrames(): void {
    while (!this.#closed && !this.#draining) {
      if (
        this.#throttleTimer !== undefined ||
        this.#queue.length >= this.#limits.inFlightRequestsMax ||
        this.#socket.writableLength > this.#limits.outputBytesMax
      ) {
        this.#pauseReading();
        return;
      }
      if (this.#buffered < 4) return;
      const size = this.#peekSize();
      const sizeMin = this.#rawTokens ? 0 : FRAME_BYTES_MIN;
      const sizeMax = this.#authenticating ? this.#limits.authRequestBytesMax : this.#limits.requestBytesMax;
      if (size < sizeMin || size > sizeMax) {
        // Kafka closes the connection on an invalid or oversized frame (InvalidReceiveException).
        this.destroy();
        return;
      }
      if (this.#buffered < 4 + size) return;
      const frame = this.#take(4 + size).subarray(4);
      if (this.#rawTokens) this.#handleRawToken(frame);
      else this.#handleFrame(frame);
    }
  }

  #peekSize(): number {
    const first = this.#chunks[0]!;
    if (first.length >= 4) return first.readInt32BE(0);
    return Buffer.concat(this.#chunks, 4).readInt32BE(0);
  }

  #take(count: number): Buffer {
    const first = this.#chunks[0]!;
    let taken: Buffer;
    if (first.length >= count) {
      taken = first.subarray(0, count);
      if (first.length === count) this.#chunks.shift();
      else this.#chunks[0] = first.subarray(count);
    } else {
      const all = Buffer.concat(this.#chunks, this.#buffered);
      taken = all.subarray(0, count);
      this.#chunks.length = 0;
      if (all.length > count) this.#chunks.push(all.subarray(count));
    }
    this.#buffered -= count;
    return taken;
  }

  #handleFrame(frame: Buffer): void {
    let decoded: ReturnType<typeof decodeRequest>;
    try {
      decoded = decodeRequest(frame);
    } catch (error) {
      if (!isKafkaProtocolError(error)) this.#context.onError(error);
      this.destroy();
      return;
    }
    const { header } = decoded;
    if (decoded.kind === 'unsupported') {
      if (header.apiKey !== API_KEY.ApiVersions) {
        this.destroy();
        return;
      }
      // Answered in the v0 body, which every client can parse, with the ranges it may retry with.
      const chunks = encodeResponse(
        API_KEY.ApiVersions,
        0,
        header.correlationId,
        apiVersionsResponse(ERROR_CODE.UNSUPPORTED_VERSION),
      );
      this.#queue.push({ done: true, chunks });
      this.#flush();
      return;
    }
    if (this.#sasl !== undefined) {
      if (isSaslRequest(header.apiKey)) {
        this.#answerSasl(this.#sasl, header, decoded.body);
        return;
      }
      // Kafka closes a connection that sends anything but ApiVersions before authenticating.
      if (this.#authenticating && header.apiKey !== API_KEY.ApiVersions) {
        this.destroy();
        return;
      }
    }
    const slot: Slot = { done: false, chunks: null };
    this.#queue.push(slot);
    dispatch(this.#context, this, header, decoded.body)
      .then((response) => {
        slot.chunks =
          response === null
            ? null
            : encodeResponse(header.apiKey, header.apiVersion, header.correlationId, response);
        const throttleMs = this.#quotaThrottle(header.apiKey, frame.length, slot.chunks);
        if (throttleMs > 0 && response !== null && header.apiVersion >= 1) {
          // Re-encoded only when throttled (rare by design), to carry throttle_time_ms.
          const throttled = { ...response, throttleTimeMs: throttleMs };
          slot.chunks = encodeResponse(header.apiKey, header.apiVersion, header.correlationId, throttled);
        }
        if (throttleMs > 0) this.#throttle(throttleMs);
        if (slot.chunks !== null) this.#reportSize(header.apiKey, header.apiVersion, slot.chunks);
        slot.done = true;
        this.#flush();
      })
      .catch((error: unknown) => {
        // A handler or encoder bug: never crash the server; drop this client instead.
        this.#context.onError(error);
        this.destroy();
      });
  }

  /** Charges a Produce request or Fetch response to this principal's quota; returns the throttle. */
  #quotaThrottle(apiKey: number, requestBytes: number, chunks: readonly Uint8Array[] | null): number {
    if (apiKey === API_KEY.Produce && this.#quotas.produce !== undefined) {
      return this.#quotas.produce.record(this.principal, requestBytes);
    }
    if (apiKey === API_KEY.Fetch && this.#quotas.fetch !== undefined && chunks !== null) {
      let bytes = 0;
      for (const chunk of chunks) bytes += chunk.byteLength;
      return this.#quotas.fetch.record(this.principal, bytes);
    }
    return 0;
  }

  /** Stops reading for `throttleMs` after this response, as Kafka mutes a throttled channel. */
  #throttle(throttleMs: number): void {
    clearTimeout(this.#throttleTimer);
    this.#pauseReading();
    this.#throttleTimer = setTimeout(() => {
      this.#throttleTimer = undefined;
      this.#maybeResume();
    }, throttleMs);
  }

  /** Queues the answer to SaslHandshake or SaslAuthenticate. */
  #answerSasl(session: SaslSession, header: RequestHeader, body: unknown): void {
    const slot: Slot = { done: false, chunks: null };
    this.#queue.push(slot);
    const reply = saslReply(session, header, body);
    // Set at once: the next frame (sent once the client read this answer) is already a bare token.
    if (reply.rawTokens) this.#rawTokens = true;
    reply.response
      .then(({ body: response, close }) => {
        slot.chunks = encodeResponse(header.apiKey, header.apiVersion, header.correlationId, response);
        slot.done = true;
        if (close) this.#closeAfterFlush();
        else if (session.authenticated) clearTimeout(this.#authTimer);
        this.#flush();
      })
      .catch((error: unknown) => {
        this.#context.onError(error);
        this.destroy();
      });
  }

  /** A token after SaslHandshake v0: answered with a bare size-prefixed token, or the connection closes. */
  #handleRawToken(token: Buffer): void {
    const slot: Slot = { done: false, chunks: null };
    this.#queue.push(slot);
    saslToken(this.#sasl!, token)
      .then((reply) => {
        if (reply === null) {
          this.destroy();
          return;
        }
        if (this.#sasl!.authenticated) {
          this.#rawTokens = false;
          clearTimeout(this.#authTimer);
        }
        slot.chunks = reply;
        slot.done = true;
        this.#flush();
      })
      .catch((error: unknown) => {
        this.#context.onError(error);
        this.destroy();
      });
  }

  /** Sends what is queued, then closes (a refused authentication). */
  #closeAfterFlush(): void {
    this.#draining = true;
    this.#socket.pause();
  }

  #reportSize(apiKey: number, apiVersion: number, chunks: readonly Uint8Array[]): void {
    if (this.#context.onResponse === undefined) return;
    let bytes = -4; // the size field itself is not counted
    for (const chunk of chunks) bytes += chunk.byteLength;
    this.#context.onResponse({ apiKey, apiVersion, bytes });
  }

  #flush(): void {
    if (this.#closed) return;
    let wrote = false;
    while (this.#queue.length > 0 && this.#queue[0]!.done) {
      const slot = this.#queue.shift()!;
      if (slot.chunks === null) continue;
      if (!wrote) this.#socket.cork();
      wrote = true;
      for (const chunk of slot.chunks) this.#socket.write(chunk);
    }
    if (wrote) this.#socket.uncork();
    if (this.#draining && this.#queue.length === 0) this.#endSocket();
    else this.#maybeResume();
  }
}
