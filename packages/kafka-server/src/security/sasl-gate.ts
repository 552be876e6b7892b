/**
 * The SASL requests of a connection, answered from its {@link SaslSession}: SaslHandshake (v0
 * switches the connection to bare tokens, v1 to SaslAuthenticate requests) and SaslAuthenticate.
 * A failure is answered with its error code and then the connection closes, as Kafka does.
 */
import {
  API_KEY,
  ERROR_CODE,
  type RequestHeader,
  type SaslAuthenticateRequest,
  type SaslAuthenticateResponse,
  type SaslHandshakeRequest,
  type SaslHandshakeResponse,
} from '@herald/kafka-protocol';
import type { SaslSession } from './sasl-session.ts';

/** True for SaslHandshake and SaslAuthenticate. */
export function isSaslRequest(apiKey: number): boolean {
  return apiKey === API_KEY.SaslHandshake || apiKey === API_KEY.SaslAuthenticate;
}

/** The answer to one SASL request. */
export interface SaslReply {
  /** SaslHandshake v0 succeeded: the next frames are bare tokens. */
  readonly rawTokens: boolean;
  /** The response body, and whether to close the connection once it is sent. */
  readonly response: Promise<{ readonly body: object; readonly close: boolean }>;
}

/** Answers SaslHandshake or SaslAuthenticate. */
export function saslReply(session: SaslSession, header: RequestHeader, body: unknown): SaslReply {
  if (header.apiKey === API_KEY.SaslHandshake) {
    const errorCode = session.handshake((body as SaslHandshakeRequest).mechanism);
    const response: SaslHandshakeResponse = { errorCode, mechanisms: session.offered };
    return {
      rawTokens: errorCode === ERROR_CODE.NONE && header.apiVersion === 0,
      response: Promise.resolve({ body: response, close: errorCode !== ERROR_CODE.NONE }),
    };
  }
  const token = (body as SaslAuthenticateRequest).authBytes;
  return {
    rawTokens: false,
    response: session.authenticate(token).then((step) => {
      const response: SaslAuthenticateResponse = step.ok
        ? { errorCode: ERROR_CODE.NONE, errorMessage: null, authBytes: step.bytes, sessionLifetimeMs: 0n }
        : {
            errorCode: step.errorCode,
            errorMessage: step.message,
            authBytes: new Uint8Array(0),
            sessionLifetimeMs: 0n,
          };
      return { body: response, close: !step.ok };
    }),
  };
}

/** Answers a bare token (after SaslHandshake v0): the size-prefixed reply, or null to close. */
export async function saslToken(session: SaslSession, token: Uint8Array): Promise<Uint8Array[] | null> {
  const step = await session.authenticate(token);
  if (!step.ok) return null;
  // Even an empty token (PLAIN's success) is sent, as Kafka does, since v0 clients wait for it.
  const size = Buffer.alloc(4);
  size.writeInt32BE(step.bytes.byteLength);
  return [size, step.bytes];
}
