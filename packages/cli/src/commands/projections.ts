/**
 * `herald projections`: lists the projections an application module declares, and rebuilds one by
 * replay (`@herald/eventstore`'s `rebuildProjection`: the read model and its checkpoint are reset
 * in one transaction, then every event is applied again). The projections are code, so the command
 * imports the module that declares them.
 */
import { isAbsolute, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import {
  type EventStore,
  openEmbeddedEventStore,
  openPostgresEventStore,
  type Projection,
  type ProjectionTarget,
  rebuildProjection,
} from '@herald/eventstore';
import type { Command, CommandIo } from '../cli.ts';
import { CliError, EXIT, UsageError } from '../errors.ts';
import {
  integerOption,
  type OptionValues,
  parseOptions,
  requiredOption,
  stringOption,
  subcommandOf,
} from '../options.ts';

const USAGE = `Usage: herald projections list --module FILE
       herald projections rebuild NAME --module FILE (--data DIR | --postgres URL) [--table T]

Rebuilds a projection of @herald/eventstore by replay: its read model and checkpoint are reset
in one transaction, then every event of the store is applied again, page by page (each page
commits with its checkpoint, so an interrupted rebuild resumes where it stopped when the
projection runs again). Stop the application's projection while it rebuilds.

FILE is an ES module (.js, or .ts on Node.js 22.18+) that exports
  export const projections = [{ projection, target }, ...];
with each projection's target (sqliteProjectionTarget(db), postgresProjectionTarget(pool)), and
optionally  export async function close() { ... }  to release its connections.

Options:
  --module FILE          the module that exports the projections
  --data DIR             the embedded event store's directory (refused while the application has it open)
  --postgres URL         the PostgreSQL event store (default $DATABASE_URL when --data is absent)
  --table T              its events table (default herald_events)
  --page-count N         events per transaction (default 256)

Examples:
  herald projections list --module ./dist/projections.js
  herald projections rebuild order-summaries --module ./dist/projections.js --data ./data/events
`;

const OPTIONS = {
  module: { type: 'string' },
  postgres: { type: 'string' },
  table: { type: 'string' },
  'page-count': { type: 'string' },
} as const;

interface Registration {
  readonly projection: Projection<unknown>;
  readonly target: ProjectionTarget<unknown>;
}

interface ProjectionModule {
  readonly registrations: readonly Registration[];
  close(): Promise<void>;
}

async function loadModule(file: string): Promise<ProjectionModule> {
  const path = isAbsolute(file) ? file : resolve(file);
  let module: { projections?: unknown; close?: unknown };
  try {
    module = (await import(pathToFileURL(path).href)) as typeof module;
  } catch (error) {
    throw new CliError(`cannot import --module ${file}: ${(error as Error).message}`, EXIT.notFound, {
      cause: error,
    });
  }
  const list = module.projections;
  const valid =
    Array.isArray(list) &&
    list.every(
      (entry) =>
        typeof entry?.projection?.name === 'string' &&
        typeof entry.projection.apply === 'function' &&
        typeof entry?.target?.transaction === 'function',
    );
  if (!valid) {
    throw new UsageError(
      `--module ${file} must export "projections", an array of { projection, target } (see herald projections --help)`,
    );
  }
  const close = module.close;
  return {
    registrations: list as Registration[],
    close: async () => {
      if (typeof close === 'function') await (close as () => Promise<void>)();
    },
  };
}

async function openStore(values: OptionValues, io: CommandIo): Promise<EventStore> {
  const data = stringOption(values, 'data');
  const url = stringOption(values, 'postgres') ?? (data === undefined ? io.env?.DATABASE_URL : undefined);
  const table = stringOption(values, 'table');
  if (data !== undefined && stringOption(values, 'postgres') !== undefined) {
    throw new UsageError('give either --data DIR or --postgres URL, not both');
  }
  if (data !== undefined) return openEmbeddedEventStore({ directory: data });
  if (url === undefined || url === '')
    throw new UsageError('give the event store: --data DIR or --postgres URL');
  return openPostgresEventStore({ connectionString: url, ...(table === undefined ? {} : { table }) });
}

async function projections(args: readonly string[], io: CommandIo): Promise<number> {
  const subcommand = subcommandOf(args, ['list', 'rebuild'], 'projections');
  const { values, positionals } = parseOptions(args.slice(1), OPTIONS, subcommand === 'rebuild' ? 1 : 0);
  const loaded = await loadModule(requiredOption(values, 'module', '--module FILE'));
  try {
    if (subcommand === 'list') {
      for (const { projection, target } of loaded.registrations) {
        io.stdout(`${projection.name}\t${target.name}\t${projection.category ?? '(all streams)'}\n`);
      }
      return EXIT.ok;
    }
    const name = positionals[0];
    if (name === undefined) throw new UsageError('herald projections rebuild needs the projection NAME');
    const found = loaded.registrations.find((entry) => entry.projection.name === name);
    if (found === undefined) {
      const names = loaded.registrations.map((entry) => entry.projection.name).join(', ');
      throw new CliError(
        `no projection "${name}" in the module; it declares: ${names || 'none'}`,
        EXIT.notFound,
      );
    }
    const pageCountMax = integerOption(values, 'page-count', '--page-count', 1, 4096);
    const store = await openStore(values, io);
    try {
      const startedMs = performance.now();
      const head = await store.headPosition();
      await rebuildProjection(
        store,
        found.target,
        found.projection,
        pageCountMax === undefined ? {} : { pageCountMax },
      );
      const elapsedMs = Math.round(performance.now() - startedMs);
      io.stdout(`rebuilt ${name} (${found.target.name}): replayed to position ${head} in ${elapsedMs} ms\n`);
    } finally {
      await store.close();
    }
    return EXIT.ok;
  } finally {
    await loaded.close();
  }
}

/** `herald projections`. */
export const projectionsCommand: Command = {
  name: 'projections',
  summary: 'list the projections of an event-store module; rebuild one by replay',
  usage: USAGE,
  run: projections,
};
