/**
 * ApiVersions (0-3): the advertised ranges of every implemented API, and nothing else (clients
 * infer broker features from what is advertised; see docs/kafka-api-status.md).
 */
import { APIS, type ApiVersionsResponse, ERROR_CODE } from '@herald/kafka-protocol';

const ranges = APIS.map((api) => ({
  apiKey: api.apiKey,
  minVersion: api.versionMin,
  maxVersion: api.versionMax,
}));

/** The ApiVersions answer; `errorCode` UNSUPPORTED_VERSION is sent in a v0 body by the caller. */
export function apiVersionsResponse(errorCode: number = ERROR_CODE.NONE): ApiVersionsResponse {
  return { errorCode, apiKeys: ranges, throttleTimeMs: 0 };
}
