/**
 * The transport catch-up of `npm run bench -- scale` at a chosen size, with the CPU it costs per
 * message (`process.cpuUsage`, every thread of the process: the garbage collector's helpers
 * included), which moves far less with the load of a shared machine than messages/s does. Not a
 * suite (`bench/run.ts` skips files starting with `_`):
 *
 *   node bench/_catchup-cpu.ts fill <directory> <topics> <events per topic>
 *   node [--cpu-prof] bench/_catchup-cpu.ts run <directory> <topics>
 *
 * `fill` writes `topics` topics (`scale-000`, …) × 4 partitions of keyless 100-byte events, 100 per
 * publish, fsync 'never', as the scale benchmark does. `run` opens the directory with
 * `embeddedTransport` (fsync 'always'), subscribes one new group to every topic (`inFlightMax`
 * 1024, each handler awaits its ack) and prints one JSON line: messages, messages/s, µs of CPU per
 * message, CPU per wall second, peak RSS. Run it several times, alternating the code compared, and
 * note `uptime` beside the figures. The directory is left for the next run; remove it yourself.
 */
import { embeddedTransport, openBroker } from '@herald/broker';

/** Publish calls outstanding while filling. */
const FILL_CALLS_OUTSTANDING = 32;
/** Messages per publish call while filling (one stored batch). */
const FILL_BATCH_MESSAGES = 100;
/** Consumer window per subscription, as in the scale benchmark. */
const IN_FLIGHT = 1024;
/** Longest catch-up before giving up. */
const TIMEOUT_MS = 10 * 60_000;
/** How often the peak RSS is sampled. */
const RSS_SAMPLE_MS = 50;

function topicName(topic: number): string {
  return `scale-${String(topic).padStart(3, '0')}`;
}

async function fill(directory: string, topics: number, perTopic: number): Promise<void> {
  const broker = await openBroker({ dir: directory, fsync: 'never' });
  try {
    const body = new Uint8Array(100).fill(7);
    const batch = Array.from({ length: FILL_BATCH_MESSAGES }, () => ({ key: undefined, headers: {}, body }));
    const calls = Math.ceil((topics * perTopic) / FILL_BATCH_MESSAGES);
    let next = 0;
    const worker = async (): Promise<void> => {
      // Bounded by `calls`.
      while (next < calls) {
        const call = next++;
        await broker.publish(topicName(call % topics), batch);
      }
    };
    await Promise.all(Array.from({ length: FILL_CALLS_OUTSTANDING }, worker));
  } finally {
    await broker.close();
  }
}

async function run(directory: string, topics: number): Promise<void> {
  const transport = await embeddedTransport({ dir: directory });
  let target = 0;
  for (let topic = 0; topic < topics; topic++) {
    const description = await transport.broker.describeTopic(topicName(topic));
    for (const partition of description.partitions) target += Number(partition.highWatermark);
  }
  let count = 0;
  let rssBytesMax = 0;
  const sampler = setInterval(() => {
    rssBytesMax = Math.max(rssBytesMax, process.memoryUsage().rss);
  }, RSS_SAMPLE_MS);
  let timer: NodeJS.Timeout | undefined;
  try {
    let finish = (): void => {};
    const done = new Promise<void>((resolve, reject) => {
      finish = resolve;
      timer = setTimeout(
        () => reject(new Error(`caught up on ${count} of ${target} in ${TIMEOUT_MS} ms`)),
        TIMEOUT_MS,
      );
    });
    const cpuBefore = process.cpuUsage();
    const started = performance.now();
    const group = `catch-up-${Date.now()}`;
    for (let topic = 0; topic < topics; topic++) {
      await transport.subscribe(
        { topic: topicName(topic), group, inFlightMax: IN_FLIGHT },
        async (message) => {
          await message.ack();
          count += 1;
          if (count === target) finish();
        },
      );
    }
    await done;
    const seconds = (performance.now() - started) / 1000;
    const cpu = process.cpuUsage(cpuBefore);
    const cpuMicros = cpu.user + cpu.system;
    const report = {
      messages: count,
      perSecond: Math.round(count / seconds),
      cpuMicrosPerMessage: Number((cpuMicros / count).toFixed(2)),
      cpuPerWallSecond: Number((cpuMicros / 1e6 / seconds).toFixed(2)),
      rssMiBMax: Math.round(rssBytesMax / (1024 * 1024)),
    };
    process.stdout.write(`${JSON.stringify(report)}\n`);
  } finally {
    clearTimeout(timer);
    clearInterval(sampler);
    await transport.close();
  }
}

if (import.meta.main) {
  const [mode, directory, topicsText, perTopicText] = process.argv.slice(2);
  const topics = Number(topicsText);
  if (directory === undefined || !Number.isSafeInteger(topics) || topics < 1) {
    throw new Error(
      'usage: node bench/_catchup-cpu.ts fill <directory> <topics> <events per topic> | run <directory> <topics>',
    );
  }
  if (mode === 'fill') await fill(directory, topics, Number(perTopicText));
  else if (mode === 'run') await run(directory, topics);
  else throw new Error(`unknown mode ${String(mode)}: fill or run`);
}
