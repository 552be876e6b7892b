/**
 * ApiVersions Response (Version: 0) => error_code [api_keys]
 *   api_keys => api_key min_version max_version
 * ApiVersions Response (Version: 1-2) => error_code [api_keys] throttle_time_ms
 * ApiVersions Response (Version: 3-4) => error_code [api_keys] throttle_time_ms TAG_BUFFER
 *   (compact array; tagged fields 0 supported_features, 1 finalized_features_epoch,
 *   2 finalized_features, 3 zk_migration_ready are never sent by this server)
 * Always sent with response header v0, and an unsupported request version is answered in the v0 body.
 */
import { array, field, type MessageSchema } from '../../schema.ts';

/** One API's version range. */
export interface ApiVersionRange {
  readonly apiKey: number;
  readonly minVersion: number;
  readonly maxVersion: number;
}

/** ApiVersions response body. */
export interface ApiVersionsResponse {
  readonly errorCode: number;
  readonly apiKeys: readonly ApiVersionRange[];
  readonly throttleTimeMs?: number;
}

export const apiVersionsResponse: MessageSchema = {
  name: 'ApiVersionsResponse',
  flexibleFrom: 3,
  fields: [
    field('errorCode', 'int16', '0+'),
    array(
      'apiKeys',
      [
        field('apiKey', 'int16', '0+'),
        field('minVersion', 'int16', '0+'),
        field('maxVersion', 'int16', '0+'),
      ],
      '0+',
    ),
    field('throttleTimeMs', 'int32', '1+'),
    // Feature flags (KIP-584), tagged: never sent by this server.
    array(
      'supportedFeatures',
      [field('name', 'string', '3+'), field('minVersion', 'int16', '3+'), field('maxVersion', 'int16', '3+')],
      '3+',
      { tag: 0, tagged: '3+' },
    ),
    field('finalizedFeaturesEpoch', 'int64', '3+', { tag: 1, tagged: '3+', default: -1n }),
    array(
      'finalizedFeatures',
      [
        field('name', 'string', '3+'),
        field('maxVersionLevel', 'int16', '3+'),
        field('minVersionLevel', 'int16', '3+'),
      ],
      '3+',
      { tag: 2, tagged: '3+' },
    ),
    field('zkMigrationReady', 'bool', '3+', { tag: 3, tagged: '3+', default: false }),
  ],
};
