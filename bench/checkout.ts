/**
 * `npm run bench -- checkout [--quick] [--json]`: the seed's Real-World Task. The same checkout,
 * synchronous (the order service calls inventory, payment and notification over HTTP before it
 * answers) and event-driven (the order service answers once `OrderCreated` is durable; the rest
 * follows through the embedded broker), driven at fixed open-loop arrival rates.
 *
 * - Accept latency: time until the client has an answer (sync: the whole chain; async: 202).
 * - Completion latency: time until the customer's e-mail is written (both variants).
 * - Outage: the same load while the payment service is down for 5 s. Sync requests fail (503);
 *   async ones are accepted and completed once payment is back.
 *
 * The payment gateway takes 100–300 ms per charge (a card network's usual range). Markdown tables
 * on stdout (JSON with --json), progress on stderr, JSON in bench/results/checkout.json and a chart
 * in bench/results/checkout-latency.svg (git-ignored); `--publish-charts` also copies the chart to
 * docs/benchmarks/, the one the docs show. Each run uses a fresh temporary directory.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { startCheckout } from '../apps/checkout/src/app.ts';
import { planOrders, registerCustomers } from '../apps/checkout/src/load.ts';
import { formatMs, type Summary, summarize } from '../apps/checkout/src/percentiles.ts';
import { startSyncCheckout } from '../apps/checkout/src/sync/sync-checkout.ts';
import {
  parseBenchArgs,
  progressLine,
  publishCharts,
  RESULTS_DIR,
  reportWritten,
  writeResult,
} from './_common.ts';

const PAYMENT = { declineRate: 0.05, latencyMsMin: 100, latencyMsMax: 300, seed: 7 };
const CUSTOMERS = 50;
const OUTAGE_MS = 5000;
/** Longest wait for every accepted order to complete after the load, in milliseconds. */
const COMPLETION_TIMEOUT_MS = 60_000;

type Variant = 'sync' | 'async';

interface Result {
  readonly variant: Variant;
  readonly scenario: 'steady' | 'payment outage';
  readonly ratePerSecond: number;
  readonly orders: number;
  readonly failed: number;
  readonly failedDuringOutage: number;
  readonly completed: number;
  readonly acceptMs: Summary;
  readonly completionMs: Summary;
}

/** A system under test, whichever variant. */
interface System {
  readonly url: string;
  /** Wall-clock time each order's e-mail was written, by order id. */
  emailTimes(): Map<string, number>;
  stopPayment(): Promise<void>;
  startPayment(): Promise<void>;
  stop(): Promise<void>;
}

function progress(text: string): void {
  progressLine('checkout bench', text);
}

async function startSystem(variant: Variant, dataDir: string): Promise<System> {
  if (variant === 'sync') {
    const sync = await startSyncCheckout({ dataDir, payment: PAYMENT });
    const { DatabaseSync } = await import('node:sqlite');
    return {
      url: sync.url,
      emailTimes: () =>
        readEmailTimes(new DatabaseSync(join(dataDir, 'notification.sqlite'), { readOnly: true })),
      stopPayment: () => sync.stopPayment(),
      startPayment: () => sync.startPayment(),
      stop: () => sync.stop(),
    };
  }
  const checkout = await startCheckout({ dataDir, payment: PAYMENT });
  return {
    url: checkout.url,
    emailTimes: () => readEmailTimes(checkout.stores.get('notification')!.read),
    stopPayment: () => checkout.stopService('payment'),
    startPayment: () => checkout.startService('payment'),
    stop: () => checkout.stop(),
  };
}

function readEmailTimes(database: import('node:sqlite').DatabaseSync): Map<string, number> {
  const rows = database.prepare('SELECT order_id, sent_at_ms FROM notification_emails').all() as {
    order_id: string;
    sent_at_ms: number;
  }[];
  return new Map(rows.map((row) => [row.order_id, row.sent_at_ms]));
}

/** Drives one run: open-loop orders at `ratePerSecond` for `durationMs`, optionally with an outage. */
async function measure(
  variant: Variant,
  ratePerSecond: number,
  durationMs: number,
  outageAtMs: number | undefined,
): Promise<Result> {
  const dataDir = mkdtempSync(join(tmpdir(), `herald-checkout-bench-${variant}-`));
  const system = await startSystem(variant, dataDir);
  try {
    await registerCustomers(system.url, CUSTOMERS);
    await warmUp(system);
    const planned = planOrders(ratePerSecond, Math.round((ratePerSecond * durationMs) / 1000), CUSTOMERS);
    const accepted: { orderId: string; sentAtMs: number }[] = [];
    const acceptMs: number[] = [];
    let failed = 0;
    let failedDuringOutage = 0;
    let outage: { fromMs: number; toMs: number } | undefined;
    const outageDone =
      outageAtMs === undefined
        ? Promise.resolve()
        : (async () => {
            await new Promise((resolve) => setTimeout(resolve, outageAtMs));
            const fromMs = performance.now();
            outage = { fromMs, toMs: Number.POSITIVE_INFINITY };
            await system.stopPayment();
            progress(`${variant}: payment service down`);
            await new Promise((resolve) => setTimeout(resolve, OUTAGE_MS));
            await system.startPayment();
            outage.toMs = performance.now();
            progress(`${variant}: payment service back`);
          })();
    const startMs = performance.now();
    const requests: Promise<void>[] = [];
    for (const [index, order] of planned.entries()) {
      const waitMs = startMs + (index * 1000) / ratePerSecond - performance.now();
      if (waitMs > 0) await new Promise((resolve) => setTimeout(resolve, waitMs));
      const sentMs = performance.now();
      const sentAtMs = Date.now();
      requests.push(
        fetch(`${system.url}/orders`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'idempotency-key': order.idempotencyKey },
          body: JSON.stringify(order.body),
        })
          .then(async (response) => {
            const body = (await response.json()) as { orderId?: string };
            if (response.status >= 300 || body.orderId === undefined)
              throw new Error(`HTTP ${response.status}`);
            acceptMs.push(performance.now() - sentMs);
            accepted.push({ orderId: body.orderId, sentAtMs });
          })
          .catch(() => {
            failed += 1;
            if (outage !== undefined && sentMs >= outage.fromMs - 1000 && sentMs <= outage.toMs)
              failedDuringOutage += 1;
          }),
      );
    }
    await Promise.all(requests);
    await outageDone;
    const deadlineMs = performance.now() + COMPLETION_TIMEOUT_MS;
    let emails = system.emailTimes();
    while (accepted.some((order) => !emails.has(order.orderId)) && performance.now() < deadlineMs) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      emails = system.emailTimes();
    }
    const completionMs = accepted
      .filter((order) => emails.has(order.orderId))
      .map((order) => emails.get(order.orderId)! - order.sentAtMs);
    return {
      variant,
      scenario: outageAtMs === undefined ? 'steady' : 'payment outage',
      ratePerSecond,
      orders: planned.length,
      failed,
      failedDuringOutage,
      completed: completionMs.length,
      acceptMs: summarize(acceptMs),
      completionMs: summarize(completionMs),
    };
  } finally {
    await system.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

/** Orders a few times and waits for the e-mails, so topics, files and JIT are warm before measuring. */
async function warmUp(system: System): Promise<void> {
  const warmUpOrders = planOrders(999, 10, CUSTOMERS);
  const ids: string[] = [];
  for (const order of warmUpOrders) {
    const response = await fetch(`${system.url}/orders`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(order.body),
    });
    ids.push(((await response.json()) as { orderId: string }).orderId);
  }
  const deadlineMs = performance.now() + COMPLETION_TIMEOUT_MS;
  while (performance.now() < deadlineMs && !ids.every((id) => system.emailTimes().has(id))) {
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

function table(results: readonly Result[]): string {
  const lines = [
    '| variant | scenario | rate/s | orders | failed | completed | accept p50 | accept p95 | accept p99 | completion p50 | completion p95 | completion p99 |',
    '| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
  ];
  for (const result of results) {
    const { acceptMs: a, completionMs: c } = result;
    lines.push(
      `| ${result.variant} | ${result.scenario} | ${result.ratePerSecond} | ${result.orders} | ${result.failed} | ${result.completed} | ` +
        `${formatMs(a.p50)} | ${formatMs(a.p95)} | ${formatMs(a.p99)} | ${formatMs(c.p50)} | ${formatMs(c.p95)} | ${formatMs(c.p99)} |`,
    );
  }
  return lines.join('\n');
}

/** A hand-written SVG bar chart of accept and completion p99 (log scale), one group per run. */
function chart(results: readonly Result[]): string {
  const width = 860;
  const height = 360;
  const left = 70;
  const bottom = 300;
  const top = 40;
  const values = results.flatMap((r) => [r.acceptMs.p99 ?? 1, r.completionMs.p99 ?? 1]);
  const decadesMax = Math.ceil(Math.log10(Math.max(10, ...values)));
  const y = (ms: number) => bottom - (Math.log10(Math.max(1, ms)) / decadesMax) * (bottom - top);
  const groupWidth = (width - left - 20) / results.length;
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif" font-size="11">`,
    `<rect width="${width}" height="${height}" fill="white"/>`,
    `<text x="${left}" y="22" font-size="14" font-weight="bold">Checkout latency p99 (ms, log scale): sync chain vs event-driven</text>`,
  ];
  for (let power = 0; power <= decadesMax; power++) {
    const ms = 10 ** power;
    parts.push(
      `<line x1="${left}" x2="${width - 20}" y1="${y(ms)}" y2="${y(ms)}" stroke="#ddd"/>`,
      `<text x="${left - 6}" y="${y(ms) + 4}" text-anchor="end">${ms.toLocaleString('en-US')}</text>`,
    );
  }
  results.forEach((result, index) => {
    const x = left + index * groupWidth + groupWidth * 0.15;
    const barWidth = groupWidth * 0.3;
    const bars: [number | null, string][] = [
      [result.acceptMs.p99, result.variant === 'sync' ? '#d9534f' : '#2e86de'],
      [result.completionMs.p99, result.variant === 'sync' ? '#f0ad4e' : '#7fb3e6'],
    ];
    bars.forEach(([value, colour], barIndex) => {
      const barX = x + barIndex * barWidth;
      const barY = y(value ?? 1);
      parts.push(
        `<rect x="${barX.toFixed(1)}" y="${barY.toFixed(1)}" width="${(barWidth - 2).toFixed(1)}" height="${(bottom - barY).toFixed(1)}" fill="${colour}"/>`,
        `<text x="${(barX + barWidth / 2).toFixed(1)}" y="${(barY - 3).toFixed(1)}" text-anchor="middle" font-size="9">${formatMs(value)}</text>`,
      );
    });
    const label = `${result.variant} ${result.ratePerSecond}/s${result.scenario === 'steady' ? '' : ' outage'}`;
    parts.push(
      `<text x="${(x + barWidth).toFixed(1)}" y="${bottom + 16}" text-anchor="middle">${label}</text>`,
      result.failed > 0
        ? `<text x="${(x + barWidth).toFixed(1)}" y="${bottom + 30}" text-anchor="middle" fill="#d9534f">${result.failed} failed</text>`
        : '',
    );
  });
  parts.push(
    `<text x="${left}" y="${height - 12}">bars per run: accept p99 (dark), completion p99 (light); red/orange = sync, blue = async</text>`,
    '</svg>',
  );
  return `${parts.filter((part) => part !== '').join('\n')}\n`;
}

/** Runs the suite. */
export async function run(args: string[]): Promise<void> {
  const { quick, json, flags } = parseBenchArgs(args, [], ['publish-charts']);
  const rates = quick ? [10] : [5, 10, 20];
  const steadyMs = quick ? 4000 : 10_000;
  const outageRunMs = quick ? 8000 : 12_000;
  const results: Result[] = [];
  for (const rate of rates) {
    for (const variant of ['sync', 'async'] as const) {
      progress(`${variant} at ${rate}/s for ${steadyMs / 1000} s`);
      results.push(await measure(variant, rate, steadyMs, undefined));
    }
  }
  for (const variant of ['sync', 'async'] as const) {
    progress(
      `${variant} at 10/s for ${outageRunMs / 1000} s, payment down for ${OUTAGE_MS / 1000} s after 1.5 s`,
    );
    results.push(await measure(variant, 10, outageRunMs, 1500));
  }
  const jsonFile = writeResult(
    RESULTS_DIR,
    'checkout.json',
    `${JSON.stringify({ payment: PAYMENT, results }, null, 2)}\n`,
  );
  const chartFile = writeResult(RESULTS_DIR, 'checkout-latency.svg', chart(results));
  reportWritten('checkout', [jsonFile, chartFile]);
  if (flags['publish-charts'] === true)
    reportWritten('checkout', publishCharts([chartFile]), 'published charts');
  if (json) {
    process.stdout.write(`${JSON.stringify({ payment: PAYMENT, results }, null, 2)}\n`);
    return;
  }
  const steady = results.filter((result) => result.scenario === 'steady');
  const outage = results.filter((result) => result.scenario !== 'steady');
  const notes = rates.map((rate) => {
    const sync = steady.find((r) => r.variant === 'sync' && r.ratePerSecond === rate)!;
    const async = steady.find((r) => r.variant === 'async' && r.ratePerSecond === rate)!;
    const ratio = (sync.acceptMs.p99 ?? 0) / Math.max(0.001, async.acceptMs.p99 ?? 0);
    return `- ${rate}/s: async accept p99 ${formatMs(async.acceptMs.p99)} ms vs sync ${formatMs(sync.acceptMs.p99)} ms: ${ratio.toFixed(1)}× lower (target ≥ 10×: ${ratio >= 10 ? 'met' : 'NOT met'})`;
  });
  const asyncOutage = outage.find((r) => r.variant === 'async')!;
  const syncOutage = outage.find((r) => r.variant === 'sync')!;
  process.stdout.write(
    [
      '## Checkout: synchronous chain vs event-driven',
      '',
      `Payment gateway ${PAYMENT.latencyMsMin}–${PAYMENT.latencyMsMax} ms per charge, ${PAYMENT.declineRate * 100} % declined; latencies in ms.`,
      '',
      '### Steady load',
      '',
      table(steady),
      '',
      `### Payment service down for ${OUTAGE_MS / 1000} s`,
      '',
      table(outage),
      '',
      ...notes,
      `- outage: sync failed ${syncOutage.failed} of ${syncOutage.orders} requests; async failed ${asyncOutage.failed} and completed ${asyncOutage.completed} of ${asyncOutage.orders} after payment returned (target 0 failed: ${asyncOutage.failed === 0 ? 'met' : 'NOT met'})`,
      '',
      `Chart: ${relative(process.cwd(), chartFile)}`,
      '',
    ].join('\n'),
  );
}
