/**
 * Per-topic log settings: which ones a topic may override, their bounds, and how they are stored
 * in the topic's metadata file (JSON has no Infinity, so it is stored as null).
 */
import { ConfigurationError } from '@herald/bus';
import { BrokerCorruptError } from './errors.ts';

/**
 * Log settings of one topic that override the broker's, set when the topic is created and stored
 * with it (they apply again after a restart). Sizes are bytes, durations milliseconds; `Infinity`
 * means no limit where the log allows it.
 */
export interface TopicConfig {
  /** Delete closed segments whose newest record is older than this (Infinity: keep). */
  readonly retentionMs?: number;
  /** Delete the oldest closed segments while a partition is larger than this (Infinity: no limit). */
  readonly retentionBytes?: number;
  /** Roll to a new segment before one would exceed this size (at most 2^31 - 1). */
  readonly segmentBytesMax?: number;
  /** Roll a non-empty segment this long after its first append (Infinity: never by age). */
  readonly segmentAgeMsMax?: number;
  /** Largest stored batch (at most 2^31 - 1); records up to this size are accepted too. */
  readonly batchBytesMax?: number;
}

const TOPIC_CONFIG_KEYS = [
  'retentionMs',
  'retentionBytes',
  'segmentBytesMax',
  'segmentAgeMsMax',
  'batchBytesMax',
] as const;
/** Settings whose value may be Infinity. */
const TOPIC_CONFIG_UNBOUNDED = new Set<string>(['retentionMs', 'retentionBytes', 'segmentAgeMsMax']);
/** Largest size the log takes for a segment or a batch. */
const TOPIC_CONFIG_BYTES_LIMIT = 2 ** 31 - 1;

/** Throws {@link ConfigurationError} naming the first setting of `config` the log cannot take. */
export function checkTopicConfig(config: TopicConfig, context: string): void {
  for (const [key, value] of Object.entries(config)) {
    if (!(TOPIC_CONFIG_KEYS as readonly string[]).includes(key)) {
      throw new ConfigurationError(`${context}: unknown topic setting ${key}`);
    }
    const unbounded = TOPIC_CONFIG_UNBOUNDED.has(key) && value === Number.POSITIVE_INFINITY;
    const bounded =
      Number.isSafeInteger(value) &&
      value >= 1 &&
      (!key.endsWith('BytesMax') || value <= TOPIC_CONFIG_BYTES_LIMIT);
    if (!unbounded && !bounded) {
      throw new ConfigurationError(
        `${context}: ${key} must be a positive integer${key.endsWith('BytesMax') ? ' up to 2^31 - 1' : ''}${TOPIC_CONFIG_UNBOUNDED.has(key) ? ' or Infinity' : ''}, got ${String(value)}`,
      );
    }
  }
}

/** The config as stored in topic metadata: Infinity, which JSON lacks, as null. */
export function storedTopicConfig(config: TopicConfig): Record<string, number | null> {
  return Object.fromEntries(
    Object.entries(config).map(([key, value]) => [key, value === Number.POSITIVE_INFINITY ? null : value]),
  );
}

/** The config of a topic metadata file (`file`, for messages); throws BrokerCorruptError when damaged. */
export function loadedTopicConfig(stored: unknown, file: string): TopicConfig {
  if (stored === undefined) return {}; // written before topics had settings
  if (typeof stored !== 'object' || stored === null || Array.isArray(stored)) {
    throw new BrokerCorruptError(`${file} has a config that is not an object; restore it from a backup`);
  }
  const config = Object.fromEntries(
    Object.entries(stored).map(([key, value]) => [key, value === null ? Number.POSITIVE_INFINITY : value]),
  ) as TopicConfig;
  try {
    checkTopicConfig(config, file);
  } catch (error) {
    throw new BrokerCorruptError(`${(error as Error).message}; restore the file from a backup`);
  }
  return config;
}
