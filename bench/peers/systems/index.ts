/**
 * The registry: every system `npm run bench -- peers` can measure, in the report's row order.
 * Adding a system is one file in this folder exporting a `SystemEntry` (see `../system.ts`) and
 * one line here; `--systems` picks rows by the entries' ids.
 */
import type { SystemEntry } from '../system.ts';
import { apacheKafkaDefault, apacheKafkaFsync } from './apache-kafka.ts';
import { heraldAws } from './herald-aws.ts';
import { heraldBus } from './herald-bus.ts';
import { heraldEmbedded, heraldEmbeddedBatch } from './herald-embedded.ts';
import { heraldKafka, heraldKafkaApache } from './herald-kafka.ts';
import { heraldNats } from './herald-nats.ts';
import { heraldRabbitMq } from './herald-rabbitmq.ts';
import { heraldRedis } from './herald-redis.ts';
import { heraldServe } from './herald-serve.ts';
import { natsJetStream } from './nats-jetstream.ts';
import { rabbitMqClassic, rabbitMqQuorum, rabbitMqStream } from './rabbitmq.ts';
import { redisStreams } from './redis-streams.ts';

/** Every system, in row order (`herald-embedded` is the baseline every ratio divides by). */
export const SYSTEMS: readonly SystemEntry[] = [
  heraldEmbedded,
  heraldEmbeddedBatch,
  heraldBus,
  heraldServe,
  heraldKafka,
  apacheKafkaDefault,
  apacheKafkaFsync,
  heraldKafkaApache,
  heraldRabbitMq,
  rabbitMqQuorum,
  rabbitMqClassic,
  rabbitMqStream,
  natsJetStream,
  heraldNats,
  redisStreams,
  heraldRedis,
  heraldAws,
];
