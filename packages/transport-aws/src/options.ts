/** The options of `awsTransport()`, their defaults and their bounds. */
import { ConfigurationError } from '@herald/bus';
import { integerOption, matchingOption, urlOption } from '@herald/bus/internal';

/**
 * Largest message (body + headers + key, see `messageSizeBytes`) that `publish` accepts. SNS and
 * SQS take at most 256 KiB (262,144 bytes) per message, attributes included, and a body that is
 * not SQS-safe text travels base64-encoded (4/3 larger): 190,000 bytes leave room for both.
 */
export const MESSAGE_BYTES_MAX = 190_000;
/** The SNS/SQS limit of one message, and of one `PublishBatch` request, attributes included. */
export const SNS_MESSAGE_BYTES_MAX = 262_144;
/** Most messages in one SNS `PublishBatch` or SQS `ReceiveMessage`/`DeleteMessageBatch` call. */
export const AWS_BATCH_MAX = 10;
/** The longest SQS long poll (`WaitTimeSeconds` 20). */
export const WAIT_TIME_MS_MAX = 20_000;
/** The longest SQS visibility timeout (12 hours). */
export const VISIBILITY_TIMEOUT_MS_MAX = 43_200_000;

/** Static credentials (the emulator's dummy ones, or keys from a secret store). */
export interface AwsCredentials {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly sessionToken?: string;
}

/** Options of `awsTransport()`. Every field is optional. */
export interface AwsTransportOptions {
  /** AWS region (default `AWS_REGION`, then `AWS_DEFAULT_REGION`, then `us-east-1`). */
  readonly region?: string;
  /**
   * Endpoint of both SNS and SQS, for an emulator such as moto (`http://127.0.0.1:4566`).
   * Default: the region's AWS endpoints.
   */
  readonly endpoint?: string;
  /** Static credentials. Default: the AWS SDK's default provider chain (env, profile, IMDS…). */
  readonly credentials?: AwsCredentials;
  /**
   * Prefix of every SNS topic and SQS queue name this transport creates (default `herald-`), so
   * several applications or test runs share an account without colliding.
   */
  readonly namePrefix?: string;
  /**
   * SQS visibility timeout of the group queues (default 30 s; whole seconds, 1 s … 12 h): how long
   * a received message stays hidden from the group. The subscription extends it every third of
   * that while the message is in the process, so a crash returns it after at most this long.
   */
  readonly visibilityTimeoutMs?: number;
  /**
   * Long-poll wait of each `ReceiveMessage` (default 5 s; whole seconds, 0 … 20 s, the SQS maximum).
   * Closing a subscription waits for its receive in progress, so this bounds how long that takes;
   * longer waits cost fewer empty receives.
   */
  readonly waitTimeMs?: number;
  /**
   * Receives of one message after which SQS moves it to the group's dead-letter queue
   * (`<queue>-dlq.fifo`; default 20, 1 … 1000). Herald's own retries dead-letter to the `<topic>.dlq`
   * topic long before that; this catches messages whose consumer keeps crashing.
   */
  readonly maxReceiveCount?: number;
  /** Largest message `publish` accepts (default and most {@link MESSAGE_BYTES_MAX}). */
  readonly messageBytesMax?: number;
  /**
   * Longest a nacked message with a key is held in the process for its delay (default 15 min);
   * longer delays are shortened to it. Keyless messages nacked for 1 s or more are returned to
   * SQS instead (their visibility set to the delay), costing the process nothing.
   */
  readonly holdDelayMsMax?: number;
  /** Attempts of one AWS API call by the SDK, including the first (default 3, 1 … 10). */
  readonly maxAttempts?: number;
  /** Longest one AWS API call may take (default 30 s; a long poll gets `waitTimeMs` more). */
  readonly requestTimeoutMs?: number;
  /** Longest wait after a failed receive before the next (default 5 s; doubling from 100 ms). */
  readonly receiveRetryDelayMsMax?: number;
}

/** Options with every default applied. */
export interface ResolvedOptions {
  readonly region: string;
  readonly endpoint: string | undefined;
  readonly credentials: AwsCredentials | undefined;
  readonly namePrefix: string;
  readonly visibilityTimeoutMs: number;
  readonly waitTimeMs: number;
  readonly maxReceiveCount: number;
  readonly messageBytesMax: number;
  readonly holdDelayMsMax: number;
  readonly maxAttempts: number;
  readonly requestTimeoutMs: number;
  readonly receiveRetryDelayMsMax: number;
}

function wholeSeconds(name: string, value: number): number {
  if (value % 1000 !== 0) {
    throw new ConfigurationError(
      `aws transport: ${name} must be whole seconds (a multiple of 1000), got ${value}`,
    );
  }
  return value;
}

/** Starts every configuration error message. */
const OWNER = 'aws transport';

/** Applies defaults and checks bounds; throws `ConfigurationError` naming the bad option. */
export function resolveOptions(options: AwsTransportOptions, env = process.env): ResolvedOptions {
  const namePrefix = matchingOption(
    OWNER,
    'namePrefix',
    options.namePrefix ?? 'herald-',
    /^[A-Za-z0-9_-]{0,40}$/,
    'at most 40 characters from A-Z a-z 0-9 _ - (SNS topic and SQS queue names allow nothing else)',
  );
  const credentials = options.credentials;
  if (credentials !== undefined && (!credentials.accessKeyId || !credentials.secretAccessKey)) {
    throw new ConfigurationError(
      'aws transport: credentials need accessKeyId and secretAccessKey; omit credentials to use the ' +
        'AWS SDK default provider chain (AWS_ACCESS_KEY_ID, ~/.aws/credentials, instance roles)',
    );
  }
  if (options.endpoint !== undefined)
    urlOption(OWNER, 'endpoint', options.endpoint, [], 'http://127.0.0.1:4566');
  const waitTimeMs = wholeSeconds(
    'waitTimeMs',
    integerOption(OWNER, 'waitTimeMs', options.waitTimeMs, 5_000, 0, WAIT_TIME_MS_MAX),
  );
  return {
    region: options.region ?? (env.AWS_REGION || env.AWS_DEFAULT_REGION || 'us-east-1'),
    endpoint: options.endpoint,
    credentials,
    namePrefix,
    visibilityTimeoutMs: wholeSeconds(
      'visibilityTimeoutMs',
      integerOption(
        OWNER,
        'visibilityTimeoutMs',
        options.visibilityTimeoutMs,
        30_000,
        1_000,
        VISIBILITY_TIMEOUT_MS_MAX,
      ),
    ),
    waitTimeMs,
    maxReceiveCount: integerOption(OWNER, 'maxReceiveCount', options.maxReceiveCount, 20, 1, 1000),
    messageBytesMax: integerOption(
      OWNER,
      'messageBytesMax',
      options.messageBytesMax,
      MESSAGE_BYTES_MAX,
      1,
      MESSAGE_BYTES_MAX,
    ),
    holdDelayMsMax: integerOption(
      OWNER,
      'holdDelayMsMax',
      options.holdDelayMsMax,
      15 * 60_000,
      0,
      12 * 3_600_000,
    ),
    maxAttempts: integerOption(OWNER, 'maxAttempts', options.maxAttempts, 3, 1, 10),
    requestTimeoutMs: integerOption(
      OWNER,
      'requestTimeoutMs',
      options.requestTimeoutMs,
      30_000,
      1_000,
      300_000,
    ),
    receiveRetryDelayMsMax: integerOption(
      OWNER,
      'receiveRetryDelayMsMax',
      options.receiveRetryDelayMsMax,
      5_000,
      100,
      300_000,
    ),
  };
}
