/**
 * Request and response framing: the int32 size prefix, the request header (v1: api_key
 * api_version correlation_id client_id; v2 adds a tagged-field section) and the response header
 * (v0: correlation_id; v1 adds a tagged-field section, except ApiVersions which always uses v0).
 * A request header v0 (no client id) is only used by ControlledShutdown v0, which is not served.
 */
import { API_KEY, type ApiDefinition, findApi, isFlexible } from './apis.ts';
import { KafkaProtocolError } from './errors.ts';
import { Reader } from './reader.ts';
import { decodeMessage, encodeMessage } from './schema.ts';
import { Writer } from './writer.ts';

/** A decoded request header. */
export interface RequestHeader {
  readonly apiKey: number;
  readonly apiVersion: number;
  readonly correlationId: number;
  readonly clientId: string | null;
}

/** What {@link decodeRequest} found in a frame. */
export type DecodedRequest =
  | {
      readonly kind: 'request';
      readonly header: RequestHeader;
      readonly api: ApiDefinition;
      readonly body: unknown;
    }
  /** A well-framed request for an API key or version this codec does not implement. */
  | {
      readonly kind: 'unsupported';
      readonly header: RequestHeader;
      readonly api: ApiDefinition | undefined;
    };

/** Smallest request frame: api_key, api_version, correlation_id, client_id length. */
export const REQUEST_HEADER_BYTES_MIN = 10;

/**
 * Decodes one request frame (the bytes after the size prefix). Unknown keys and versions come
 * back as `unsupported` (after the fixed header fields, so the caller can still answer or close);
 * anything malformed throws {@link KafkaProtocolError}.
 */
export function decodeRequest(frame: Uint8Array, elementsMax?: number): DecodedRequest {
  const reader = new Reader(frame, 0, frame.length, elementsMax);
  const apiKey = reader.int16();
  const apiVersion = reader.int16();
  const correlationId = reader.int32();
  const api = findApi(apiKey);
  if (api === undefined || apiVersion < api.versionMin || apiVersion > api.versionMax) {
    return { kind: 'unsupported', header: { apiKey, apiVersion, correlationId, clientId: null }, api };
  }
  const clientId = reader.string(true);
  const flexible = isFlexible(api, apiVersion);
  if (flexible) reader.taggedFields();
  const header: RequestHeader = { apiKey, apiVersion, correlationId, clientId };
  const body = decodeMessage(reader, api.request, apiVersion);
  return { kind: 'request', header, api, body };
}

/** Encodes a request frame with its size prefix (clients, tests, fuzzing). */
export function encodeRequest(header: RequestHeader, body: object): Uint8Array[] {
  const api = findApi(header.apiKey);
  if (api === undefined)
    throw new KafkaProtocolError('KAFKA_UNKNOWN_API', `API key ${header.apiKey} is not implemented`);
  const writer = new Writer();
  writer
    .int32(0)
    .int16(header.apiKey)
    .int16(header.apiVersion)
    .int32(header.correlationId)
    .string(header.clientId);
  if (isFlexible(api, header.apiVersion)) writer.unsignedVarint(0);
  encodeMessage(writer, api.request, body, header.apiVersion);
  return finish(writer);
}

function finish(writer: Writer): Uint8Array[] {
  const chunks = writer.chunks();
  const first = chunks[0]!;
  new DataView(first.buffer, first.byteOffset, 4).setInt32(0, writer.length - 4);
  return chunks;
}

function usesResponseHeaderV1(api: ApiDefinition, version: number): boolean {
  return api.apiKey !== API_KEY.ApiVersions && version >= api.response.flexibleFrom;
}

/** Encodes a response frame (size prefix, header, body) as chunks ready for `writev`. */
export function encodeResponse(
  apiKey: number,
  apiVersion: number,
  correlationId: number,
  body: object,
): Uint8Array[] {
  const api = findApi(apiKey);
  if (api === undefined)
    throw new KafkaProtocolError('KAFKA_UNKNOWN_API', `API key ${apiKey} is not implemented`);
  const writer = new Writer();
  writer.int32(0).int32(correlationId);
  if (usesResponseHeaderV1(api, apiVersion)) writer.unsignedVarint(0);
  encodeMessage(writer, api.response, body, apiVersion);
  return finish(writer);
}

/** Decodes a response frame (after the size prefix) of a known request (clients and tests). */
export function decodeResponse(
  apiKey: number,
  apiVersion: number,
  frame: Uint8Array,
): { readonly correlationId: number; readonly body: unknown } {
  const api = findApi(apiKey);
  if (api === undefined)
    throw new KafkaProtocolError('KAFKA_UNKNOWN_API', `API key ${apiKey} is not implemented`);
  const reader = new Reader(frame);
  const correlationId = reader.int32();
  if (usesResponseHeaderV1(api, apiVersion)) reader.taggedFields();
  return { correlationId, body: decodeMessage(reader, api.response, apiVersion) };
}
