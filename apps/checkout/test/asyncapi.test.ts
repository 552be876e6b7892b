import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { Parser } from '@asyncapi/parser';
import { asyncApiDocument } from 'herald';
import { checkoutAsyncApi } from '../src/asyncapi.ts';
import { CONTRACTS } from '../src/contracts.ts';

const COMMITTED = new URL('../asyncapi.json', import.meta.url);
const REGENERATE =
  'npm run herald -- asyncapi apps/checkout/src/asyncapi.ts --out apps/checkout/asyncapi.json';

describe('checkout - AsyncAPI document', { timeout: 120_000 }, () => {
  it('asyncapi - the committed asyncapi.json is the document of the code', async () => {
    const generated = `${JSON.stringify(await asyncApiDocument(checkoutAsyncApi()), null, 2)}\n`;
    const committed = readFileSync(COMMITTED, 'utf8');
    assert.ok(
      generated === committed,
      `apps/checkout/asyncapi.json differs from the contracts and services; regenerate it with\n  ${REGENERATE}`,
    );
  });

  it('asyncapi - the document is valid AsyncAPI 3.0 (@asyncapi/parser)', async () => {
    const { document, diagnostics } = await new Parser().parse(readFileSync(COMMITTED, 'utf8'));
    // Severity 0 is an error; warnings and hints (style suggestions) do not make it invalid.
    const errors = diagnostics.filter((diagnostic) => diagnostic.severity === 0);
    assert.deepEqual(errors, [], 'the parser reported errors');
    assert.ok(document !== undefined);
    assert.equal(document.version(), '3.0.0');
    assert.equal(document.allMessages().length, CONTRACTS.length);
  });

  it('asyncapi - every contract has a sender and a receiver, with a converted payload', async () => {
    const document = (await asyncApiDocument(checkoutAsyncApi())) as unknown as {
      operations: Record<string, { action: string; messages: { $ref: string }[] }>;
      components: { messages: Record<string, { payload?: unknown }> };
    };
    for (const contract of CONTRACTS) {
      for (const action of ['send', 'receive']) {
        const found = Object.values(document.operations).some(
          (operation) =>
            operation.action === action &&
            operation.messages.some((message) => message.$ref.endsWith(`/messages/${contract.type}`)),
        );
        assert.ok(found, `no service ${action}s ${contract.type}; add it to the service's sends or register`);
      }
      assert.ok(
        document.components.messages[contract.type]?.payload,
        `${contract.type} has no payload schema`,
      );
    }
  });
});
