/**
 * Profiling helper (the leading `_` keeps it out of `bench/run.ts`'s suites): bytes allocated per
 * message by call site, as docs/benchmarks.md ("Catch-up: bytes allocated per delivery") measured
 * them. Preloaded, it starts V8's sampling heap profiler with the objects later collected kept
 * (so the profile counts everything allocated, not what survived) and writes the profile when the
 * process is about to exit; run directly, it sums a profile's self bytes by function:
 *
 *   HEAP_SAMPLE_OUT=/tmp/run.heapprofile npx node --import ./bench/_heap-sample.ts bench/_catchup-cpu.ts run DIR 10
 *   npx node bench/_heap-sample.ts /tmp/run.heapprofile 1000000 [rows=20]   # per message: divide by 1,000,000
 *
 * The profiler names the innermost function V8 kept a frame for: code inlined into a caller counts
 * as the caller's (add `--no-turbo-inlining --no-maglev-inlining` to the profiled run to see the
 * callee, at the cost of different code). Sampling interval: `HEAP_SAMPLE_INTERVAL` bytes (256).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';

/** Mean bytes between samples: small enough that a 100-byte object per message is seen thousands of times in a catch-up. */
const INTERVAL_BYTES_DEFAULT = 256;
/** Rows printed by default. */
const ROWS_DEFAULT = 20;

interface ProfileNode {
  readonly callFrame: { readonly functionName: string; readonly url: string; readonly lineNumber: number };
  readonly selfSize: number;
  readonly children: readonly ProfileNode[];
}

function startSampling(out: string): void {
  const session = new Session();
  session.connect();
  session.post('HeapProfiler.enable');
  session.post('HeapProfiler.startSampling', {
    samplingInterval: Number(process.env.HEAP_SAMPLE_INTERVAL ?? INTERVAL_BYTES_DEFAULT),
    includeObjectsCollectedByMajorGC: true,
    includeObjectsCollectedByMinorGC: true,
  });
  let written = false;
  // `beforeExit` may run the loop again (the write below is asynchronous): write once.
  process.on('beforeExit', () => {
    if (written) return;
    written = true;
    session.post('HeapProfiler.stopSampling', (error, result) => {
      if (error !== null) throw error;
      writeFileSync(out, JSON.stringify(result.profile));
      session.disconnect();
    });
  });
}

function summarize(file: string, messages: number, rows: number): void {
  const { head } = JSON.parse(readFileSync(file, 'utf8')) as { head: ProfileNode };
  const bytesBySite = new Map<string, number>();
  let total = 0;
  // Depth-first over the call tree; bounded by the profile's nodes.
  const pending: ProfileNode[] = [head];
  for (let node = pending.pop(); node !== undefined; node = pending.pop()) {
    total += node.selfSize;
    if (node.selfSize > 0) {
      const { functionName, url, lineNumber } = node.callFrame;
      const site = `${functionName || '(anonymous)'} ${url.replace(/^.*\/(packages|bench|node_modules)\//, '$1/')}:${lineNumber + 1}`;
      bytesBySite.set(site, (bytesBySite.get(site) ?? 0) + node.selfSize);
    }
    pending.push(...node.children);
  }
  process.stdout.write(
    `total ${(total / 2 ** 20).toFixed(1)} MiB, ${(total / messages).toFixed(1)} B per message\n`,
  );
  const sorted = [...bytesBySite].sort((left, right) => right[1] - left[1]).slice(0, rows);
  for (const [site, bytes] of sorted) {
    process.stdout.write(`${(bytes / messages).toFixed(1).padStart(8)} B  ${site}\n`);
  }
}

if (import.meta.main) {
  const [file, messagesText, rowsText] = process.argv.slice(2);
  const messages = Number(messagesText);
  if (file === undefined || !(messages > 0)) {
    throw new Error('usage: node bench/_heap-sample.ts <file.heapprofile> <messages> [rows]');
  }
  summarize(file, messages, Number(rowsText ?? ROWS_DEFAULT));
} else {
  const out = process.env.HEAP_SAMPLE_OUT;
  if (out === undefined) throw new Error('bench/_heap-sample.ts preloaded without HEAP_SAMPLE_OUT=<file>');
  startSampling(out);
}
