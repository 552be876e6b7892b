#!/usr/bin/env node
/** The `herald` executable: runs the command dispatcher and exits with its code. */
import { run } from '../src/cli.ts';

const code = await run(process.argv.slice(2), {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
});
process.exitCode = code;
