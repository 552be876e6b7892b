/** Turns AWS SDK errors into Herald's typed errors, with messages that say what to do. */
import { ConfigurationError, type HeraldError, TransportError } from '@herald/bus';

const CREDENTIAL_ERRORS = new Set([
  'CredentialsProviderError',
  'InvalidClientTokenId',
  'UnrecognizedClientException',
  'SignatureDoesNotMatch',
  'ExpiredToken',
  'ExpiredTokenException',
  'InvalidSignatureException',
]);
const PERMISSION_ERRORS = new Set(['AuthorizationError', 'AccessDenied', 'AccessDeniedException']);

function codeOf(error: unknown): string {
  const { name, code, Code } = (error ?? {}) as { name?: unknown; code?: unknown; Code?: unknown };
  return String(Code ?? code ?? name ?? '');
}

/** A failed AWS call (`what`, e.g. `create SQS queue "x"`) against `where` as a Herald error. */
export function awsError(error: unknown, what: string, where: string): HeraldError {
  if (error instanceof ConfigurationError || error instanceof TransportError) return error;
  const code = codeOf(error);
  const text = String((error as Error)?.message ?? error);
  if (CREDENTIAL_ERRORS.has(code) || /Could not load credentials/i.test(text)) {
    return new ConfigurationError(
      `aws transport: cannot ${what} at ${where}: no valid AWS credentials (${code}: ${text}). ` +
        'Set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or a profile, or pass credentials in the options',
      { cause: error },
    );
  }
  if (PERMISSION_ERRORS.has(code)) {
    return new ConfigurationError(
      `aws transport: cannot ${what} at ${where}: permission denied (${text}). Grant the caller the SNS ` +
        'and SQS actions listed in the @herald/transport-aws README',
      { cause: error },
    );
  }
  if (
    code === 'QueueAlreadyExists' ||
    code === 'QueueNameExists' ||
    /already exists with different/i.test(text)
  ) {
    return new ConfigurationError(
      `aws transport: cannot ${what} at ${where}: it exists with other settings (${text}). Make ` +
        'visibilityTimeoutMs and maxReceiveCount match what exists, or delete the queue',
      { cause: error },
    );
  }
  if (/ECONNREFUSED/.test(`${code} ${text}`)) {
    return new TransportError(
      `aws transport: cannot ${what}: nothing answers at ${where}. For the local emulator run ` +
        '"npm run setup" (it starts moto_server); otherwise check endpoint and region',
      { retriable: true, cause: error },
    );
  }
  return new TransportError(`aws transport: cannot ${what} at ${where}: ${code ? `${code}: ` : ''}${text}`, {
    retriable: true,
    cause: error,
  });
}

/** A publish SNS did not accept. */
export function publishError(topic: string, reason: string, cause?: unknown): TransportError {
  return new TransportError(
    `aws transport: a message for topic "${topic}" was not accepted by SNS (${reason}); it may or may ` +
      'not have been stored: publish it again (SNS drops an exact copy of a message with a CloudEvents id within 5 minutes)',
    { retriable: true, cause },
  );
}
