/**
 * What sibling packages share with the CLI and applications must not use: the targets, the topic
 * reader, positions, lag and dead letters. `@herald/console` reads the broker through these, so
 * the console and the CLI have one implementation of reading.
 */
export type { Command, CommandIo } from './cli.ts';
export { messageBuilder } from './commands/produce.ts';
export {
  type DeadLetterEntry,
  type DeadLetterFilter,
  deadLetterTopicOf,
  originalOf,
  pendingDeadLetters,
  redriveOne,
} from './dead-letters.ts';
export { CliError, EXIT, UsageError } from './errors.ts';
export { cloudEventOf, headerMap } from './format.ts';
export { lagOf, type PartitionLag, totals } from './lag.ts';
export {
  integerOption,
  type OptionValues,
  parseOptions,
  stringOption,
  TARGET_USAGE,
} from './options.ts';
export { type Position, parsePosition, parseTime, resolvePosition } from './positions.ts';
export { type ReadOptions, readTopic } from './reader.ts';
export { targetOfBroker } from './targets/data-dir.ts';
export { openTarget, withTarget } from './targets/open.ts';
export type {
  ConsumedRecord,
  FetchResult,
  GroupKind,
  GroupListing,
  GroupPosition,
  OutgoingMessage,
  PartitionInfo,
  Target,
  TopicInfo,
} from './targets/target.ts';
