/**
 * `npm run bench -- console [--events 1000000] [--quick] [--json]`: the console over a data
 * directory holding `--events` retained events (issue 18: "works with 1 M retained events").
 *
 * Fills a temporary data directory through the broker directly (fsync 'never': the fill is not
 * what is measured) with checkout-like flows: each order is four CloudEvents (OrderCreated on
 * `orders`, InventoryReserved on `inventory`, PaymentCaptured on `payments`, CustomerNotified on
 * `notifications`, 4 partitions each, keyed by the order id, one correlation id per order), plus
 * 200 dead letters on `orders.dlq` and four groups with lag. Then closes it, opens it as
 * `herald console --data DIR` does (the CLI's data-directory target), starts the console, and
 * drives Debian's Chromium (playwright-core) to measure:
 * - first paint of each view on a fresh page load (navigation start → the view's data rendered,
 *   read in the page at the animation frame that shows it): topology, topics, groups, dead
 *   letters, trace (its form), search (its form);
 * - a topic's messages: Browse clicked → the page of 50 rendered;
 * - the trace of one order (the middle one): Trace clicked → its steps rendered;
 * - a search for text no event holds, over every event at the default budget (1,000,000): time to
 *   the first progress shown, to done, the progress updates the page showed, events scanned/s
 *   (every stored batch is left out undecoded: the best case);
 * - a search for one customer's events, whose text a quarter of the batches hold (decoded), with
 *   the result limit 1,000: the same figures.
 * Each is measured `--rounds` times (3); the table shows the median. Targets: first paint ≤ 1 s.
 *
 * Markdown on stdout (JSON with `--json`), progress on stderr; the directory is removed at the
 * end, whatever happens. `--quick` is the CI smoke size (20,000 events, 1 round).
 */
import { existsSync } from 'node:fs';
import { openBroker } from '@herald/broker';
import type { TransportMessage } from '@herald/bus';
import { DEAD_LETTER_HEADERS, DEAD_LETTER_KEY } from '@herald/bus';
import { openTarget } from '@herald/cli/internal';
import { startConsole } from '@herald/console';
import { type Browser, chromium, type Page } from 'playwright-core';
import {
  format,
  loadIsHigh,
  machineFacts,
  markdownTable,
  median,
  parseBenchArgs,
  progressBar,
  tempDir,
} from './_common.ts';

const CHROMIUM = '/usr/bin/chromium';
/** The four steps of one order: type, topic, producing service. */
const STEPS = [
  ['OrderCreated', 'orders', 'order'],
  ['InventoryReserved', 'inventory', 'inventory'],
  ['PaymentCaptured', 'payments', 'payment'],
  ['CustomerNotified', 'notifications', 'notification'],
] as const;
const PARTITIONS = 4;
/** Orders per publish call per topic while filling (one stored batch per partition). */
const FILL_ORDERS_PER_CALL = 100;
/** Publish calls outstanding while filling. */
const FILL_CALLS_OUTSTANDING = 16;
/** Publish calls per step of the fill's progress bar. */
const FILL_CALLS_PER_TICK = 200;
const DEAD_LETTERS = 200;
/** Longest one measured step may take before the run fails (a search over 1 M on a loaded machine). */
const STEP_TIMEOUT_MS = 180_000;
/** The target for each view's first paint. */
const FIRST_PAINT_MS_MAX = 1000;
/** Text no filled event holds: the search reads every event. */
const ABSENT_TEXT = 'no-event-holds-this';
/**
 * Text of one customer's events (every 977th order, in all four topics: 1,024 events in 1 M), so
 * a quarter of the stored batches hold it and are decoded; searched with the result limit 1,000.
 */
const CUSTOMER_TEXT = '"customerId":"c-42"';
const CUSTOMER_LIMIT = 1000;

/** The order id of order `index`. */
function orderId(index: number): string {
  return `order-${String(index).padStart(8, '0')}`;
}

/** The messages of orders `[from, to)` for step `step`: CloudEvents in binary mode. */
function stepMessages(step: number, from: number, to: number, timeIso: string): TransportMessage[] {
  const [type, , service] = STEPS[step]!;
  const messages: TransportMessage[] = [];
  for (let index = from; index < to; index++) {
    const order = orderId(index);
    messages.push({
      key: order,
      headers: {
        ce_specversion: '1.0',
        ce_id: `${order}-${step}`,
        ce_source: `/checkout/${service}`,
        ce_type: type,
        ce_time: timeIso,
        ce_correlationid: `${order}-0`,
        ...(step === 0 ? {} : { ce_causationid: `${order}-${step - 1}` }),
        ce_partitionkey: order,
        'content-type': 'application/json',
      },
      body: Buffer.from(
        JSON.stringify({ orderId: order, customerId: `c-${index % 977}`, totalCents: 1000 + (index % 5000) }),
      ),
    });
  }
  return messages;
}

/** Fills `directory` with `events` events (rounded down to whole orders), dead letters and groups. */
export async function fill(directory: string, events: number): Promise<{ orders: number }> {
  const broker = await openBroker({ dir: directory, partitions: PARTITIONS, fsync: 'never' });
  const orders = Math.floor(events / STEPS.length);
  const calls = Math.ceil(orders / FILL_ORDERS_PER_CALL) * STEPS.length;
  const bar = progressBar('console fill', Math.ceil(calls / FILL_CALLS_PER_TICK));
  try {
    for (const [, topic] of STEPS) await broker.createTopic(topic, { partitions: PARTITIONS });
    const timeIso = new Date().toISOString();
    let next = 0;
    const worker = async (): Promise<void> => {
      // Bounded by `calls`.
      while (next < calls) {
        const call = next++;
        const step = call % STEPS.length;
        const from = Math.floor(call / STEPS.length) * FILL_ORDERS_PER_CALL;
        const to = Math.min(orders, from + FILL_ORDERS_PER_CALL);
        await broker.publish(STEPS[step]![1], stepMessages(step, from, to, timeIso));
        if (call % FILL_CALLS_PER_TICK === 0) bar.tick(`${format(call * FILL_ORDERS_PER_CALL)} events`);
      }
    };
    await Promise.all(Array.from({ length: FILL_CALLS_OUTSTANDING }, worker));
    const now = new Date().toISOString();
    await broker.publish(
      'orders.dlq',
      Array.from({ length: DEAD_LETTERS }, (_, index) => {
        const [original] = stepMessages(0, index, index + 1, now);
        return {
          key: DEAD_LETTER_KEY,
          headers: {
            ...original!.headers,
            [DEAD_LETTER_HEADERS.id]: `dlq-${index}`,
            [DEAD_LETTER_HEADERS.topic]: 'orders',
            [DEAD_LETTER_HEADERS.partition]: '0',
            [DEAD_LETTER_HEADERS.offset]: String(index),
            [DEAD_LETTER_HEADERS.group]: 'inventory',
            [DEAD_LETTER_HEADERS.reason]: 'handler-failed',
            [DEAD_LETTER_HEADERS.errorName]: 'Error',
            [DEAD_LETTER_HEADERS.errorMessage]: 'out of stock',
            [DEAD_LETTER_HEADERS.attempts]: '3',
            [DEAD_LETTER_HEADERS.firstFailedAt]: now,
            [DEAD_LETTER_HEADERS.lastFailedAt]: now,
          },
          body: original!.body,
        };
      }),
    );
    // Each service's group one step behind: lag of a tenth of each topic.
    for (const [step, [, topic, service]] of STEPS.entries()) {
      const group = STEPS[(step + 1) % STEPS.length]![2];
      const offsets = new Map<number, bigint>();
      for (const partition of (await broker.describeTopic(topic)).partitions) {
        offsets.set(partition.partition, (partition.highWatermark * 9n) / 10n);
      }
      await broker.commitOffsets(topic, group === service ? 'audit' : group, offsets);
    }
  } finally {
    bar.done();
    await broker.close();
  }
  return { orders };
}

/**
 * Loads `url` in a fresh document: through about:blank, since a navigation that changes only the
 * hash keeps the page (and its view).
 */
async function loadFresh(page: Page, url: string, waitUntil: 'commit' | 'load' = 'load'): Promise<void> {
  await page.goto('about:blank');
  await page.goto(url, { waitUntil });
}

/** Milliseconds from navigation start to the frame that first shows `selector` in the page. */
async function firstPaintMs(page: Page, url: string, selector: string): Promise<number> {
  await loadFresh(page, url, 'commit');
  const handle = await page.waitForFunction(
    (wanted) => (document.querySelector(wanted) === null ? false : performance.now()),
    selector,
    { polling: 'raf', timeout: STEP_TIMEOUT_MS },
  );
  return (await handle.jsonValue()) as number;
}

/** Milliseconds from `act()` to the frame that shows `selector`. */
async function actionMs(page: Page, act: () => Promise<void>, selector: string): Promise<number> {
  const started = await page.evaluate(() => performance.now());
  await act();
  const handle = await page.waitForFunction(
    (wanted) => (document.querySelector(wanted) === null ? false : performance.now()),
    selector,
    { polling: 'raf', timeout: STEP_TIMEOUT_MS },
  );
  return ((await handle.jsonValue()) as number) - started;
}

/** What one search over every event showed. */
interface SearchRun {
  readonly firstProgressMs: number;
  readonly doneMs: number;
  readonly progressUpdates: number;
  readonly scanned: number;
  readonly stoppedBy: string;
}

/** Runs a search for `needle` in the page, recording each progress text it shows. */
async function searchRun(page: Page, url: string, needle: string, limit: number): Promise<SearchRun> {
  await loadFresh(page, `${url}#search`);
  await page.getByLabel('Text in key, value or headers').fill(needle);
  await page.getByLabel('Result limit').fill(String(limit));
  await page.evaluate(() => {
    const status = document.querySelector('[data-testid="search-progress"]')!;
    const seen: { ms: number; text: string }[] = [];
    (globalThis as unknown as { seen: typeof seen }).seen = seen;
    new MutationObserver(() => seen.push({ ms: performance.now(), text: status.textContent ?? '' })).observe(
      status,
      { childList: true, subtree: true, characterData: true },
    );
  });
  const started = await page.evaluate(() => performance.now());
  await page.getByRole('form', { name: 'Search messages' }).getByRole('button', { name: 'Search' }).click();
  await page.getByTestId('search-progress').getByText('done').waitFor({ timeout: STEP_TIMEOUT_MS });
  const seen = await page.evaluate(
    () => (globalThis as unknown as { seen: { ms: number; text: string }[] }).seen,
  );
  const texts = seen.filter((entry) => entry.text.startsWith('Scanned'));
  const last = texts.at(-1)!;
  const match = /Scanned ([\d,]+) of [\d,]+ retained events .*\(done: (\w+)\)/.exec(last.text);
  if (match === null) throw new Error(`the search ended with "${last.text}"`);
  return {
    firstProgressMs: texts[0]!.ms - started,
    doneMs: last.ms - started,
    progressUpdates: new Set(texts.map((entry) => entry.text)).size,
    scanned: Number(match[1]!.replaceAll(',', '')),
    stoppedBy: match[2]!,
  };
}

/** The measured steps, in table order, each a selector that means "rendered with data". */
const VIEWS = [
  ['topology', 'table[aria-label="Topology"] tbody tr'],
  ['topics', 'table[aria-label="Topics"] tbody tr'],
  ['groups', 'section[aria-label^="group "] table tbody tr'],
  ['deadLetters', 'table[aria-label="Dead letters"] tbody tr'],
  ['trace', 'form[aria-label="Trace a flow"]'],
  ['search', 'form[aria-label="Search messages"]'],
] as const;

/** Runs the benchmark (see the module comment). */
export async function run(args: string[]): Promise<void> {
  const { quick, json, strings } = parseBenchArgs(args, ['events', 'rounds']);
  const events = Number(strings.events ?? (quick ? '20000' : '1000000'));
  const rounds = Number(strings.rounds ?? (quick ? '1' : '3'));
  if (!Number.isSafeInteger(events) || events < STEPS.length) throw new Error('--events must be ≥ 4');
  if (!Number.isSafeInteger(rounds) || rounds < 1) throw new Error('--rounds must be ≥ 1');
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: run scripts/setup.sh`);
  const facts = machineFacts();
  const directory = await tempDir('herald-bench-console-');
  let browser: Browser | undefined;
  try {
    const fillStarted = performance.now();
    const { orders } = await fill(directory.path, events);
    const fillSeconds = (performance.now() - fillStarted) / 1000;
    // Opened as `herald console --data DIR` opens it.
    const target = await openTarget({ data: directory.path }, { stdout: () => {}, stderr: () => {} }, false);
    const server = await startConsole({ target });
    try {
      browser = await chromium.launch({ executablePath: CHROMIUM });
      const page = await browser.newPage();
      const samples = new Map<string, number[]>();
      const add = (name: string, ms: number) => samples.set(name, [...(samples.get(name) ?? []), ms]);
      const searches: SearchRun[] = [];
      const customerSearches: SearchRun[] = [];
      const traced = orderId(Math.floor(orders / 2));
      for (let round = 0; round < rounds; round++) {
        process.stderr.write(`console: round ${round + 1} of ${rounds}\n`);
        for (const [view, selector] of VIEWS)
          add(view, await firstPaintMs(page, `${server.url}#${view}`, selector));
        await loadFresh(page, `${server.url}#topics`);
        await page.locator('table[aria-label="Topics"] tbody tr').first().waitFor();
        await page
          .getByRole('form', { name: 'Browse a partition' })
          .getByLabel('Topic')
          .selectOption('orders');
        add(
          'messages',
          await actionMs(
            page,
            () =>
              page
                .getByRole('form', { name: 'Browse a partition' })
                .getByRole('button', { name: 'Browse' })
                .click(),
            'table[aria-label="Messages"] tbody tr',
          ),
        );
        await loadFresh(page, `${server.url}#trace`);
        await page.getByLabel('Order id (key), correlation id or event id').fill(traced);
        add(
          'traceResult',
          await actionMs(
            page,
            () =>
              page.getByRole('form', { name: 'Trace a flow' }).getByRole('button', { name: 'Trace' }).click(),
            'ol[aria-label="Flow steps"] li:nth-child(4)',
          ),
        );
        searches.push(await searchRun(page, server.url, ABSENT_TEXT, 100));
        customerSearches.push(await searchRun(page, server.url, CUSTOMER_TEXT, CUSTOMER_LIMIT));
      }
      const med = (name: string) => median(samples.get(name) ?? [Number.NaN]);
      const summary = (runs: readonly SearchRun[]) => {
        const doneMs = median(runs.map((s) => s.doneMs));
        return {
          firstProgressMs: median(runs.map((s) => s.firstProgressMs)),
          doneMs,
          progressUpdates: median(runs.map((s) => s.progressUpdates)),
          scanned: runs[0]!.scanned,
          stoppedBy: runs[0]!.stoppedBy,
          scannedPerSecond: runs[0]!.scanned / (doneMs / 1000),
        };
      };
      const search = summary(searches);
      const customer = summary(customerSearches);
      const loadAtEnd = machineFacts().loadAverage;
      const result = {
        events: orders * STEPS.length,
        deadLetters: DEAD_LETTERS,
        fillSeconds,
        rounds,
        medianMs: Object.fromEntries([...samples.keys()].map((name) => [name, med(name)])),
        search,
        customerSearch: customer,
        loadAverage: facts.loadAverage,
        loadAverageAtEnd: loadAtEnd,
      };
      if (json) {
        process.stdout.write(`${JSON.stringify(result)}\n`);
        return;
      }
      const paint = (name: string, label: string, judged: boolean) => [
        label,
        format(med(name)),
        judged ? `≤ ${format(FIRST_PAINT_MS_MAX)}` : '',
        judged ? (med(name) <= FIRST_PAINT_MS_MAX ? 'yes' : 'NO') : '',
      ];
      process.stdout.write(
        `### Console over ${format(result.events)} retained events (+${DEAD_LETTERS} dead letters)\n\n` +
          `${facts.cores}× ${facts.cpu}, load average ${facts.loadAverage.map((l) => format(l, 2)).join(' / ')}` +
          ` at the start, ${loadAtEnd.map((l) => format(l, 2)).join(' / ')} at the end` +
          `${loadIsHigh(loadAtEnd, facts.cores) || loadIsHigh(facts.loadAverage, facts.cores) ? ' (high: figures are noisy)' : ''}; ` +
          `filled in ${format(fillSeconds, 1)} s; median of ${rounds} round(s)\n\n` +
          markdownTable(
            ['measure', 'ms', 'target', 'met'],
            [
              paint('topology', 'first paint: topology', true),
              paint('topics', 'first paint: topics', true),
              paint('messages', "a topic's messages (Browse → 50 rows)", true),
              paint('groups', 'first paint: groups', true),
              paint('deadLetters', 'first paint: dead letters', true),
              paint('trace', 'first paint: trace', true),
              paint('search', 'first paint: search', true),
              paint('traceResult', 'trace of one order (Trace → its steps)', false),
              ['search: first progress shown', format(search.firstProgressMs), '', ''],
              ['search: done', format(search.doneMs), '', ''],
              ["search for one customer's events: done", format(customer.doneMs), '', ''],
            ],
            { align: ['left', 'right', 'right', 'left'] },
          ) +
          `\nsearch: ${format(search.scanned)} events scanned, stopped by ${search.stoppedBy}, ` +
          `${format(search.scannedPerSecond)} events/s, ${format(search.progressUpdates)} progress updates shown\n` +
          `search for ${CUSTOMER_TEXT} (limit ${format(CUSTOMER_LIMIT)}): ${format(customer.scanned)} events scanned, ` +
          `stopped by ${customer.stoppedBy}, ${format(customer.scannedPerSecond)} events/s, ` +
          `${format(customer.progressUpdates)} progress updates shown\n`,
      );
    } finally {
      await browser?.close();
      await server.close();
      await target.close();
    }
  } finally {
    await directory.remove();
  }
}
