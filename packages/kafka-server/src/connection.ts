/**
 * One client connection: splits the byte stream into size-prefixed frames, runs requests
 * concurrently (at most `inFlightRequestsMax` at once) and writes responses strictly in request
 * order, as every Kafka client requires. Frames above `requestBytesMax`, malformed frames and
 * unknown API keys or versions close the connection (ApiVersions with an unknown version is
 * answered with UNSUPPORTED_VERSION first, as Kafka does). Reading pauses while the in-flight
 * limit is reached or unsent output piles up, so a client cannot make the server buffer without
 * bound.
 */
import type { Socket } from 'node:net';
import {
  API_KEY,
  decodeRequest,
  ERROR_CODE,
  encodeResponse,
  isKafkaProtocolError,
} from '@herald/kafka-protocol';
import type { ServerContext } from './context.ts';
import { apiVersionsResponse } from './handlers/api-versions.ts';
import { type ConnectionState, dispatch } from './handlers/index.ts';

/** Limits of one connection. */
export interface ConnectionLimits {
  readonly requestBytesMax: number;
  readonly inFlightRequestsMax: number;
  /** Unsent response bytes above which reading pauses. */
  readonly outputBytesMax: number;
  readonly idleTimeoutMs: number;
}

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

  constructor(socket: Socket, context: ServerContext, limits: ConnectionLimits) {
    this.#socket = socket;
    this.#context = context;
    this.#limits = limits;
    // As Kafka's InetAddress.toString() of the peer: "/127.0.0.1".
    this.clientHost = `/${socket.remoteAddress ?? ''}`;
    let resolve!: () => void;
    const promise = new Promise<void>((done) => {
      resolve = done;
    });
    this.#idle = { resolve, promise };
    socket.setNoDelay(true);
    socket.setTimeout(limits.idleTimeoutMs, () => this.destroy());
    socket.on('data', (chunk: Buffer) => this.#onData(chunk));
    socket.on('drain', () => this.#maybeResume());
    socket.on('error', () => this.destroy());
    socket.on('close', () => this.destroy());
  }

  /** True once the socket is gone. */
  get closed(): boolean {
    return this.#closed;
  }

  /** Closes the socket at once; queued responses are dropped. */
  destroy(): void {
    if (this.#closed) return;
    this.#closed = true;
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
    if (this.#queue.length >= this.#limits.inFlightRequestsMax) return;
    if (this.#socket.writableLength > this.#limits.outputBytesMax) return;
    this.#readingPaused = false;
    this.#socket.resume();
    this.#readFrames();
  }

  #readFrames(): void {
    while (!this.#closed && !this.#draining) {
      if (
        this.#queue.length >= this.#limits.inFlightRequestsMax ||
        this.#socket.writableLength > this.#limits.outputBytesMax
      ) {
        this.#pauseReading();
        return;
      }
      if (this.#buffered < 4) return;
      const size = this.#peekSize();
      if (size < FRAME_BYTES_MIN || size > this.#limits.requestBytesMax) {
        // Kafka closes the connection on an invalid or oversized frame (InvalidReceiveException).
        this.destroy();
        return;
      }
      if (this.#buffered < 4 + size) return;
      const frame = this.#take(4 + size).subarray(4);
      this.#handleFrame(frame);
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
    const slot: Slot = { done: false, chunks: null };
    this.#queue.push(slot);
    dispatch(this.#context, this, header, decoded.body)
      .then((response) => {
        slot.chunks =
          response === null
            ? null
            : encodeResponse(header.apiKey, header.apiVersion, header.correlationId, response);
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
