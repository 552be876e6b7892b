/**
 * The console in Debian's Chromium (playwright-core, no browser download) against a running
 * checkout on the embedded broker: a search by an order id finds its events, the trace of that
 * order shows each service's step in order (with its handler runs from the spans), the topology
 * shows the seven services with live rates, a group's lag rises while its consumer is stopped, a
 * dead letter is redriven and disappears, a produced message shows in browse and is re-produced,
 * and axe-core finds no serious violations in any view.
 * Screenshots go to packages/console/test-results/ (ignored by git).
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { embeddedTransport } from '@herald/broker';
import { DEAD_LETTER_HEADERS, DEAD_LETTER_KEY } from '@herald/bus';
import { headerMap, type Target, targetOfBroker } from '@herald/cli/internal';
import { temporaryDirectory } from '@herald/test-support';
import { type Browser, chromium, type Page } from 'playwright-core';
import { type Checkout, startCheckout } from '../../../apps/checkout/src/app.ts';
import { registerCustomers, runLoad } from '../../../apps/checkout/src/load.ts';
import { SERVICE_NAMES } from '../../../apps/checkout/src/services/index.ts';
import { type CheckoutTracing, startTracing } from '../../../apps/checkout/src/tracing.ts';
import { type ConsoleServer, startConsole } from '../src/index.ts';

const CHROMIUM = '/usr/bin/chromium';
const ARTEFACTS = new URL('../test-results/', import.meta.url);
/** How long one UI expectation may take on a loaded 2-core machine. */
const EXPECT_TIMEOUT_MS = 20_000;
/** Every test's deadline, and the skip (with its reason) where Debian's Chromium is missing. */
const OPTIONS = {
  timeout: 90_000,
  skip: existsSync(CHROMIUM)
    ? false
    : `${CHROMIUM} is missing: run scripts/setup.sh (it installs Debian's chromium)`,
} as const;

let checkout: Checkout | undefined;
let tracing: CheckoutTracing | undefined;
let tracesFile = '';
let transport: Awaited<ReturnType<typeof embeddedTransport>>;
let target: Target;
let server: ConsoleServer | undefined;
let browser: Browser | undefined;
let page: Page;

before(
  async () => {
    if (OPTIONS.skip !== false) return;
    mkdirSync(ARTEFACTS, { recursive: true });
    const dataDir = temporaryDirectory('herald-console-test-');
    transport = await embeddedTransport({ dir: `${dataDir}/broker`, partitions: 1 });
    // Spans to a JSON-lines file, as `npm start -- --otel` writes them: the trace shows handler runs.
    tracesFile = join(dataDir, 'traces.jsonl');
    tracing = startTracing({ exportSpans: true, filePath: tracesFile, env: {} });
    checkout = await startCheckout({ dataDir, transport });
    await registerCustomers(checkout.url, 3);
    const load = await runLoad({ url: checkout.url, orders: 5, ratePerSecond: 20, customers: 3, seed: 7 });
    assert.equal(load.failed, 0, load.failures.join('\n'));
    target = targetOfBroker(transport.broker);
    server = await startConsole({ transport, traces: tracesFile });
    browser = await chromium.launch({ executablePath: CHROMIUM });
    page = await browser.newPage();
    page.setDefaultTimeout(EXPECT_TIMEOUT_MS);
  },
  { timeout: 120_000 },
);

after(
  async () => {
    await browser?.close();
    await server?.close();
    await checkout?.stop();
    await tracing?.shutdown();
  },
  { timeout: 60_000 },
);

/**
 * A load seed no other load of this file used. A load's idempotency keys are
 * `load-<seed>-<index>`, so a seed used twice places no new orders (the checkout answers the
 * replays with 200): a retried load's seed of `Date.now() % 1000` could match a later test's fixed
 * seed, whose orders then made no events: the likely cause of a CI run that timed out waiting for
 * the lag they make.
 */
let nextSeed = 1_000;
function unusedSeed(): number {
  return nextSeed++;
}

/** Polls `check` until it holds or the deadline passes. */
async function eventually(check: () => Promise<boolean>, what: string): Promise<void> {
  const deadline = Date.now() + EXPECT_TIMEOUT_MS;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

async function openView(label: string): Promise<void> {
  await page.getByRole('navigation', { name: 'Views' }).getByRole('button', { name: label }).click();
  await page.getByRole('heading', { level: 2, name: label }).waitFor();
}

async function checkAccessibility(view: string): Promise<void> {
  await page.addScriptTag({
    content: readFileSync(new URL(import.meta.resolve('axe-core/axe.min.js')), 'utf8'),
  });
  const violations = await page.evaluate(async () => {
    const axe = (
      globalThis as unknown as { axe: { run(): Promise<{ violations: { id: string; impact: string }[] }> } }
    ).axe;
    return (await axe.run()).violations
      .filter((v) => v.impact === 'serious' || v.impact === 'critical')
      .map((v) => v.id);
  });
  assert.deepEqual(violations, [], `${view}: serious axe violations`);
  await page.screenshot({ path: new URL(`${view}.png`, ARTEFACTS).pathname, fullPage: true });
}

/** The order id (the key) of the first order the checkout accepted. */
async function firstOrderId(): Promise<string> {
  const record = (await target.fetch('orders', 0, 0n, 0)).records.find(
    (r) => headerMap(r).ce_type === 'OrderCreated',
  );
  assert.ok(record?.key, 'the checkout created an order');
  return Buffer.from(record.key).toString();
}

test('console - topics, search and the trace of one order', OPTIONS, async () => {
  await page.goto(server!.url);
  await page.getByRole('table', { name: 'Topics' }).waitFor();
  await checkAccessibility('topics');

  const orderId = await firstOrderId();
  await openView('Search');
  await page.getByLabel('Text in key, value or headers').fill(orderId);
  await page.getByRole('form', { name: 'Search messages' }).getByRole('button', { name: 'Search' }).click();
  await page.getByTestId('search-progress').getByText('done').waitFor();
  const rows = page.getByRole('table', { name: 'Search results' }).locator('tbody tr');
  assert.ok((await rows.count()) >= 2, 'the order has several events');
  await checkAccessibility('search');

  await rows.filter({ hasText: 'OrderCreated' }).getByRole('button').click();
  await page.getByRole('region', { name: /^message / }).waitFor();
  await page.screenshot({ path: new URL('message.png', ARTEFACTS).pathname, fullPage: true });
  // The batch span processor exports every 5 s: wait until the order's first event's handler runs are in the file.
  const created = (await target.fetch('orders', 0, 0n, 0)).records.find(
    (record) => headerMap(record).ce_type === 'OrderCreated',
  );
  const createdId = headerMap(created!).ce_id!;
  await eventually(
    async () =>
      existsSync(tracesFile) &&
      readFileSync(tracesFile, 'utf8').includes(`"messaging.message.id":"${createdId}"`),
    'the spans of the first order in the span file',
  );
  await page.getByRole('button', { name: /^Trace flow / }).click();
  const steps = page.getByRole('list', { name: 'Flow steps' }).locator(':scope > li');
  await steps.first().waitFor();
  const services = await steps.evaluateAll((items) => items.map((item) => item.getAttribute('data-service')));
  assert.equal(services[0], 'order', `the flow starts at the order service: ${services.join(',')}`);
  // The order's flow crosses the order, inventory, payment and notification services (at least).
  for (const service of ['order', 'inventory', 'payment', 'notification']) {
    assert.ok(services.includes(service), `${service} takes part: ${services.join(',')}`);
  }
  // With the span file, each event lists its handler runs: OrderCreated is handled by the order
  // saga, analytics and audit.
  const runs = page.getByRole('list', { name: /^Handler runs of OrderCreated / }).locator('li');
  await runs.first().waitFor();
  const handlers = await runs.evaluateAll((items) =>
    items.map((item) => item.getAttribute('data-run-service')),
  );
  for (const service of ['order', 'analytics', 'audit']) {
    assert.ok(handlers.includes(service), `${service} handled OrderCreated: ${handlers.join(',')}`);
  }
  await checkAccessibility('trace');
});

test(
  'console - the topology shows the seven services, live rates on edges and lag on groups',
  OPTIONS,
  async () => {
    await openView('Topology');
    await page.getByRole('table', { name: 'Topology' }).waitFor();
    // Every service announced itself on herald.services, including the two that only consume
    // (analytics, audit): each is a node of the graph and a row of the services list.
    await eventually(async () => {
      const listed = await page
        .getByRole('list', { name: 'Services' })
        .locator('li')
        .evaluateAll((items) => items.map((item) => item.getAttribute('data-service')));
      return SERVICE_NAMES.every((name) => listed.includes(name));
    }, 'the seven services in the topology');
    for (const name of SERVICE_NAMES) {
      assert.ok((await page.locator(`[data-node="service:${name}"]`).count()) >= 1, `${name} is a node`);
    }
    assert.ok(
      (await page.locator('[data-node="service:audit"]').first().textContent())?.includes('instance'),
      'audit is announced, with its instances',
    );
    // Orders placed while the view polls give the order service's edge to its topic a rate above 0.
    const edge = page.locator('[data-edge="service:order>topic:orders"] text');
    await eventually(async () => {
      await runLoad({
        url: checkout!.url,
        orders: 4,
        ratePerSecond: 20,
        customers: 3,
        seed: unusedSeed(),
      });
      const text = (await edge.count()) > 0 ? await edge.first().textContent() : null;
      return text !== null && text !== '0.0/s';
    }, 'a live rate on order → orders');
    assert.match((await page.locator('[data-node="group:analytics"]').textContent()) ?? '', /lag \d+/);
    // Clicking a node opens it: the audit service's handlers, the orders topic's groups.
    await page.locator('[data-node="service:audit"]').first().click();
    const details = page.getByRole('region', { name: 'Details of service audit' });
    await details.getByRole('table', { name: 'Its handlers' }).getByText('OrderCreated').first().waitFor();
    await page.locator('[data-node="topic:orders"]').click();
    await page
      .getByRole('region', { name: 'Details of topic orders' })
      .getByText(/analytics/)
      .waitFor();
    await checkAccessibility('topology');
    await page
      .locator('.topology-graph')
      .screenshot({ path: new URL('topology-graph.png', ARTEFACTS).pathname });
  },
);

test('console - produce a message, see it in browse, re-produce it', OPTIONS, async () => {
  // A topic no service consumes: the produced messages change nothing else in the checkout.
  await target.createTopic('console-produced', 1);
  const key = `console-${Date.now()}`;
  await page.goto(server!.url);
  await page.getByRole('table', { name: 'Topics' }).waitFor();
  await page.getByRole('button', { name: 'Produce a message…' }).click();
  const form = page.getByRole('form', { name: 'Produce a message' });
  await form.getByLabel('Topic').selectOption('console-produced');
  await form.getByLabel('Key').fill(key);
  await form.getByLabel('Value', { exact: true }).fill('{"note": unquoted}');
  await form.getByRole('button', { name: 'Produce', exact: true }).click();
  // Checked in the page before it is sent.
  await form
    .getByRole('alert')
    .getByText(/not valid JSON/)
    .waitFor();
  await checkAccessibility('produce');
  await form.getByLabel('Value', { exact: true }).fill(`{"note":"from the console test"}`);
  await form.getByRole('button', { name: 'Produce', exact: true }).click();
  await page
    .getByRole('status')
    .getByText(/Produced \d+ bytes to console-produced partition 0/)
    .waitFor();
  const browseNewest = page.getByRole('button', { name: 'Browse the newest of console-produced / 0' });
  await browseNewest.click();
  const rows = page.getByRole('table', { name: 'Messages' }).locator('tbody tr').filter({ hasText: key });
  await rows.first().waitFor();
  assert.equal(await rows.count(), 1);

  await rows.first().getByRole('button').click();
  await page.getByRole('button', { name: 'Re-produce…' }).click();
  const again = page.getByRole('form', { name: 'Produce a message' });
  assert.equal(await again.getByLabel('Key').inputValue(), key, 'the form is prefilled');
  assert.match(await again.getByLabel('Value', { exact: true }).inputValue(), /from the console test/);
  await again.getByRole('button', { name: 'Produce', exact: true }).click();
  await again.waitFor({ state: 'detached' });
  await browseNewest.click();
  await eventually(async () => (await rows.count()) === 2, 'the re-produced message in browse');
  await page.screenshot({ path: new URL('produce.png', ARTEFACTS).pathname, fullPage: true });
});

test('console - read-only: no produce or re-produce controls', OPTIONS, async () => {
  const readOnly = await startConsole({ transport, readOnly: true });
  try {
    const settings = page.waitForResponse((response) => response.url().includes('/api/settings'));
    await page.goto(readOnly.url);
    await settings;
    await page.getByRole('table', { name: 'Topics' }).waitFor();
    const browse = page.getByRole('form', { name: 'Browse a partition' });
    await browse.getByLabel('Topic').selectOption('orders');
    await browse.getByRole('button', { name: 'Browse' }).click();
    await page
      .getByRole('table', { name: 'Messages' })
      .locator('tbody tr')
      .first()
      .getByRole('button')
      .click();
    await page.getByRole('region', { name: /^message / }).waitFor();
    assert.equal(await page.getByRole('button', { name: 'Produce a message…' }).count(), 0);
    assert.equal(await page.getByRole('button', { name: 'Re-produce…' }).count(), 0);
  } finally {
    await readOnly.close();
  }
});

test('console - keyboard: the views are reachable with Tab and Enter', OPTIONS, async () => {
  await page.goto(server!.url);
  await page.getByRole('table', { name: 'Topics' }).waitFor();
  await page.keyboard.press('Tab');
  assert.equal(await page.evaluate(() => document.activeElement?.textContent), 'Topics');
  for (let index = 0; index < 2; index++) await page.keyboard.press('Tab');
  await page.keyboard.press('Enter');
  await page.getByRole('heading', { level: 2, name: 'Dead letters' }).waitFor();
});

test('console - a group lags while its consumer is stopped; reset refused while live', OPTIONS, async () => {
  await openView('Groups');
  await page.getByRole('button', { name: 'Refresh groups' }).waitFor();
  await checkAccessibility('groups');
  // A reset asks for confirmation, and the server refuses it while the group's consumer is live.
  const live = page.getByRole('button', { name: /^Reset notification on / }).first();
  await live.click();
  await page.getByRole('alertdialog', { name: 'Confirm reset' }).waitFor();
  await page.getByRole('button', { name: 'Confirm reset' }).click();
  await page
    .getByRole('status')
    .getByText(/live member/)
    .waitFor();
  await checkout!.stopService('notification');
  const load = await runLoad({ url: checkout!.url, orders: 2, ratePerSecond: 20, customers: 3, seed: 8 });
  assert.equal(load.accepted, 2, `two new orders: ${JSON.stringify(load)}`);
  await eventually(async () => {
    await page.getByRole('button', { name: 'Refresh groups' }).click();
    const texts = await page.locator('[data-testid^="lag-"]').allInnerTexts();
    const ids = await page
      .locator('[data-testid^="lag-"]')
      .evaluateAll((nodes) => nodes.map((n) => n.getAttribute('data-testid')));
    return ids.some((id, index) => id!.includes('notification') && !texts[index]!.endsWith(' 0'));
  }, 'the notification group to lag');
  await page.screenshot({ path: new URL('groups-lag.png', ARTEFACTS).pathname, fullPage: true });
  await checkout!.startService('notification');
});

test('console - the live tail shows new events of a topic, filtered by type', OPTIONS, async () => {
  await openView('Live tail');
  await page.getByLabel('Topic to follow').selectOption('orders');
  await page.getByRole('form', { name: 'Tail filters' }).getByLabel('Type').fill('OrderCreated');
  await page.getByRole('button', { name: 'Apply filters' }).click();
  const rows = page.getByRole('table', { name: 'Live messages' }).locator('tbody tr');
  // The stream starts at the end: keep placing an order until one arrives (the subscription may
  // open after the first).
  await eventually(async () => {
    await runLoad({
      url: checkout!.url,
      orders: 1,
      ratePerSecond: 20,
      customers: 3,
      seed: unusedSeed(),
    });
    return (await rows.count()) > 0;
  }, 'a new OrderCreated in the live tail');
  const types = await rows.locator('td:nth-child(4)').allInnerTexts();
  assert.ok(
    types.every((type) => type === 'OrderCreated'),
    `only OrderCreated: ${types.join(',')}`,
  );
  await checkAccessibility('tail');
});

test('console - a dead letter is redriven and disappears', OPTIONS, async () => {
  const original = (
    await target.fetch((await target.listTopics()).find((t) => !t.endsWith('.dlq'))!, 0, 0n, 0)
  ).records[0]!;
  const now = new Date().toISOString();
  await target.publish(`${original.topic}.dlq`, [
    {
      key: DEAD_LETTER_KEY,
      headers: {
        ...headerMap(original),
        [DEAD_LETTER_HEADERS.id]: 'dlq-test-1',
        [DEAD_LETTER_HEADERS.topic]: original.topic,
        [DEAD_LETTER_HEADERS.partition]: String(original.partition),
        [DEAD_LETTER_HEADERS.offset]: String(original.offset),
        [DEAD_LETTER_HEADERS.group]: 'console-test-group',
        [DEAD_LETTER_HEADERS.reason]: 'handler-failed',
        [DEAD_LETTER_HEADERS.errorName]: 'Error',
        [DEAD_LETTER_HEADERS.errorMessage]: 'boom',
        [DEAD_LETTER_HEADERS.errorStack]: '',
        [DEAD_LETTER_HEADERS.attempts]: '3',
        [DEAD_LETTER_HEADERS.firstFailedAt]: now,
        [DEAD_LETTER_HEADERS.lastFailedAt]: now,
      },
      value: original.value ?? new Uint8Array(0),
    },
  ]);
  await openView('Dead letters');
  await page.getByRole('button', { name: 'View original dlq-test-1' }).click();
  await page.getByRole('table', { name: 'CloudEvents attributes' }).waitFor();
  await checkAccessibility('dead-letters');
  await page.getByRole('button', { name: 'Redrive dlq-test-1' }).click();
  await page.getByRole('status').getByText('Redrove dlq-test-1').waitFor();
  await eventually(
    async () => (await page.getByRole('button', { name: 'Redrive dlq-test-1' }).count()) === 0,
    'the dead letter to disappear',
  );
});
