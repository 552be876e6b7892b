import { embeddedTransport } from '@herald/broker';
import { runConformance } from '@herald/conformance';
import { temporaryDirectory } from '@herald/test-support';

const directories = new WeakMap<object, string>();

runConformance({
  name: 'embedded (in process, restart = clean close and reopen)',
  async create() {
    const dir = temporaryDirectory('herald-embedded-');
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
