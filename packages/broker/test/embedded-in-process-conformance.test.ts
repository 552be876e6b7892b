/**
 * The conformance suite on `embeddedTransport` itself, in this process: it checks the real
 * transport's objects (its own `ClosedError`s, its no-op settles after close), which the child-hosted
 * run in `embedded-conformance.test.ts` partly re-implements in its proxy. Its restart is a clean
 * close and reopen of the data directory; the crash restart is the child-hosted run's.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { embeddedTransport } from '@herald/broker';
import { runConformance } from '@herald/conformance';

const directories = new WeakMap<object, string>();

runConformance({
  name: 'embedded (in process, restart = clean close and reopen)',
  async create() {
    const dir = mkdtempSync(path.join(tmpdir(), 'herald-embedded-'));
    const transport = await embeddedTransport({ dir });
    directories.set(transport, dir);
    return transport;
  },
  async restart(transport) {
    const dir = directories.get(transport)!;
    await transport.close();
    const next = await embeddedTransport({ dir });
    directories.set(next, dir);
    return next;
  },
});
