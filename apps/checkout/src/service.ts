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
 *
 * With `--otel` (or `HERALD_CHECKOUT_OTEL=1`, or `OTEL_EXPORTER_OTLP_ENDPOINT` set) the service
 * registers an OpenTelemetry SDK and exports its spans: OTLP when an endpoint is set, else JSON lines
 * in `<data>/traces-<name>.jsonl`; the trace context crosses processes in every message.
 */
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { startCheckout } from './app.ts';
import { SERVICE_NAMES, type ServiceName } from './services/index.ts';
import { startTracing } from './tracing.ts';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    data: { type: 'string', default: '.herald/checkout-services' },
    port: { type: 'string', default: '0' },
    otel: { type: 'boolean', default: false },
  },
});
const name = positionals[0] as ServiceName | undefined;
if (name === undefined || !SERVICE_NAMES.includes(name)) {
  process.stderr.write(`usage: npm run service -- <${SERVICE_NAMES.join('|')}> [--data DIR] [--port PORT]\n`);
  process.exit(2);
}
const port = Number(values.port);
const dataDir = resolve(values.data);
const tracing =
  values.otel || process.env.HERALD_CHECKOUT_OTEL === '1' || process.env.OTEL_EXPORTER_OTLP_ENDPOINT
    ? startTracing({
        exportSpans: true,
        filePath: join(dataDir, `traces-${name}.jsonl`),
        serviceName: `herald-checkout-${name}`,
      })
    : undefined;
try {
  const checkout = await startCheckout({ dataDir, services: [name], port });
  process.stdout.write(
    `${name} service running on the ${checkout.transport.name} broker (data ${checkout.dataDir}); HTTP ${checkout.url}\n`,
  );
  const stop = (signal: string) => {
    process.stderr.write(`${signal}: draining ${name}\n`);
    // Stopping the SDK exports the spans still queued in its batch processor.
    void checkout
      .stop()
      .then(() => tracing?.shutdown())
      .then(() => process.exit(0));
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
} catch (error) {
  process.stderr.write(`service ${name}: ${(error as Error).message}\n`);
  process.exit(1);
}
