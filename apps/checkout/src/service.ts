/**
 * `npm run service -- <name> [--data DIR] [--port PORT]`: runs one checkout service alone against
 * the broker chosen by `HERALD_TRANSPORT`, with its state in `<data>/state/<name>.sqlite`.
 *
 * On the embedded broker (the default) the broker lives inside the process that opens its
 * directory, and a directory can be opened by one process only: a second service on the same
 * directory stops with an error saying so. With `HERALD_TRANSPORT=rabbitmq` every service runs as
 * its own process against RabbitMQ: start each with the same --data (which also gives them the same
 * exchange and queue prefix) before sending orders, since a RabbitMQ group receives what is
 * published after its queues exist.
 */
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { startCheckout } from './app.ts';
import { SERVICE_NAMES, type ServiceName } from './services/index.ts';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    data: { type: 'string', default: '.herald/checkout-services' },
    port: { type: 'string', default: '0' },
  },
});
const name = positionals[0] as ServiceName | undefined;
if (name === undefined || !SERVICE_NAMES.includes(name)) {
  process.stderr.write(`usage: npm run service -- <${SERVICE_NAMES.join('|')}> [--data DIR] [--port PORT]\n`);
  process.exit(2);
}
const port = Number(values.port);
try {
  const checkout = await startCheckout({ dataDir: resolve(values.data), services: [name], port });
  process.stdout.write(
    `${name} service running on the ${checkout.transport.name} broker (data ${checkout.dataDir}); HTTP ${checkout.url}\n`,
  );
  const stop = (signal: string) => {
    process.stderr.write(`${signal}: draining ${name}\n`);
    void checkout.stop().then(() => process.exit(0));
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
} catch (error) {
  process.stderr.write(`service ${name}: ${(error as Error).message}\n`);
  process.exit(1);
}
