/**
 * `herald produce`: `kcat -P` for Herald. One message per line of stdin, or per line of one file
 * with `-l FILE`, or one message per whole file (`herald produce -t T a.json b.json`), as kcat
 * reads them. Lines are published in batches (one fsync per batch on a data directory, one
 * request on a broker); a file read line by line gets a progress bar on a terminal. Ctrl-C stops
 * after the batch in flight, which stays published.
 */
import { createReadStream } from 'node:fs';
import fs from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { encodeEnvelope, uuidv7 } from '@herald/bus';
import type { Command, CommandIo } from '../cli.ts';
import { CliError, EXIT, UsageError } from '../errors.ts';
import { onInterrupt } from '../interrupt.ts';
import {
  COMMON_USAGE,
  listOption,
  type OptionValues,
  parseOptions,
  requiredOption,
  stringOption,
} from '../options.ts';
import { startProgress } from '../progress.ts';
import { withTarget } from '../targets/open.ts';
import type { OutgoingMessage, Target } from '../targets/target.ts';
import { type Output, outputFor } from '../terminal.ts';

const USAGE = `Usage: herald produce -t TOPIC [options] [FILE…] [< lines]

Publishes as kcat -P does: one message per line of stdin (empty lines are skipped), or with
-l FILE one message per line of FILE, or one message per FILE holding the whole file.

Options:
  -t, --topic TOPIC      topic to publish to (created when the target auto-creates topics)
  -k, --key KEY          key of every message (same key, same partition, in order)
  -K, --key-delimiter D  split each line at the first D into key and value (kcat -K)
  -H, --header K=V       add a header (repeatable)
  --cloudevent TYPE      wrap each line as a CloudEvent of TYPE (binary mode, ce_* headers);
                         a line that is JSON becomes the data, any other line a JSON string
  --source URI           CloudEvents source (default /herald/cli)
  -l, --lines            FILE is read line by line (one file; a progress bar on a terminal)
  --batch N              messages per publish (default 500)
  -q, --quiet            no summary on stderr
${COMMON_USAGE}
Examples:
  echo '{"id":42}' | herald produce -t orders -k order-42 --data ./data
  seq 1 1000 | herald produce -t numbers -H source=seq --broker 127.0.0.1:9092
  herald produce -t orders --cloudevent OrderCreated -l orders.jsonl
  herald produce -t documents -k doc-1 report.json
  printf 'k1:v1\\nk2:v2\\n' | herald produce -t pairs -K :
`;

const OPTIONS = {
  topic: { type: 'string', short: 't' },
  key: { type: 'string', short: 'k' },
  'key-delimiter': { type: 'string', short: 'K' },
  header: { type: 'string', short: 'H', multiple: true },
  cloudevent: { type: 'string' },
  source: { type: 'string' },
  lines: { type: 'boolean', short: 'l' },
  batch: { type: 'string' },
  quiet: { type: 'boolean', short: 'q' },
  // Not a produce option: declared to say what to use instead (kcat's -f formats consumer output).
  format: { type: 'string', short: 'f' },
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

/**
 * Builds the message of one line (text) or of one whole file (bytes): the key (or the part before
 * `delimiter`), the headers, and with `cloudEventType` the value wrapped as a binary-mode
 * CloudEvent. Shared with `@herald/console`'s produce form, so both write the same messages.
 */
export function messageBuilder(
  key: string | undefined,
  delimiter: string | undefined,
  headers: Record<string, string>,
  cloudEventType: string | undefined,
  source: string,
): (input: string | Uint8Array) => OutgoingMessage {
  return (input) => {
    let value = input;
    let messageKey = key;
    if (delimiter !== undefined && typeof input === 'string') {
      const split = input.indexOf(delimiter);
      if (split >= 0) {
        messageKey = input.slice(0, split);
        value = input.slice(split + delimiter.length);
      }
    }
    if (cloudEventType === undefined) {
      return {
        key: messageKey,
        headers,
        value: typeof value === 'string' ? Buffer.from(value, 'utf8') : value,
      };
    }
    const text = typeof value === 'string' ? value : Buffer.from(value).toString('utf8');
    let data: unknown;
    try {
      data = JSON.parse(text);
    } catch {
      data = text;
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

/** Where the messages come from: lines of stdin or of one file (`-l`), or whole files. */
type Input =
  | { readonly kind: 'lines'; readonly file: string | undefined }
  | { readonly kind: 'files'; readonly files: readonly string[] };

function inputOf(values: OptionValues, positionals: readonly string[]): Input {
  if (stringOption(values, 'format') !== undefined) {
    throw new UsageError(
      '-f is the output format of herald consume (as in kcat); produce reads files given as ' +
        'arguments: herald produce -t TOPIC FILE (one message per file) or -l FILE (one per line)',
    );
  }
  if (values.lines === true) {
    if (positionals.length !== 1) throw new UsageError('-l reads one FILE line by line: give exactly one');
    return { kind: 'lines', file: positionals[0] };
  }
  return positionals.length === 0
    ? { kind: 'lines', file: undefined }
    : { kind: 'files', files: positionals };
}

/** Bytes of each file, checked before the target opens (a missing file exits 3 with nothing sent). */
async function fileSizes(files: readonly string[]): Promise<number[]> {
  const sizes: number[] = [];
  for (const file of files) {
    try {
      sizes.push((await fs.stat(file)).size);
    } catch (error) {
      throw new CliError(`cannot read ${file}: ${(error as Error).message}`, EXIT.notFound);
    }
  }
  return sizes;
}

/** Publishes lines of stdin or of one file in batches; resolves how many were sent. */
async function produceLines(
  target: Target,
  topic: string,
  file: string | undefined,
  totalBytes: number,
  settings: { build: (line: string) => OutgoingMessage; batchSize: number; output: Output; io: CommandIo },
  signal: AbortSignal,
): Promise<number> {
  const { build, batchSize, output, io } = settings;
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
    signal.addEventListener('abort', () => lines.close(), { once: true });
    for await (const line of lines) {
      clearTimeout(idleTimer);
      readBytes += Buffer.byteLength(line) + 1;
      if (line === '') continue;
      const message = build(line);
      batch.push(message);
      batchBytes += message.value.byteLength;
      if (batch.length >= batchSize || batchBytes >= BATCH_BYTES_MAX) await flush();
      else idleTimer = setTimeout(flush, IDLE_FLUSH_MS);
      if (signal.aborted || failure !== undefined) break;
    }
    clearTimeout(idleTimer);
    await flush();
  } finally {
    clearTimeout(idleTimer);
    progress?.finish();
    lines.close();
  }
  if (failure !== undefined) throw failure;
  return sent;
}

/** Publishes each file as one message (kcat -P FILE…), in order; resolves how many were sent. */
async function produceFiles(
  target: Target,
  topic: string,
  files: readonly string[],
  build: (content: Uint8Array) => OutgoingMessage,
  signal: AbortSignal,
): Promise<number> {
  let sent = 0;
  for (const file of files) {
    if (signal.aborted) break;
    let content: Uint8Array;
    try {
      content = await fs.readFile(file);
    } catch (error) {
      throw new CliError(`cannot read ${file}: ${(error as Error).message}`, EXIT.notFound);
    }
    await target.publish(topic, [build(content)]);
    sent += 1;
  }
  return sent;
}

async function produce(args: readonly string[], io: CommandIo): Promise<number> {
  const { values, positionals } = parseOptions(args, OPTIONS, Number.POSITIVE_INFINITY);
  const output = outputFor(values, io);
  const topic = requiredOption(values, 'topic', '-t TOPIC');
  const input = inputOf(values, positionals);
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
  const sizes = await fileSizes(
    input.kind === 'files' ? input.files : input.file === undefined ? [] : [input.file],
  );
  return withTarget(values, io, true, async (target) => {
    const interrupt = onInterrupt();
    let sent: number;
    try {
      sent =
        input.kind === 'files'
          ? await produceFiles(target, topic, input.files, build, interrupt.signal)
          : await produceLines(
              target,
              topic,
              input.file,
              sizes[0] ?? 0,
              { build, batchSize, output, io },
              interrupt.signal,
            );
    } finally {
      interrupt.dispose();
    }
    if (output.json) output.jsonLine({ topic, produced: sent, interrupted: interrupt.signal.aborted });
    else if (values.quiet !== true) {
      output.log(`produced ${sent} message${sent === 1 ? '' : 's'} to ${topic} on ${target.description}`);
    }
    return interrupt.signal.aborted ? EXIT.interrupted : EXIT.ok;
  });
}

/** The `produce` command. */
export const produceCommand: Command = {
  name: 'produce',
  summary: 'publish lines of stdin, or files (kcat -P): keys, headers, CloudEvents',
  usage: USAGE,
  run: produce,
};
