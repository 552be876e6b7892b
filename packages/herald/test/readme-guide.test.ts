/**
 * Every TypeScript example of the README's Guide runs. The Guide's snippets are chapters of one
 * walkthrough (they use `bus`, `OrderCreated`… from earlier ones), so each is run as written inside
 * a small program: what the reader already has before it, the snippet itself (its imports hoisted
 * and merged), and checks after it that fail when the documented behaviour breaks. A snippet with
 * no entry in CHAPTERS fails the test: a new example needs its harness.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';

const root = join(import.meta.dirname, '..', '..', '..');

/** What a snippet needs before it and what is checked after it. */
interface Chapter {
  /** A line of the snippet that identifies it. */
  readonly marker: string;
  readonly before: string;
  readonly after: string;
}

const CONTRACTS = `
const OrderCreated = defineEvent('OrderCreated', {
  topic: 'orders',
  schema: z.object({ orderId: z.string(), total: z.number().positive() }),
  key: (order) => order.orderId,
});
const ReserveInventory = defineCommand('ReserveInventory', {
  schema: z.object({ orderId: z.string(), sku: z.string(), quantity: z.number().int().positive() }),
  key: (command) => command.sku,
});
const GetStock = defineQuery('GetStock', {
  schema: z.object({ sku: z.string() }),
  result: z.object({ sku: z.string(), available: z.number().int() }),
});
`;

/** Polls `condition` until it holds; fails after 10 s. */
const WAIT_FOR = `
async function waitFor(condition, what) {
  const deadline = Date.now() + 10_000;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error('timed out waiting for ' + what);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
`;

const CHAPTERS: readonly Chapter[] = [
  {
    marker: "const ReserveInventory = defineCommand('ReserveInventory', {",
    before: '',
    after: `
assert.equal(ReserveInventory.topic, 'commands.ReserveInventory');
assert.equal(GetStock.topic, 'queries.GetStock');
assert.equal(ReserveInventory.key({ orderId: 'o', sku: 'sku-9', quantity: 1 }), 'sku-9');
`,
  },
  {
    marker: "const PriceSet = defineEvent('PriceSet', {",
    before: '',
    after: `
assert.equal(PriceSet.version, 2);
assert.deepEqual(PriceSet.upcasters[1]({ orderId: 'o-1', amountCents: 1250 }), {
  orderId: 'o-1',
  amount: { value: 12.5, currency: 'EUR' },
});
`,
  },
  {
    marker: 'const envelope = await bus.publish(OrderCreated',
    before: `${CONTRACTS}
const bus = createBus({ source: '/shop' });
bus.reply(GetStock, async (query) => ({ sku: query.sku, available: 3 }));
await bus.start();
`,
    after: `
assert.equal(envelope.type, 'OrderCreated');
assert.deepEqual(stock, { sku: 'sku-1', available: 3 });
await bus.stop();
`,
  },
  {
    marker: "bus.on(OrderCreated, { group: 'inventory', concurrency: 8 }",
    before: `${CONTRACTS}
const bus = createBus({ source: '/shop' });
`,
    after: `
await bus.publish(OrderCreated, { orderId: 'o-1', total: 10 });
assert.deepEqual(await bus.request(GetStock, { sku: 'sku-1' }, { timeoutMs: 5000 }), { sku: 'sku-1', available: 3 });
await waitFor(() => bus.stats().handled >= 2, 'OrderCreated and ReserveInventory handled');
await bus.stop();
`,
  },
  {
    marker: "bus.on(PaymentProcessed, { group: 'ledger' }",
    before: `
const PaymentProcessed = defineEvent('PaymentProcessed', {
  topic: 'payments',
  schema: z.object({ account: z.string(), cents: z.number().int() }),
  key: (payment) => payment.account,
});
const ledger = new DatabaseSync(join(process.env.HERALD_DATA_DIR, 'idempotency.sqlite'));
ledger.exec("CREATE TABLE IF NOT EXISTS balances (account TEXT PRIMARY KEY, cents INTEGER); INSERT INTO balances VALUES ('acc-1', 0)");
const bus = createBus({ source: '/payments' });
`,
    after: `
await bus.start();
const payment = await bus.publish(PaymentProcessed, { account: 'acc-1', cents: 250 });
await bus.transport.publish('payments', [encodeEnvelope(payment)]); // delivered twice: applied once
await bus.publish(PaymentProcessed, { account: 'acc-1', cents: 1 });
const balance = () => ledger.prepare("SELECT cents FROM balances WHERE account = 'acc-1'").get().cents;
await waitFor(() => balance() === 251, 'both payments applied');
await waitFor(() => bus.stats().duplicatesSkipped === 1, 'the duplicate skipped');
assert.equal(balance(), 251);
await bus.stop();
ledger.close();
`,
  },
  {
    marker: 'const reminder = await bus.send(ReserveInventory',
    before: `${CONTRACTS}
const bus = createBus({ source: '/shop' });
const reserved = [];
bus.handle(ReserveInventory, (command) => {
  reserved.push(command.orderId);
});
await bus.start();
`,
    after: `
assert.equal(outcome, 'cancelled');
assert.equal(await bus.cancelScheduled(reminder.id), 'not-pending');
const soon = await bus.send(ReserveInventory, { orderId: 'o-4', sku: 'sku-1', quantity: 1 }, { delayMs: 300 });
await waitFor(() => reserved.includes('o-4'), 'the scheduled command');
assert.ok(Date.now() >= Date.parse(soon.time) + 300, 'delivered early');
assert.deepEqual(reserved, ['o-4']);
await bus.stop();
`,
  },
  {
    marker: "bus.on(OrderShipped, { group: 'audit', topicPattern: 'orders.*' }",
    before: `
const bus = createBus({ source: '/shop' });
const lines = [];
const log = console.log;
console.log = (line) => lines.push(line);
`,
    after: `
const envelope = await bus.publish(OrderShipped, { orderId: 'o-1' });
// A foreign producer sends the same type to a topic created after the subscription, and elsewhere.
const copy = (id, orderId) => encodeEnvelope({ ...envelope, id, data: { orderId } });
await bus.transport.publish('orders.us', [copy('id-2', 'o-2')]);
await bus.transport.publish('shipments', [copy('id-3', 'o-3')]);
await waitFor(() => lines.length >= 2, 'both matching topics');
console.log = log;
assert.deepEqual(lines.sort(), ['orders.eu: o-1', 'orders.us: o-2']);
await bus.stop();
`,
  },
  {
    marker: 'const document = await asyncApiDocument({',
    before: CONTRACTS,
    after: `
assert.equal(document.asyncapi, '3.0.0');
assert.deepEqual(Object.keys(document.channels), ['commands.ReserveInventory', 'orders']);
assert.deepEqual(document.components.messages.OrderCreated.payload.schema.required, ['orderId', 'total']);
assert.ok(document.operations['inventory.receive.orders'].bindings.kafka.groupId.enum.includes('inventory'));
assert.equal(document.operations['order.send.orders'].action, 'send');
`,
  },
  {
    marker: "const letters = await bus.deadLetters.list({ topic: 'orders', group: 'inventory' });",
    before: `${CONTRACTS}
const bus = createBus({ source: '/shop', retry: { attempts: 2, delayMsInitial: 10, jitter: 0 } });
let fixed = false;
const handled = [];
bus.on(OrderCreated, { group: 'inventory' }, (order) => {
  if (!fixed) throw new Error('inventory is down');
  handled.push(order.orderId);
});
await bus.start();
await bus.publish(OrderCreated, { orderId: 'o-dead', total: 5 });
await waitFor(async () => (await bus.deadLetters.list({ topic: 'orders' })).length === 1, 'the dead letter');
fixed = true;
`,
    after: `
assert.equal(letters.length, 1);
assert.equal(letters[0].reason, 'retries-exhausted');
assert.equal(letters[0].attempts, 2);
await waitFor(() => handled.includes('o-dead'), 'the redriven order handled');
assert.deepEqual(await bus.deadLetters.list({ topic: 'orders' }), []);
await bus.stop();
`,
  },
  {
    marker: "import { rabbitMqTransport } from '@herald/transport-rabbitmq';",
    before: '',
    after: `
assert.equal(bus.transport.name, 'rabbitmq');
await bus.start();
await bus.stop();
`,
  },
  {
    marker: "import { createTestBus } from 'herald/testing';",
    before: CONTRACTS,
    after: `
assert.equal(command.data.orderId, 'o-1');
assert.equal(command.data.sku, 'sku-1');
`,
  },
];

/** Imports every program gets (merged with the snippet's own). */
const PRELUDE_IMPORTS = `
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { createBus, defineCommand, defineEvent, defineQuery, encodeEnvelope } from 'herald';
import { z } from 'zod';
`;

/** The ```ts blocks between `## Guide` and the next `## ` heading. */
function guideSnippets(markdown: string): string[] {
  const start = markdown.indexOf('\n## Guide\n');
  assert.ok(start >= 0, 'README.md has no ## Guide section');
  const end = markdown.indexOf('\n## ', start + 1);
  const guide = markdown.slice(start, end < 0 ? undefined : end);
  return [...guide.matchAll(/```ts\n([\s\S]*?)```/g)].map((match) => match[1]!);
}

const IMPORT = /^import\s+(?:(\w+)|\{([^}]*)\})\s+from\s+'([^']+)';$/;

/** Merges the import lines of every part, one line per module, and returns them with the rest. */
function hoistImports(parts: readonly string[]): { imports: string; bodies: string[] } {
  const named = new Map<string, Set<string>>();
  const defaults = new Map<string, string>();
  const bodies = parts.map((part) =>
    part
      .split('\n')
      .filter((line) => {
        const match = IMPORT.exec(line.trim());
        if (match === null) return true;
        const [, defaultName, names, module] = match;
        if (defaultName !== undefined) defaults.set(module!, defaultName);
        for (const name of names?.split(',') ?? []) {
          if (name.trim() !== '') named.set(module!, (named.get(module!) ?? new Set()).add(name.trim()));
        }
        return false;
      })
      .join('\n'),
  );
  const modules = new Set([...named.keys(), ...defaults.keys()]);
  const imports = [...modules].map((module) => {
    const parts = [
      defaults.get(module),
      named.has(module) ? `{ ${[...named.get(module)!].join(', ')} }` : undefined,
    ];
    return `import ${parts.filter(Boolean).join(', ')} from '${module}';`;
  });
  return { imports: imports.join('\n'), bodies };
}

describe('readme guide - every TypeScript example of the Guide runs', { timeout: 300_000 }, () => {
  const snippets = guideSnippets(readFileSync(join(root, 'README.md'), 'utf8'));

  it('readme guide - every snippet has a harness entry', () => {
    assert.ok(snippets.length >= CHAPTERS.length, `the Guide has ${snippets.length} snippets`);
    for (const snippet of snippets) {
      const entries = CHAPTERS.filter((chapter) => snippet.includes(chapter.marker));
      assert.equal(entries.length, 1, `add a CHAPTERS entry for this README snippet:\n${snippet}`);
    }
  });

  for (const chapter of CHAPTERS) {
    it(`readme guide - ${chapter.marker}`, { timeout: 60_000 }, () => {
      const snippet = snippets.find((candidate) => candidate.includes(chapter.marker));
      assert.ok(snippet !== undefined, `README.md's Guide no longer has: ${chapter.marker}`);
      const { imports, bodies } = hoistImports([
        PRELUDE_IMPORTS,
        WAIT_FOR + chapter.before,
        snippet,
        chapter.after,
      ]);
      const program = [imports, ...bodies.slice(1)].join('\n');
      const dataDirectory = mkdtempSync(join(tmpdir(), 'herald-readme-guide-'));
      try {
        const run = spawnSync(process.execPath, ['--input-type=module-typescript', '-e', program], {
          cwd: root,
          env: { ...process.env, HERALD_DATA_DIR: dataDirectory, HERALD_LOG_LEVEL: 'silent' },
          encoding: 'utf8',
          timeout: 45_000,
        });
        assert.equal(
          run.status,
          0,
          `the example exited with ${run.status ?? run.signal}\n--- program ---\n${program}\n--- stderr ---\n${run.stderr}`,
        );
      } finally {
        rmSync(dataDirectory, { recursive: true, force: true });
      }
    });
  }
});
