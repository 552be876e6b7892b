/**
 * Clean-up when the test process exits, in a fixed order: first every child process still running
 * is killed, then the temporary directories are removed (the children may be using them). At
 * `exit` only synchronous work runs, so both steps are synchronous.
 */

/** The order of the clean-up steps: children before directories. */
export type ExitStep = 'kill-children' | 'remove-directories';

const steps: Record<ExitStep, (() => void)[]> = { 'kill-children': [], 'remove-directories': [] };
let registered = false;

/** Runs `cleanup` when the process exits, in `step`'s place of the order. */
export function atExit(step: ExitStep, cleanup: () => void): void {
  steps[step].push(cleanup);
  if (registered) return;
  registered = true;
  process.once('exit', () => {
    for (const name of ['kill-children', 'remove-directories'] as const) {
      for (const run of steps[name].splice(0)) {
        try {
          run();
        } catch (error) {
          process.stderr.write(`test clean-up (${name}) failed: ${(error as Error).message}\n`);
        }
      }
    }
  });
}
