/**
 * Command plugins: a command that lives in a package above the CLI (`herald console` in
 * `@herald/console`, which reads through the CLI's targets). The CLI must not depend on it
 * (dependencies point one way, and a cycle could not be built), so it loads the package by name
 * at run time, when it is installed, and says how to install it when it is not.
 */
import type { Command } from './cli.ts';
import { CliError, EXIT } from './errors.ts';

/** Loads `exportName` of `packageName`; a CliError (exit 5) with the install line when it is missing. */
export async function loadPluginCommand(packageName: string, exportName: string): Promise<Command> {
  let module: Record<string, unknown>;
  try {
    // A variable specifier on purpose: the package is optional and sits above the CLI.
    const specifier: string = packageName;
    module = (await import(specifier)) as Record<string, unknown>;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ERR_MODULE_NOT_FOUND') throw error;
    throw new CliError(
      `this command comes with ${packageName}, which is not installed; run npm install ${packageName}`,
      EXIT.unavailable,
      { cause: error },
    );
  }
  const command = module[exportName] as Command | undefined;
  if (command === undefined) {
    throw new CliError(
      `${packageName} has no ${exportName}; install a version that matches @herald/cli`,
      EXIT.unavailable,
    );
  }
  return command;
}
