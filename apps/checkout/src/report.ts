/** The final report of `npm start`: plain text with markdown tables, colour on a TTY. */
import { styleText } from 'node:util';
import type { InvariantResult, RunFacts } from './invariants.ts';
import type { LoadResult } from './load.ts';
import { formatMs, type Summary, summarize } from './percentiles.ts';
import type { CheckoutStats } from './services/analytics.ts';

/** What the report shows. */
export interface ReportInput {
  readonly facts: RunFacts;
  readonly invariants: readonly InvariantResult[];
  readonly load: LoadResult | undefined;
  readonly stats: CheckoutStats;
  readonly url: string;
  readonly dataDir: string;
  readonly transport: string;
  readonly elapsedMs: number;
  /** The first order's trace drawn as a tree (lines), empty when none was recorded. */
  readonly trace?: readonly string[];
}

const paint = (format: Parameters<typeof styleText>[0], text: string) => styleText(format, text);

/** Renders the report. */
export function renderReport(input: ReportInput): string {
  const { facts, load } = input;
  const { orders, emails } = facts;
  const lines: string[] = [];
  lines.push(
    '',
    paint(
      'bold',
      `Checkout run: ${orders.total} orders in ${(input.elapsedMs / 1000).toFixed(1)} s on the ${input.transport} broker`,
    ),
    '',
  );
  lines.push(paint('bold', 'Orders'));
  if (load !== undefined) {
    lines.push(
      `  sent ${load.sent} · accepted ${load.accepted} (new) · ${load.replayed} already known (Idempotency-Key replays) · ${load.failed} failed`,
    );
  }
  lines.push(
    `  confirmed ${paint('green', String(orders.confirmed))} · cancelled ${paint('yellow', String(orders.cancelled))} ` +
      `(out of stock ${orders.outOfStock}, payment declined ${orders.declined}) · still open ${orders.open}`,
    `  e-mails sent ${emails.confirmations + emails.cancellations} (${emails.confirmations} confirmations, ${emails.cancellations} cancellations; ${emails.files} files in the mail sink)`,
    `  revenue €${(input.stats.revenueCents / 100).toFixed(2)} · decline rate ${(input.stats.declineRate * 100).toFixed(1)} %`,
    '',
    `${paint('bold', 'Stock reconciliation')} (available + reserved + sold must equal initial)`,
    '',
    '| SKU | initial | available | reserved | sold | sold per confirmed orders | balanced |',
    '| --- | ---: | ---: | ---: | ---: | ---: | :---: |',
  );
  for (const level of facts.stock) {
    const balanced =
      level.available + level.reserved + level.sold === level.initial &&
      level.sold === (facts.soldByOrders[level.sku] ?? 0);
    lines.push(
      `| ${level.sku} | ${level.initial} | ${level.available} | ${level.reserved} | ${level.sold} | ${facts.soldByOrders[level.sku] ?? 0} | ${balanced ? 'yes' : paint('red', 'NO')} |`,
    );
  }
  const audit = facts.audit;
  lines.push(
    '',
    paint('bold', 'Audit log'),
    `  ${audit.entries} entries · hash chain ${audit.brokenAtPosition === null ? 'intact' : `broken at ${audit.brokenAtPosition}`} · ` +
      `${audit.duplicateIds.length} duplicates · ${audit.orderViolations.length} out of per-key order · ` +
      `${audit.missingIds.length} missing · ${audit.unexpectedIds.length} unexpected`,
    '',
    `${paint('bold', 'Latency')} (ms)`,
    '',
    '| step | count | p50 | p95 | p99 | max |',
    '| --- | ---: | ---: | ---: | ---: | ---: |',
  );
  const row = (name: string, summary: Summary) =>
    `| ${name} | ${summary.count} | ${formatMs(summary.p50)} | ${formatMs(summary.p95)} | ${formatMs(summary.p99)} | ${formatMs(summary.max)} |`;
  if (load !== undefined)
    lines.push(row('HTTP accept (POST /orders → 202)', summarize(load.acceptLatenciesMs)));
  lines.push(
    row('placed → confirmed', summarize(facts.latencyMs.toConfirm)),
    row('placed → cancelled', summarize(facts.latencyMs.toCancel)),
    row('placed → e-mail sent', summarize(facts.latencyMs.toEmail)),
    '',
    paint('bold', 'Invariants'),
  );
  for (const invariant of input.invariants) {
    const mark = invariant.holds ? paint('green', '✔ holds') : paint('red', '✖ FAILS');
    lines.push(`  ${mark}  ${invariant.name}: ${paint('dim', invariant.detail)}`);
  }
  if (input.trace !== undefined && input.trace.length > 0) {
    lines.push(
      '',
      `${paint('bold', "The first order's trace")} (span  [service, kind] start offset, duration)`,
      ...input.trace,
    );
  }
  const allHold = input.invariants.every((invariant) => invariant.holds);
  lines.push(
    '',
    allHold
      ? paint('green', `All ${input.invariants.length} invariants hold.`)
      : paint('red', `${input.invariants.filter((invariant) => !invariant.holds).length} invariant(s) FAIL.`),
    '',
    `API: ${input.url}  (GET /orders?status=confirmed · GET /orders/<id> · GET /stats · GET /inventory · GET /audit/verify)`,
    `Data: ${input.dataDir}  (${input.transport === 'embedded' ? 'broker/, ' : ''}state/<service>.sqlite, mail/, report.json)`,
    '',
  );
  return lines.join('\n');
}
