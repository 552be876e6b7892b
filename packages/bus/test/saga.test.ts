/**
 * Saga definitions and registration checks of the bus (no database: the transitions against real
 * stores are tested in herald/test/sqlite-saga-store.test.ts and postgres/test/postgres-saga-store.test.ts).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { z } from 'zod';
import {
  ConfigurationError,
  createBus,
  defineEvent,
  defineSaga,
  memoryTransport,
  registerSaga,
  type SagaStore,
  sagaMessage,
  silentLogger,
} from '../src/index.ts';

const Started = defineEvent('Started', { topic: 'things', schema: z.object({ id: z.string() }) });
const Moved = defineEvent('Moved', { topic: 'things', schema: z.object({ id: z.string() }) });
const state = z.object({ n: z.number() });

/** A store the registration checks never reach. */
const unusedStore: SagaStore = {
  name: 'unused',
  load: () => Promise.reject(new Error('not used')),
  save: () => Promise.reject(new Error('not used')),
  prune: () => Promise.reject(new Error('not used')),
  find: () => Promise.reject(new Error('not used')),
  history: () => Promise.reject(new Error('not used')),
  list: () => Promise.reject(new Error('not used')),
  close: async () => {},
};

describe('saga', { timeout: 30_000 }, () => {
  it('saga - a definition is immutable, names its timeout command, and refuses a contract registered twice', () => {
    const base = defineSaga({ name: 'thing', state });
    const started = base.startedBy(
      Started,
      (event) => event.id,
      () => ({ state: { n: 0 } }),
    );
    assert.equal(base.steps.size, 0, 'startedBy returned a new definition');
    assert.equal(started.timeoutContract, base.timeoutContract, 'one timeout command per saga');
    assert.equal(base.timeoutContract.type, 'herald.saga.timeout.thing');
    assert.equal(base.timeoutContract.topic, 'commands.herald.saga.timeout.thing');
    assert.equal(
      defineSaga({ name: 'other', state, timeoutTopic: 'timeouts' }).timeoutContract.topic,
      'timeouts',
    );
    // A start message may also advance an existing saga.
    const both = started.on(
      Started,
      (event) => event.id,
      (_event, current) => ({ state: { n: current.n + 1 } }),
    );
    assert.ok(
      both.steps.get('Started')?.start !== undefined && both.steps.get('Started')?.advance !== undefined,
    );
    assert.throws(
      () =>
        started.startedBy(
          Started,
          (event) => event.id,
          () => ({ state: { n: 1 } }),
        ),
      ConfigurationError,
    );
    assert.throws(
      () =>
        both.on(
          Started,
          (event) => event.id,
          () => undefined,
        ),
      /"Started" is registered twice/,
    );
    assert.throws(() => defineSaga({ name: 'no spaces', state }), ConfigurationError);
    assert.deepEqual(sagaMessage(Moved, { id: 'm' }), { contract: Moved, data: { id: 'm' } });
  });

  it('saga - registerSaga checks its store and every bound at registration', () => {
    const saga = defineSaga({ name: 'thing', state }).startedBy(
      Started,
      (event) => event.id,
      () => ({ state: { n: 0 } }),
    );
    const bus = () => createBus({ transport: memoryTransport(), logger: silentLogger });
    assert.throws(() => registerSaga(bus(), saga, {} as never), /pass \{ store \}/);
    for (const bounds of [
      { retentionMs: -1 },
      { retentionMs: 366 * 86_400_000 },
      { pruneIntervalMs: 10 },
      { historyEntriesMax: 0 },
      { historyEntriesMax: 100_001 },
    ]) {
      assert.throws(
        () => registerSaga(bus(), saga, { store: unusedStore, ...bounds }),
        ConfigurationError,
        JSON.stringify(bounds),
      );
    }
    const runtime = registerSaga(bus(), saga, { store: unusedStore, retentionMs: 0, historyEntriesMax: 1 });
    return runtime.close();
  });

  it('saga - start in a transaction refuses a contract the saga does not start on, and a transaction that cannot stage', async () => {
    const saga = defineSaga({ name: 'thing', state })
      .startedBy(
        Started,
        (event) => event.id,
        () => ({ state: { n: 0 } }),
      )
      .on(
        Moved,
        (event) => event.id,
        () => ({}),
      );
    const bus = createBus({ transport: memoryTransport(), logger: silentLogger });
    const runtime = registerSaga(bus, saga, { store: unusedStore });
    try {
      const staged: string[] = [];
      const tx = {
        publish: async (contract: { type: string }) => void staged.push(contract.type),
        send: async (contract: { type: string }) => void staged.push(contract.type),
      };
      await assert.rejects(
        runtime.start(tx, Moved, { id: 'a' }),
        (error: unknown) =>
          error instanceof ConfigurationError && /does not start on "Moved"/.test(error.message),
      );
      await assert.rejects(
        runtime.start({} as never, Started, { id: 'a' }),
        (error: unknown) =>
          error instanceof ConfigurationError && /needs an outbox transaction/.test(error.message),
      );
      await assert.rejects(runtime.start(tx, Started, { id: 1 } as never), /payload/);
      assert.deepEqual(staged, [], 'nothing staged by a refused start');
    } finally {
      await runtime.close();
    }
  });
});
