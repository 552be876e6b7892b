/**
 * Profiling helper (the leading `_` keeps it out of `bench/run.ts`'s suites): the CPU the bus's
 * handler pipeline costs per message around a synchronous handler, with and without the
 * idempotency step, over a store whose `seen` and `remember` do no work (each answers a promise
 * settled per batch, as the SQLite store's do), so what is measured is the framing: the
 * middleware's async frames, promises and closures, not a store.
 *
 *   npx node bench/_pipeline-framing.ts [messages per round] [rounds]
 */
import { type MessageContext, memoryIdempotencyStore } from '@herald/bus';
import { idempotency } from '../packages/bus/src/middleware/idempotency.ts';
import { logging } from '../packages/bus/src/middleware/logging.ts';
import { validation } from '../packages/bus/src/middleware/validation.ts';
import { pipeline } from '../packages/bus/src/pipeline.ts';
import { BenchEvent } from './_fastpath-common.ts';

const [messagesText = '200000', roundsText = '5'] = process.argv.slice(2);
const messages = Number(messagesText);
const rounds = Number(roundsText);
const quiet = { isLevelEnabled: () => false, debug() {}, info() {}, warn() {}, error() {} };
const resolved = Promise.resolve();
const free = {
  name: 'free',
  seen: () => Promise.resolve(false),
  remember: () => resolved,
  close: async () => {},
};
const counters = { duplicatesSkipped: 0 };
const variants = {
  plain: pipeline([logging, validation], () => {}),
  'idempotency (free store)': pipeline([logging, idempotency(free, counters), validation], () => {}),
  'idempotency (memory store)': pipeline(
    [logging, idempotency(memoryIdempotencyStore({ entriesMax: 100_000 }), counters), validation],
    () => {},
  ),
};
const context = (n: number): MessageContext =>
  ({
    contract: BenchEvent,
    group: 'bench',
    envelope: { type: BenchEvent.type, id: `id-${n}`, source: '/bench', specversion: '1.0' },
    data: { id: `order-${n}`, amount: n, note: 'benchmark event' },
    message: { topic: 'bench-events', partition: 0, offset: String(n) },
    attempt: 1,
    logger: quiet,
  }) as unknown as MessageContext;

let next = 0;
for (let round = 0; round < rounds; round++) {
  const line: string[] = [];
  for (const [name, run] of Object.entries(variants)) {
    const cpuStart = process.cpuUsage();
    // 256 at a time, as the group's window: each burst's runs interleave on the microtask queue.
    // Fresh contexts (and ids) each burst, for every variant alike, so no key is a duplicate.
    for (let done = 0; done < messages; done += 256) {
      const contexts = Array.from({ length: 256 }, (_, n) => context(next + n));
      next += 256;
      await Promise.all(contexts.map((each) => run(each)));
    }
    const cpu = process.cpuUsage(cpuStart);
    line.push(`${name} ${((cpu.user + cpu.system) / messages).toFixed(3)} µs`);
  }
  process.stdout.write(`round ${round}: ${line.join(', ')}\n`);
}
