/** For sibling Herald packages (transports, conformance), not for applications: may change without notice. */

export { type Deadline, DeadlineSweep } from './deadline-sweep.ts';
export {
  Delivered,
  type DeliveredFields,
  DeliveryWindow,
  type DeliveryWindowSource,
  HANDLED,
  type PendingEntry,
  type WindowMember,
  waitingEntry,
} from './delivery-window.ts';
export { utf8Bytes } from './envelope.ts';
export {
  type KeyedEntry,
  type KeyedEntryState,
  KeyedFifo,
  KeyedFifoEntry,
  type KeyedFifoLimits,
} from './keyed-fifo.ts';
export { assertName, assertTopicName } from './names.ts';
export {
  integerFromEnv,
  integerOption,
  matchingOption,
  numberOption,
  oneOfOption,
  urlOption,
} from './option-checks.ts';
export { murmur2, partitionForKey } from './partitioner.ts';
export { type PatternHost, PatternSubscriber } from './pattern-subscriber.ts';
export { PATTERN_TOPICS_MAX } from './pattern-subscription.ts';
export { publishIdentity } from './publish-identity.ts';
export { DueQueue } from './schedule/due-queue.ts';
export { type RegisteredSubscription, SubscriptionRegistry } from './subscription-registry.ts';
export { TOPIC_LIST_POLL_MS } from './topic-poller.ts';
export { assertSubscribeOptions } from './transport-checks.ts';
export { upcast } from './upcast.ts';
