/**
 * `npm start`: every checkout service in one process on the broker `HERALD_TRANSPORT` picks
 * (embedded by default, `rabbitmq` for RabbitMQ; see `transport.ts`), the HTTP API, a
 * built-in load of orders, a live view, and a final report that checks every invariant (exit
 * code 1 if one fails).
 *
 *   npm start -- [--orders 1000] [--rate 50] [--customers 50] [--seed 1] [--decline-rate 0.1]
 *                [--data DIR] [--port 3000] [--keep-running] [--otel]
 *                [--payment-timeout-ms 300000] [--payment-latency-ms-max 60]
 *
 * With --keep-running the services stay up after the report, and the Herald console serves the
 * run's broker (embedded transport): its URL is printed.
 *
 * The report ends with the trace of the run's first order, drawn as a tree. With --otel (or
 * `OTEL_EXPORTER_OTLP_ENDPOINT` set) every span is exported too: OTLP over HTTP to that endpoint, or
 * JSON lines in `<data>/traces.jsonl` when none is set.
 *
 * Without --data each run gets a fresh directory `.herald/checkout-<time>`. With --data and an
 * existing directory the run continues it: the same seed re-sends the same orders with the same
 * Idempotency-Keys, so orders accepted before a crash are not taken twice.
 */
import { writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs, styleText } from 'node:util';
import { type ConsoleServer, startConsole } from '@herald/console';
import type { Transport } from 'herald';
import { startCheckout } from './app.ts';
import { checkInvariants, isQuiescent } from './invariants.ts';
import { LiveView } from './live-view.ts';
import { type LoadResult, registerCustomers, runLoad } from './load.ts';
import { DEFAULT_PAYMENT_OPTIONS } from './logic/payment.ts';
import { renderReport } from './report.ts';
import { readStats } from './services/analytics.ts';
import { renderTraceTree, startTracing } from './tracing.ts';
import { deleteRunTopology } from './transport.ts';

/**
 * The Herald console on the run's own broker (embedded transport only: it reads the broker in
 * this process); other transports print how to reach theirs. Resolves the server, if any.
 */
async function startCheckoutConsole(
  transport: Transport,
  traces: string | undefined,
): Promise<ConsoleServer | undefined> {
  if (transport.name !== 'embedded') {
    process.stdout.write("Console: run npx herald console --broker HOST:PORT against this run's broker.\n");
    return undefined;
  }
  // With --otel and no collector, the trace view shows each event's handler runs from the span file.
  const server = await startConsole({ transport, traces });
  process.stdout.write(`Console: ${server.url}\n`);
  return server;
}

/** How long the run may take to come to rest after the load, in milliseconds. */
const SETTLE_TIMEOUT_MS = 60_000;

const { values } = parseArgs({
  options: {
    orders: { type: 'string', default: '1000' },
    rate: { type: 'string', default: '50' },
    customers: { type: 'string', default: '50' },
    seed: { type: 'string', default: '1' },
    'decline-rate': { type: 'string', default: '0.1' },
    'payment-timeout-ms': { type: 'string', default: String(DEFAULT_PAYMENT_OPTIONS.timeoutMs) },
    'payment-latency-ms-max': { type: 'string', default: String(DEFAULT_PAYMENT_OPTIONS.latencyMsMax) },
    data: { type: 'string' },
    port: { type: 'string', default: '3000' },
    'keep-running': { type: 'boolean', default: false },
    otel: { type: 'boolean', default: false },
    help: { type: 'boolean', default: false },
  },
});
if (values.help) {
  process.stdout.write(
    'usage: npm start -- [--orders N] [--rate PER_SECOND] [--customers N] [--seed N] [--decline-rate 0..1]\n' +
      '                    [--data DIR] [--port PORT] [--keep-running] [--otel]\n' +
      '                    [--payment-timeout-ms MS] [--payment-latency-ms-max MS]\n',
  );
  process.exit(0);
}
const orders = positiveInteger('orders', values.orders, 0);
const rate = positiveInteger('rate', values.rate, 1);
const customers = positiveInteger('customers', values.customers, 1);
const seed = positiveInteger('seed', values.seed, 0);
const port = positiveInteger('port', values.port, 0);
const paymentTimeoutMs = positiveInteger('payment-timeout-ms', values['payment-timeout-ms'], 1);
const latencyMsMax = positiveInteger('payment-latency-ms-max', values['payment-latency-ms-max'], 0);
const latencyMsMin = Math.min(DEFAULT_PAYMENT_OPTIONS.latencyMsMin, latencyMsMax);
const declineRate = Number(values['decline-rate']);
if (!(declineRate >= 0 && declineRate <= 1)) fail('--decline-rate must be a number from 0 to 1');
const dataDir = resolve(
  values.data ?? join('.herald', `checkout-${new Date().toISOString().replace(/[:.]/g, '-')}`),
);

const tracing = startTracing({
  exportSpans:
    values.otel ||
    process.env.HERALD_CHECKOUT_OTEL === '1' ||
    Boolean(process.env.OTEL_EXPORTER_OTLP_ENDPOINT),
  filePath: join(dataDir, 'traces.jsonl'),
});

const startedMs = performance.now();
process.stdout.write(
  `${styleText('bold', 'Herald checkout')}: ${orders} orders from ${customers} customers at ${rate}/s\n`,
);
process.stdout.write(`data directory: ${dataDir}\n`);
if (tracing.export.kind === 'otlp') process.stdout.write(`traces: OTLP to ${tracing.export.endpoint}\n`);
if (tracing.export.kind === 'file') process.stdout.write(`traces: ${tracing.export.path}\n`);
const checkout = await startCheckout({
  dataDir,
  port,
  portFallback: true,
  payment: { declineRate, seed, timeoutMs: paymentTimeoutMs, latencyMsMin, latencyMsMax },
}).catch((error: unknown) => fail(String((error as Error).message ?? error)));
process.stdout.write(
  `API listening on ${checkout.url}; services: user, order, inventory, payment, notification, analytics, audit\n\n`,
);

const view = new LiveView(checkout, orders);
let load: LoadResult | undefined;
try {
  await registerCustomers(checkout.url, customers);
  view.start();
  load = await runLoad({
    url: checkout.url,
    orders,
    ratePerSecond: rate,
    customers,
    seed,
    onProgress: (p) => view.setLoad(p),
  });
  const deadlineMs = performance.now() + SETTLE_TIMEOUT_MS;
  while (!isQuiescent(checkout) && performance.now() < deadlineMs)
    await new Promise((r) => setTimeout(r, 100));
} finally {
  view.stop();
}

const { facts, invariants } = checkInvariants(checkout, { expectedOrders: orders });
const stats = readStats(checkout.stores.get('analytics')!.read);
const elapsedMs = performance.now() - startedMs;
process.stdout.write(
  renderReport({
    facts,
    invariants,
    load,
    stats,
    url: checkout.url,
    dataDir,
    transport: checkout.transport.name,
    elapsedMs,
    trace: renderTraceTree(tracing.firstOrder()),
  }),
);
const allHold = invariants.every((invariant) => invariant.holds);
writeFileSync(
  join(dataDir, 'report.json'),
  `${JSON.stringify({ allHold, invariants, orders: facts.orders, emails: facts.emails, audit: { ...facts.audit, entries: facts.audit.entries }, load: load && { ...load, acceptLatenciesMs: undefined }, stats }, null, 2)}\n`,
);
if (load !== undefined && load.failures.length > 0)
  process.stderr.write(`load failures: ${load.failures.join('\n  ')}\n`);

if (values['keep-running']) {
  process.stdout.write(`Still serving ${checkout.url}; Ctrl-C to stop.\n`);
  const traces = tracing.export.kind === 'file' ? tracing.export.path : undefined;
  const console_ = await startCheckoutConsole(checkout.transport, traces);
  process.exitCode = allHold ? 0 : 1;
  const stop = () =>
    void (console_?.close() ?? Promise.resolve()).then(() => checkout.stop()).then(() => tracing.shutdown());
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
} else {
  await checkout.stop();
  await tracing.shutdown();
  process.exitCode = allHold ? 0 : 1;
  // On RabbitMQ, NATS and AWS a run's exchanges, queues, streams and topics carry its own prefix; a
  // clean, complete run removes them. After a failed run they stay, to be inspected (or continued
  // with the same --data).
  if (allHold && (await deleteRunTopology(checkout.transport).catch(() => false))) {
    process.stdout.write(
      checkout.transport.name === 'aws'
        ? 'AWS: deleted the SNS topics and SQS queues of this run\n'
        : checkout.transport.name === 'nats'
          ? 'NATS: deleted the streams of this run\n'
          : 'RabbitMQ: deleted the exchanges and queues of this run\n',
    );
  }
}

function positiveInteger(name: string, text: string, minimum: number): number {
  const value = Number(text);
  if (!Number.isSafeInteger(value) || value < minimum)
    fail(`--${name} must be an integer ≥ ${minimum}, got "${text}"`);
  return value;
}

function fail(message: string): never {
  process.stderr.write(`checkout: ${message}\n`);
  process.exit(2);
}
