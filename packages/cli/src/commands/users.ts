/**
 * `herald users add|remove|list`: the SASL users of a data directory, as `herald serve --sasl`
 * authenticates them. Passwords are read from standard input (never from the command line, where
 * other users of the machine could see them in the process list) and stored only as salted
 * SCRAM-SHA-256 and SCRAM-SHA-512 credentials. A running server sees changes at the next login.
 */
import { parseArgs } from 'node:util';
import {
  addUser,
  listUsers,
  removeUser,
  SCRAM_ITERATIONS_MAX,
  SCRAM_ITERATIONS_MIN,
  usersFile,
} from '@herald/kafka-server';
import { type Command, type CommandIo, UsageError } from '../cli.ts';
import { CliError, EXIT } from '../errors.ts';

const USAGE = `Usage: herald users <add|remove|list> [NAME] [options]

Manages the SASL users of a data directory (DIR/security/users.json) for \`herald serve --sasl\`.
Passwords are read from the first line of standard input and stored only as salted SCRAM
credentials (SHA-256 and SHA-512); PLAIN logins are checked against them too.

Commands:
  add NAME               add NAME, or change its password
  remove NAME            remove NAME (its open connections stay until they close)
  list                   print the user names, one per line

Options:
  --data DIR             data directory (default $HERALD_DATA_DIR or ./.herald)
  --iterations N         PBKDF2 iterations of new credentials (${SCRAM_ITERATIONS_MIN} to ${SCRAM_ITERATIONS_MAX}; default ${SCRAM_ITERATIONS_MIN})
  -h, --help             show this help

Example:
  echo 's3cret' | herald users add alice --data ./data
  herald users list --data ./data
`;

/** Longest password line read from standard input. */
const PASSWORD_BYTES_MAX = 1024;

async function readPassword(io: CommandIo): Promise<string> {
  const stdin = io.stdin ?? process.stdin;
  let text = '';
  for await (const chunk of stdin) {
    text += typeof chunk === 'string' ? chunk : Buffer.from(chunk as Uint8Array).toString('utf8');
    if (text.includes('\n') || text.length > PASSWORD_BYTES_MAX) break;
  }
  const password = text.split(/\r?\n/)[0] ?? '';
  if (password.length === 0 || password.length > PASSWORD_BYTES_MAX) {
    throw new UsageError(`give the password (1 to ${PASSWORD_BYTES_MAX} characters) on standard input`);
  }
  return password;
}

async function users(args: readonly string[], io: CommandIo): Promise<number> {
  let values: Record<string, string | boolean | undefined>;
  let positionals: string[];
  try {
    ({ values, positionals } = parseArgs({
      args: [...args],
      options: { data: { type: 'string' }, iterations: { type: 'string' } },
      strict: true,
      allowPositionals: true,
    }));
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const env = io.env ?? process.env;
  const dir = (values.data as string | undefined) ?? env.HERALD_DATA_DIR ?? './.herald';
  const [action, name, ...rest] = positionals;
  if (rest.length > 0) throw new UsageError(`unexpected arguments: ${rest.join(' ')}`);
  switch (action) {
    case 'list': {
      for (const user of await listUsers(dir)) io.stdout(`${user}\n`);
      return EXIT.ok;
    }
    case 'add': {
      if (name === undefined) throw new UsageError('herald users add needs a user name');
      const iterationsText = values.iterations as string | undefined;
      const iterations = iterationsText === undefined ? SCRAM_ITERATIONS_MIN : Number(iterationsText);
      const added = await addUser(dir, name, await readPassword(io), iterations);
      io.stdout(
        `herald users: ${added ? 'added' : 'changed the password of'} ${name} in ${usersFile(dir)}\n`,
      );
      return EXIT.ok;
    }
    case 'remove': {
      if (name === undefined) throw new UsageError('herald users remove needs a user name');
      if (!(await removeUser(dir, name))) {
        throw new CliError(`no user "${name}" in ${usersFile(dir)}; see herald users list`, EXIT.notFound);
      }
      io.stdout(`herald users: removed ${name}\n`);
      return EXIT.ok;
    }
    default:
      throw new UsageError('herald users needs add, remove or list');
  }
}

/** The `users` command. */
export const usersCommand: Command = {
  name: 'users',
  summary: 'add, remove and list the SASL users of herald serve (salted SCRAM credentials)',
  usage: USAGE,
  run: users,
};
