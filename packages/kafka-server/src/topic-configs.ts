/**
 * Kafka topic configs of CreateTopics, mapped to the broker's per-topic log settings. Configs the
 * log supports are applied (and stored with the topic); configs whose only meaningful value is
 * what Herald does anyway are accepted with that value; anything else is INVALID_CONFIG with a
 * message, as Kafka answers an unknown config name or a value it cannot parse. Values are parsed
 * as Kafka parses them (trimmed, decimal, within the config's range).
 */
import type { TopicConfig } from '@herald/broker';

/** The configs applied to the log, with the setting each one becomes. */
export const APPLIED_TOPIC_CONFIGS = [
  'retention.ms',
  'retention.bytes',
  'segment.bytes',
  'segment.ms',
  'max.message.bytes',
  'cleanup.policy',
] as const;

/** Configs accepted only with the value that describes what Herald does anyway. */
const FIXED_TOPIC_CONFIGS: Readonly<Record<string, string>> = {
  'compression.type': 'producer',
  'min.insync.replicas': '1',
  'message.timestamp.type': 'CreateTime',
};

const INT32_MAX = 2 ** 31 - 1;
const INT64_MAX = 2n ** 63n - 1n;

/** Kafka's LONG / INT parse: a trimmed decimal in [min, max], or an error message. */
function parseInteger(name: string, text: string, min: bigint, max: bigint): bigint | string {
  const trimmed = text.trim();
  if (!/^[+-]?\d{1,19}$/.test(trimmed)) {
    return `Invalid value ${text} for configuration ${name}: Not a number of type ${max > INT32_MAX ? 'LONG' : 'INT'}`;
  }
  const value = BigInt(trimmed);
  if (value < min || value > max) {
    return `Invalid value ${text} for configuration ${name}: Value must be at least ${min}${max < INT64_MAX ? ` and at most ${max}` : ''}`;
  }
  return value;
}

/** A LONG limit where -1 means none: Infinity; 0, which the log cannot hold, as the smallest limit. */
function unboundedLimit(value: bigint): number {
  if (value < 0n || value > BigInt(Number.MAX_SAFE_INTEGER)) return Number.POSITIVE_INFINITY;
  return Math.max(1, Number(value));
}

/**
 * Parses CreateTopics configs into the broker's settings, or the INVALID_CONFIG message for the
 * first one that cannot be applied.
 */
export function parseTopicConfigs(
  configs: readonly { readonly name: string; readonly value: string | null }[],
): { config: TopicConfig } | { error: string } {
  const config: { -readonly [Key in keyof TopicConfig]: TopicConfig[Key] } = {};
  for (const { name, value } of configs) {
    if (value === null) return { error: `Null value not supported for topic configs: ${name}` };
    let parsed: bigint | string = 0n;
    switch (name) {
      case 'retention.ms':
      case 'retention.bytes':
        parsed = parseInteger(name, value, -1n, INT64_MAX);
        if (typeof parsed === 'bigint') {
          config[name === 'retention.ms' ? 'retentionMs' : 'retentionBytes'] = unboundedLimit(parsed);
        }
        break;
      case 'segment.bytes':
        // Kafka's lower bound (LegacyRecord.RECORD_OVERHEAD_V0).
        parsed = parseInteger(name, value, 14n, BigInt(INT32_MAX));
        if (typeof parsed === 'bigint') config.segmentBytesMax = Number(parsed);
        break;
      case 'segment.ms':
        parsed = parseInteger(name, value, 1n, INT64_MAX);
        if (typeof parsed === 'bigint') config.segmentAgeMsMax = unboundedLimit(parsed);
        break;
      case 'max.message.bytes':
        // Kafka allows 0 (nothing can be produced); the log needs a positive size.
        parsed = parseInteger(name, value, 1n, BigInt(INT32_MAX));
        if (typeof parsed === 'bigint') config.batchBytesMax = Number(parsed);
        break;
      case 'cleanup.policy': {
        const policies = value.split(',').map((policy) => policy.trim());
        if (policies.some((policy) => policy !== 'delete' && policy !== 'compact')) {
          return { error: `Invalid value ${value} for configuration cleanup.policy: use delete` };
        }
        if (policies.includes('compact')) {
          return {
            error:
              'cleanup.policy=compact is not supported: the log deletes old segments, it does not compact',
          };
        }
        break;
      }
      default: {
        const fixed = FIXED_TOPIC_CONFIGS[name];
        if (fixed === undefined) {
          return {
            error: `Unknown or unsupported topic config name: ${name}; supported: ${[...APPLIED_TOPIC_CONFIGS, ...Object.keys(FIXED_TOPIC_CONFIGS)].join(', ')}`,
          };
        }
        if (value.trim() !== fixed) {
          return { error: `Invalid value ${value} for configuration ${name}: only ${fixed} is supported` };
        }
      }
    }
    if (typeof parsed === 'string') return { error: parsed };
  }
  return { config };
}
