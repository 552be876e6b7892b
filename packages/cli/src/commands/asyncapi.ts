/**
 * `herald asyncapi`: writes the AsyncAPI 3.0 document of the services a module describes (see
 * `asyncApiDocument` in @herald/bus), or with `--check` tells whether a committed copy is current.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { type AsyncApiOptions, asyncApiDocument } from '@herald/bus';
import { type Command, type CommandIo, UsageError } from '../cli.ts';
import { CliError, EXIT } from '../errors.ts';

const USAGE = `Usage: herald asyncapi MODULE [options]

Writes the AsyncAPI 3.0 document (JSON) of the services MODULE describes: channels are topics,
messages are contracts (CloudEvents headers, payload JSON Schema from zod, arktype or valibot),
operations are what each service sends and receives, with Kafka and AMQP bindings.

MODULE exports (as default, or under --export) an AsyncApiOptions object from @herald/bus, or a
function returning one: { title, version, services: [{ name, sends, receives }] }.

Options:
  --export NAME     the export to read (default: default)
  --out FILE        write to FILE instead of stdout
  --check           compare with FILE (--out) instead of writing it; exit 1 when it differs
  -h, --help        show this help

Example:
  herald asyncapi apps/checkout/src/asyncapi.ts --out apps/checkout/asyncapi.json
  herald asyncapi apps/checkout/src/asyncapi.ts --out apps/checkout/asyncapi.json --check
`;

/** The document as the command writes it: two-space JSON and a final newline. */
export async function asyncApiText(options: AsyncApiOptions): Promise<string> {
  return `${JSON.stringify(await asyncApiDocument(options), null, 2)}\n`;
}

async function loadOptions(modulePath: string, exportName: string): Promise<AsyncApiOptions> {
  let module: Record<string, unknown>;
  try {
    module = (await import(pathToFileURL(resolve(modulePath)).href)) as Record<string, unknown>;
  } catch (error) {
    throw new CliError(
      `cannot load ${modulePath}: ${(error as Error).message}; give the path of a module that exports the services`,
      EXIT.notFound,
      { cause: error },
    );
  }
  const exported = module[exportName];
  const value = typeof exported === 'function' ? await (exported as () => unknown)() : exported;
  if (value === null || typeof value !== 'object' || !Array.isArray((value as AsyncApiOptions).services)) {
    throw new UsageError(
      `${modulePath} has no export "${exportName}" with { title, version, services }; ` +
        'export one (or a function returning one), or name it with --export',
    );
  }
  return value as AsyncApiOptions;
}

async function asyncapi(args: readonly string[], io: CommandIo): Promise<number> {
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse(args);
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const [modulePath] = parsed.positionals;
  if (modulePath === undefined || parsed.positionals.length > 1) {
    throw new UsageError('give exactly one MODULE');
  }
  const { out, check } = parsed.values;
  if (check === true && out === undefined) throw new UsageError('--check needs --out FILE to compare with');
  const text = await asyncApiText(await loadOptions(modulePath, parsed.values.export ?? 'default'));
  if (out === undefined) {
    io.stdout(text);
    return EXIT.ok;
  }
  if (check !== true) {
    writeFileSync(out, text);
    return EXIT.ok;
  }
  let committed = '';
  try {
    committed = readFileSync(out, 'utf8');
  } catch {
    // A missing file differs like any other.
  }
  if (committed === text) return EXIT.ok;
  io.stderr(
    `herald asyncapi: ${out} is not the document of ${modulePath}; regenerate it with\n` +
      `  npm run herald -- asyncapi ${modulePath} --out ${out}  (herald asyncapi … where installed)\n`,
  );
  return EXIT.failure;
}

function parse(args: readonly string[]) {
  return parseArgs({
    args: [...args],
    options: { export: { type: 'string' }, out: { type: 'string' }, check: { type: 'boolean' } },
    strict: true,
    allowPositionals: true,
  });
}

/** `herald asyncapi`. */
export const asyncapiCommand: Command = {
  name: 'asyncapi',
  summary: 'write the AsyncAPI 3.0 document of services from their contracts (or --check it)',
  usage: USAGE,
  run: asyncapi,
};
