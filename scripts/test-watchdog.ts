/**
 * Preloaded into every test file's process by `npm run test:unit` (`--import`): once the file's
 * tests have finished, a process still alive `HANDLES_GRACE_MS` later is kept alive by something
 * a test opened and never closed (a bus, a socket, a timer, a child process). It then prints what
 * is still open and exits with 1, so the run fails naming the file instead of never finishing.
 *
 * Why not `--test-force-exit`: it would end such a process silently and hide the leak; a leaked
 * subscription would keep retrying unseen. This reports it and fails, in bounded time.
 */
import { writeSync } from 'node:fs';
import { after } from 'node:test';

/** How long a file's own `after` hooks (stopping servers, at most 15 s each) may take before the check. */
const HANDLES_GRACE_MS = 60_000;

// Only in a test file's own process (the runner sets NODE_TEST_CONTEXT there), not in the runner.
if (process.env.NODE_TEST_CONTEXT !== undefined) after(armWatchdog);

function armWatchdog(): void {
  // Unref'd: a process that exits by itself is never held back by the watchdog.
  setTimeout(() => {
    const counts = new Map<string, number>();
    for (const resource of process.getActiveResourcesInfo()) {
      counts.set(resource, (counts.get(resource) ?? 0) + 1);
    }
    const open = [...counts].map(([resource, count]) => `${resource} ×${count}`).join(', ');
    writeSync(
      2,
      `test watchdog: ${process.argv[1]} still running ${HANDLES_GRACE_MS / 1000} s after its tests ` +
        `finished; open handles: ${open} (PipeWrap ×2 are its own stdout and stderr). ` +
        'Close every bus, transport, server and child process in after/finally.\n',
    );
    process.exit(1);
  }, HANDLES_GRACE_MS).unref();
}
