/**
 * A group member in a process of its own, for the takeover test: subscribes `jobs` as group
 * `workers` and holds (never settles) every message, printing `got <id>` for each, until killed.
 * Arguments: url, keyPrefix, visibilityTimeoutMs.
 */
import { redisTransport } from '@herald/transport-redis';

const [url, keyPrefix, visibility] = process.argv.slice(2);
const transport = await redisTransport({ url, keyPrefix, visibilityTimeoutMs: Number(visibility) });
await transport.subscribe({ topic: 'jobs', group: 'workers', inFlightMax: 64 }, async (message) => {
  console.log(`got ${message.headers['x-conformance-id']}`);
});
console.log('ready');
