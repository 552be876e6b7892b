import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type Checkout, startCheckout } from '../src/app.ts';
import { postJson, temporaryDirectory } from './helpers.ts';

let checkout: Checkout;
before(async () => {
  checkout = await startCheckout({
    dataDir: temporaryDirectory('http'),
    payment: { latencyMsMin: 1, latencyMsMax: 2 },
  });
});
after(async () => {
  await checkout?.stop();
});

const fields = (body: Record<string, unknown>) =>
  (body.fields as { field: string }[]).map((problem) => problem.field);

describe('checkout - HTTP API bad input', { timeout: 600_000 }, () => {
  it('answers 400 naming every failing field', async () => {
    const response = await postJson(`${checkout.url}/orders`, {
      customerId: '',
      items: [{ sku: 'KB-01', quantity: 1.5 }],
    });
    assert.equal(response.status, 400);
    assert.deepEqual(fields(response.body).sort(), ['customerId', 'items.0.quantity']);
  });

  it('rejects unknown SKUs', async () => {
    const response = await postJson(`${checkout.url}/orders`, {
      customerId: 'c-1',
      items: [
        { sku: 'KB-01', quantity: 1 },
        { sku: 'NOPE-1', quantity: 1 },
      ],
    });
    assert.equal(response.status, 400);
    assert.deepEqual(fields(response.body), ['items.1.sku']);
  });

  it('rejects zero and negative quantities', async () => {
    for (const quantity of [0, -3]) {
      const response = await postJson(`${checkout.url}/orders`, {
        customerId: 'c-1',
        items: [{ sku: 'KB-01', quantity }],
      });
      assert.equal(response.status, 400);
      assert.deepEqual(fields(response.body), ['items.0.quantity']);
    }
  });

  it('rejects a body that is not JSON, an empty order and a bad status filter', async () => {
    assert.equal((await postJson(`${checkout.url}/orders`, '{not json')).status, 400);
    const empty = await postJson(`${checkout.url}/orders`, { customerId: 'c-1', items: [] });
    assert.deepEqual(fields(empty.body), ['items']);
    const list = await fetch(`${checkout.url}/orders?status=lost`);
    assert.equal(list.status, 400);
  });

  it('replays an Idempotency-Key: the same order, created once', async () => {
    const order = { customerId: 'c-9', items: [{ sku: 'MS-02', quantity: 1 }] };
    const headers = { 'idempotency-key': 'client-retry-1' };
    const first = await postJson(`${checkout.url}/orders`, order, headers);
    const [second, third] = await Promise.all([
      postJson(`${checkout.url}/orders`, order, headers),
      postJson(`${checkout.url}/orders`, { ...order, items: [{ sku: 'KB-01', quantity: 9 }] }, headers),
    ]);
    assert.equal(first.status, 202);
    assert.equal(second.status, 200);
    assert.equal(second.headers.get('idempotent-replayed'), 'true');
    assert.equal(second.body.orderId, first.body.orderId);
    assert.equal(third.body.orderId, first.body.orderId);
    const listed = (await (await fetch(`${checkout.url}/orders?limit=1000`)).json()) as {
      orders: { customerId: string }[];
    };
    assert.equal(listed.orders.filter((listedOrder) => listedOrder.customerId === 'c-9').length, 1);
    const fetched = await fetch(`${checkout.url}/orders/${String(first.body.orderId)}`);
    assert.equal(fetched.status, 200);
    assert.equal((await fetch(`${checkout.url}/orders/o-missing`)).status, 404);
  });
});
