/**
 * ApiVersions Request (Version: 0-2) =>
 * ApiVersions Request (Version: 3-4) => client_software_name client_software_version TAG_BUFFER
 * (v4 only lifts a restriction on supported feature versions; the layout is the same.)
 *   client_software_name => COMPACT_STRING
 *   client_software_version => COMPACT_STRING
 */
import { field, type MessageSchema } from '../../schema.ts';

/** ApiVersions request body. */
export interface ApiVersionsRequest {
  readonly clientSoftwareName: string;
  readonly clientSoftwareVersion: string;
}

export const apiVersionsRequest: MessageSchema = {
  name: 'ApiVersionsRequest',
  flexibleFrom: 3,
  fields: [field('clientSoftwareName', 'string', '3+'), field('clientSoftwareVersion', 'string', '3+')],
};
