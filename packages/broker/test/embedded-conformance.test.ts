import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { embeddedTransport } from '@herald/broker';
import { runConformance } from '@herald/conformance';

const directories = new WeakMap<object, string>();

runConformance({
  name: 'embedded',
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
