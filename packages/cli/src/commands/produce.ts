/**
 * `herald produce`: one message per line of stdin or a file, like `kcat -P`. Lines are published
 * in batches (one fsync per batch on a data directory, one request on a broker); a file gets a
 * progress bar on a terminal. Ctrl-C stops after the batch in flight, which stays published.
 */
import { createReadStream } from 'node:fs';
import fs from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { encodeEnvelope, uuidv7 } from '@herald/bus';
import type { Command, CommandIo } from '../cli.ts';
import { CliError, EXIT, UsageError } from '../errors.ts';
import { onInterrupt } from '../interrupt.ts';
import { COMMON_USAGE, listOption, parseOptions, requiredOption, stringOption } from '../options.ts';
import { startProgress } from '../progress.ts';
import { withTarget } from '../targets/open.ts';
import type { OutgoingMessage } from '../targets/target.ts';
import { outputFor } from '../terminal.ts';

const USAGE = `Usage: herald produce -t TOPIC [options] [< lines]

Publishes one message per line of stdin (or of --file). Empty lines are skipped.

Options:
  -t, --topic TOPIC      topic to publish to (created when the target auto-creates topics)
  -k, --key KEY          key of every message (same key, same partition, in order)
  -K, --key-delimiter D  split each line at the first D into key and value (kcat -K)
  -H, --header K=V       add a header (repeatable)
  --cloudevent TYPE      wrap each line as a CloudEvent of TYPE (binary mode, ce_* headers);
                         a line that is JSON becomes the data, any other line a JSON string
  --source URI           CloudEvents source (default /herald/cli)
  -f, --file FILE        read FILE instead of stdin (with a progress bar on a terminal)
  --batch N              messages per publish (default 500)
${COMMON_USAGE}
Examples:
  echo '{"id":42}' | herald produce -t orders -k order-42 --data ./data
  seq 1 1000 | herald produce -t numbers -H source=seq --broker 127.0.0.1:9092
  herald produce -t orders --cloudevent OrderCreated -f orders.jsonl
  printf 'k1:v1\\nk2:v2\\n' | herald produce -t pairs -K :
`;

const OPTIONS = {
  topic: { type: 'string', short: 't' },
  key: { type: 'string', short: 'k' },
  'key-delimiter': { type: 'string', short: 'K' },
  header: { type: 'string', short: 'H', multiple: true },
  cloudevent: { type: 'string' },
  source: { type: 'string' },
  file: { type: 'string', short: 'f' },
  batch: { type: 'string' },
} as const;

/** Bytes of messages one publish carries at most, under the broker's 4 MiB append split. */
const BATCH_BYTES_MAX = 1024 * 1024;
/** A partial batch is published once no line arrived for this long. */
const IDLE_FLUSH_MS = 50;

function parseHeaders(entries: readonly string[]): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const entry of entries) {
    const split = entry.indexOf('=');
    if (split <= 0) throw new UsageError(`-H ${entry}: a header is NAME=VALUE`);
    headers[entry.slice(0, split)] = entry.slice(split + 1);
  }
  return headers;
}

/** Builds the message of one line. */
function messageBuilder(
  key: string | undefined,
  delimiter: string | undefined,
  headers: Record<string, string>,
  cloudEventType: string | undefined,
  source: string,
): (line: string) => OutgoingMessage {
  return (line) => {
    let value = line;
    let messageKey = key;
    if (delimiter !== undefined) {
      const split = line.indexOf(delimiter);
      if (split >= 0) {
        messageKey = line.slice(0, split);
        value = line.slice(split + delimiter.length);
      }
    }
    if (cloudEventType === undefined) {
      return { key: messageKey, headers, value: Buffer.from(value, 'utf8') };
    }
    let data: unknown;
    try {
      data = JSON.parse(value);
    } catch {
      data = value;
    }
    const encoded = encodeEnvelope({
      specversion: '1.0',
      id: uuidv7(),
      source,
      type: cloudEventType,
      time: new Date().toISOString(),
      datacontenttype: 'application/json',
      dataversion: 1,
      ...(messageKey === undefined ? {} : { partitionkey: messageKey }),
      extensions: {},
      data,
    });
    return { key: messageKey, headers: { ...encoded.headers, ...headers }, value: encoded.body };
  };
}

async function produce(args: readonly string[], io: CommandIo): Promise<number> {
  const { values } = parseOptions(args, OPTIONS);
  const output = outputFor(values, io);
  const topic = requiredOption(values, 'topic', '-t TOPIC');
  const batchSize = Number(stringOption(values, 'batch') ?? '500');
  if (!Number.isSafeInteger(batchSize) || batchSize < 1 || batchSize > 100_000) {
    throw new UsageError('--batch must be a whole number from 1 to 100000');
  }
  const build = messageBuilder(
    stringOption(values, 'key'),
    stringOption(values, 'key-delimiter'),
    parseHeaders(listOption(values, 'header')),
    stringOption(values, 'cloudevent'),
    stringOption(values, 'source') ?? '/herald/cli',
  );
  const file = stringOption(values, 'file');
  let totalBytes = 0;
  if (file !== undefined) {
    try {
      totalBytes = (await fs.stat(file)).size;
    } catch (error) {
      throw new CliError(`cannot read ${file}: ${(error as Error).message}`, EXIT.notFound);
    }
  }
  return withTarget(values, io, true, async (target) => {
    const interrupt = onInterrupt();
    const input = file === undefined ? (io.stdin ?? process.stdin) : createReadStream(file);
    const lines = createInterface({ input, crlfDelay: Number.POSITIVE_INFINITY });
    const progress =
      file === undefined ? undefined : startProgress(output, `produce ${topic}`, totalBytes, 'bytes');
    let sent = 0;
    let readBytes = 0;
    let batch: OutgoingMessage[] = [];
    let batchBytes = 0;
    // Publishes run one after another on this chain, so order holds and a failure stops the loop.
    let publishing: Promise<void> = Promise.resolve();
    let failure: unknown;
    const flush = (): Promise<void> => {
      if (batch.length === 0) return publishing;
      const messages = batch;
      const bytesDone = readBytes;
      batch = [];
      batchBytes = 0;
      publishing = publishing.then(async () => {
        if (failure !== undefined) return;
        try {
          await target.publish(topic, messages);
          sent += messages.length;
          progress?.update(bytesDone);
        } catch (error) {
          failure = error;
          lines.close();
        }
      });
      return publishing;
    };
    // A line typed at a terminal (or trickling from a pipe) is published once input pauses,
    // instead of waiting for a full batch.
    let idleTimer: NodeJS.Timeout | undefined;
    try {
      interrupt.signal.addEventListener('abort', () => lines.close(), { once: true });
      for await (const line of lines) {
        clearTimeout(idleTimer);
        readBytes += Buffer.byteLength(line) + 1;
        if (line === '') continue;
        const message = build(line);
        batch.push(message);
        batchBytes += message.value.byteLength;
        if (batch.length >= batchSize || batchBytes >= BATCH_BYTES_MAX) await flush();
        else idleTimer = setTimeout(flush, IDLE_FLUSH_MS);
        if (interrupt.signal.aborted || failure !== undefined) break;
      }
      clearTimeout(idleTimer);
      await flush();
    } finally {
      clearTimeout(idleTimer);
      progress?.finish();
      interrupt.dispose();
      lines.close();
    }
    if (failure !== undefined) throw failure;
    if (output.json) output.jsonLine({ topic, produced: sent, interrupted: interrupt.signal.aborted });
    else output.log(`produced ${sent} message${sent === 1 ? '' : 's'} to ${topic} on ${target.description}`);
    return interrupt.signal.aborted ? EXIT.interrupted : EXIT.ok;
  });
}

/** The `produce` command. */
export const produceCommand: Command = {
  name: 'produce',
  summary: 'publish lines of stdin or a file as messages (keys, headers, CloudEvents)',
  usage: USAGE,
  run: produce,
};
