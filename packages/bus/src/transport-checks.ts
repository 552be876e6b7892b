/** Argument checks every transport applies to `subscribe`, so all of them fail alike. */
import { ConfigurationError } from './errors.ts';
import { assertName, assertTopicName } from './names.ts';
import { assertTopicPattern, isTopicPattern } from './topic-pattern.ts';
import { IN_FLIGHT_MAX, type SubscribeOptions } from './transport.ts';

/**
 * Throws a {@link ConfigurationError} for an illegal topic, group or in-flight bound. A topic
 * pattern passes only when `patterns` is true (the transport supports them).
 */
export function assertSubscribeOptions(options: SubscribeOptions, patterns = false): void {
  if (patterns && typeof options.topic === 'string' && isTopicPattern(options.topic)) {
    assertTopicPattern(options.topic, 'subscribe');
  } else {
    assertTopicName(options.topic, 'subscribe');
  }
  assertName(options.group, 'group', 'subscribe');
  if (
    !Number.isSafeInteger(options.inFlightMax) ||
    options.inFlightMax < 1 ||
    options.inFlightMax > IN_FLIGHT_MAX
  ) {
    throw new ConfigurationError(
      `subscribe: inFlightMax must be an integer from 1 to ${IN_FLIGHT_MAX}, got ${options.inFlightMax}`,
    );
  }
}
