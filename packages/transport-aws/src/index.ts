/**
 * `@herald/transport-aws`: the Herald Transport on AWS SNS + SQS (FIFO). See the README for the
 * mapping, guarantees, limits, what was verified against an emulator and a runnable example.
 */
export { HERALD_ATTRIBUTE } from './attributes.ts';
export { type AwsTransport, type AwsTransportStats, awsTransport } from './aws-transport.ts';
export {
  type AwsCredentials,
  type AwsTransportOptions,
  MESSAGE_BYTES_MAX,
  SNS_MESSAGE_BYTES_MAX,
  VISIBILITY_TIMEOUT_MS_MAX,
  WAIT_TIME_MS_MAX,
} from './options.ts';
export { REROUTE_DELAY_MS_MIN } from './subscription.ts';
