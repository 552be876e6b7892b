/**
 * Scheduled messages on RabbitMQ and Apache Kafka survive two kill -9 restarts of the process
 * running the bus (and its scheduler): each tick recorded once, none early, lateness printed. A
 * shorter run than the embedded one (`schedule-crash.test.ts`); the schedule itself lives on the
 * broker (the topic `herald.schedule`), so what is checked is that nothing the killed scheduler
 * held is lost and nothing is published early.
 */
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { printLine, RABBITMQ_URL, requireRabbitMq, temporaryDirectory } from '@herald/test-support';
import { type ApacheKafka, startApacheKafka } from '@herald/test-support/apache-kafka';
import { runScheduleCrash, type ScheduleCrashSummary } from './support/schedule-crash.ts';

function report(name: string, summary: ScheduleCrashSummary): void {
  printLine(
    `${name}: ${summary.count} ticks, ${summary.kills} kills, ${summary.rescheduled} scheduled again, ` +
      `lateness p50 ${summary.latenessMs.p50} ms, p99 ${summary.latenessMs.p99} ms, max ${summary.latenessMs.max} ms; ` +
      `due while a process ran: p50 ${summary.steadyLatenessMs.p50} ms, p99 ${summary.steadyLatenessMs.p99} ms; ` +
      `${(summary.elapsedMs / 1000).toFixed(1)} s`,
  );
}

describe('scheduling - crash on RabbitMQ', { timeout: 180_000 }, () => {
  before(() => requireRabbitMq());

  it('scheduling - ticks survive two kill -9 restarts of the bus on RabbitMQ: once each, none early', async () => {
    const summary = await runScheduleCrash({
      dir: temporaryDirectory('herald-schedule-crash-rabbitmq-'),
      count: 1000,
      spanMs: 15_000,
      leadMs: 5000,
      topic: `schedule-crash.${randomUUID().slice(0, 8)}`,
      env: { HERALD_TRANSPORT: 'rabbitmq', HERALD_RABBITMQ_URL: RABBITMQ_URL },
      log: printLine,
    });
    report('rabbitmq', summary);
  });
});

describe('scheduling - crash on Apache Kafka', { timeout: 300_000 }, () => {
  let kafka: ApacheKafka | undefined;
  before(async () => {
    kafka = await startApacheKafka({ partitions: 2 });
  });
  after(() => kafka?.stop());

  it('scheduling - ticks survive two kill -9 restarts of the bus on Apache Kafka: once each, none early', async () => {
    const summary = await runScheduleCrash({
      dir: temporaryDirectory('herald-schedule-crash-kafka-'),
      count: 1000,
      spanMs: 15_000,
      // Joining a Kafka group and producing take longer than on RabbitMQ: room to schedule first.
      leadMs: 20_000,
      topic: `schedule-crash.${randomUUID().slice(0, 8)}`,
      // The shortest session Kafka allows, so a killed member's partitions move within 6 s.
      env: {
        HERALD_TRANSPORT: 'kafka',
        HERALD_KAFKA_BROKERS: kafka!.bootstrap,
        HERALD_KAFKA_SESSION_TIMEOUT_MS: '6000',
      },
      log: printLine,
    });
    report('apache-kafka', summary);
  });
});
