/**
 * The console's produce: checks a request, builds the message with the CLI's own builder (the one
 * `herald produce` uses) and publishes it with the target's publish, so the console has no second
 * write path.
 */
import { uuidv7 } from '@herald/bus';
import { partitionForKey } from '@herald/bus/internal';
import { CliError, EXIT, messageBuilder, type Target } from '@herald/cli/internal';
import type { ProduceRequest, ProduceResult } from './api-types.ts';
import { produceRequestProblems } from './produce-request.ts';

/**
 * Largest produce request body, in bytes: the broker's default largest message (1 MiB) written
 * as hex with spaces is 3 MiB, plus the other fields. Larger values: `herald produce FILE`.
 */
export const PRODUCE_BODY_BYTES_MAX = 3 * 1024 * 1024 + 64 * 1024;

/** The CloudEvents source of events the console wraps. */
const CONSOLE_SOURCE = '/herald/console';

/** The bytes of the form's value: compact JSON, UTF-8 text or hex. */
function valueBytes(request: ProduceRequest): Uint8Array {
  if (request.valueKind === 'json') return Buffer.from(JSON.stringify(JSON.parse(request.value)), 'utf8');
  if (request.valueKind === 'hex') return Buffer.from(request.value.replace(/\s/g, ''), 'hex');
  return Buffer.from(request.value, 'utf8');
}

/**
 * Publishes `body` (a parsed request body) to its topic; a usage CliError listing every problem
 * when it is malformed, a not-found CliError when the topic does not exist.
 */
export async function produceMessage(target: Target, body: unknown): Promise<ProduceResult> {
  const problems = produceRequestProblems(body);
  if (problems.length > 0) throw new CliError(`cannot produce: ${problems.join('; ')}`, EXIT.usage);
  const request = body as ProduceRequest;
  // Throws CLI_NOT_FOUND for a missing topic: the console publishes to existing topics only.
  const info = await target.describeTopic(request.topic);
  const key = request.key === null || request.key === '' ? undefined : request.key;
  const headers = { ...request.headers };
  if (request.newEventId === true && headers.ce_id !== undefined) headers.ce_id = uuidv7();
  const cloudEventType =
    request.cloudEventType === undefined || request.cloudEventType === ''
      ? undefined
      : request.cloudEventType;
  const message = messageBuilder(
    key,
    undefined,
    headers,
    cloudEventType,
    CONSOLE_SOURCE,
  )(valueBytes(request));
  await target.publish(request.topic, [message]);
  return {
    topic: request.topic,
    partition: key === undefined ? null : partitionForKey(key, info.partitions.length),
    sizeBytes: message.value.byteLength,
    eventId: message.headers.ce_id ?? null,
  };
}
