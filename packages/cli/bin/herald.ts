#!/usr/bin/env node
/** The `herald` executable: runs the command dispatcher and exits with its code. */
import { run } from '../src/cli.ts';

// `herald consume … | head` closes the pipe early: that is a normal way to stop, not an error.
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code === 'EPIPE') process.exit(0);
  throw error;
});

const code = await run(process.argv.slice(2), {
  stdout: (text) => process.stdout.write(text),
  stdoutBytes: (bytes) => process.stdout.write(bytes),
  stderr: (text) => process.stderr.write(text),
  stdoutIsTty: process.stdout.isTTY === true,
  stderrIsTty: process.stderr.isTTY === true,
  columns: process.stderr.columns ?? process.stdout.columns ?? 80,
  env: process.env,
  stdin: process.stdin,
});
process.exitCode = code;
