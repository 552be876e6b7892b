/**
 * Picks the target from the options and the environment: `--broker` (or `HERALD_BROKER`) talks
 * Kafka protocol; otherwise `--data` (or `HERALD_DATA_DIR`, else `./.herald`) opens the data
 * directory. An explicit `--data` beats `HERALD_BROKER`, so one shell can use both.
 */
import type { CommandIo } from '../cli.ts';
import { type ClientConfig, parseClientConfig } from '../client-config.ts';
import { UsageError } from '../errors.ts';
import { listOption, type OptionValues, stringOption } from '../options.ts';
import type { Target } from './target.ts';

// Loaded on demand: the Kafka client costs about 300 ms of startup that --data never needs.
async function connectBroker(address: string, config: ClientConfig): Promise<Target> {
  return (await import('./kafka.ts')).connectBroker(address, config);
}

async function openDataDirectory(directory: string, create: boolean): Promise<Target> {
  return (await import('./data-dir.ts')).openDataDirectory(directory, create);
}

/** Opens the target of a command; `create` lets a data directory be created (writes). */
export async function openTarget(values: OptionValues, io: CommandIo, create: boolean): Promise<Target> {
  const env = io.env ?? process.env;
  const data = stringOption(values, 'data');
  const broker = stringOption(values, 'broker');
  const config = parseClientConfig(listOption(values, 'config'));
  if (data !== undefined && broker !== undefined) {
    throw new UsageError('give either --data or --broker, not both');
  }
  if (broker !== undefined) return connectBroker(broker, config);
  if (data !== undefined) return openDataDirectory(data, create);
  const envBroker = env.HERALD_BROKER;
  if (envBroker !== undefined && envBroker !== '') return connectBroker(envBroker, config);
  return openDataDirectory(env.HERALD_DATA_DIR ?? './.herald', create);
}

/** Runs `body` with an open target and closes it afterwards, whatever happens. */
export async function withTarget<T>(
  values: OptionValues,
  io: CommandIo,
  create: boolean,
  body: (target: Target) => Promise<T>,
): Promise<T> {
  const target = await openTarget(values, io, create);
  try {
    return await body(target);
  } finally {
    await target.close();
  }
}
