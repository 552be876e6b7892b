/**
 * AsyncAPI 3.0 from code: the catalogue of a system's messages, written from the same contracts
 * its services publish and consume, so it cannot drift from them unnoticed. Channels are topics,
 * messages are contracts (CloudEvents headers, JSON Schema payload), operations are what each
 * service sends and receives, with the Kafka and AMQP bindings Herald's transports use.
 */
import type { Contract } from '../contracts.ts';
import { ConfigurationError } from '../errors.ts';
import { assertName } from '../names.ts';
import { cloudEventsHeaders } from './headers.ts';
import { PAYLOAD_SCHEMA_FORMAT, payloadSchema } from './payload-schema.ts';

/** Versions of the AsyncAPI bindings the document uses. */
const KAFKA_BINDING_VERSION = '0.5.0';
const AMQP_BINDING_VERSION = '0.3.0';

/** One service (an application with its own consumer groups): what it sends and receives. */
export interface AsyncApiService {
  /** The service's name, e.g. `order`; names its operations. */
  readonly name: string;
  /** Contracts it publishes (events) or sends (commands and queries). */
  readonly sends?: readonly Contract[];
  /** Contracts it consumes. */
  readonly receives?: readonly Contract[];
  /** Its consumer group, for the Kafka `groupId` binding (default: the service's name). */
  readonly group?: string;
  /** A sentence about the service. */
  readonly description?: string;
}

/** A broker the services connect to (AsyncAPI `servers`). */
export interface AsyncApiServer {
  /** `host[:port]`, e.g. `localhost:9092`. */
  readonly host: string;
  /** `kafka` or `amqp` (the protocols whose bindings the document carries), or another. */
  readonly protocol: string;
  /** A sentence about it. */
  readonly description?: string;
}

/** Options of {@link asyncApiDocument}. */
export interface AsyncApiOptions {
  /** The system's name (`info.title`). */
  readonly title: string;
  /** The document's version (`info.version`), e.g. the application's release. */
  readonly version: string;
  /** A paragraph about the system. */
  readonly description?: string;
  /** The services; every contract one of them sends or receives becomes a channel's message. */
  readonly services: readonly AsyncApiService[];
  /** Brokers, by id (default none). */
  readonly servers?: Readonly<Record<string, AsyncApiServer>>;
  /** Prefix of RabbitMQ exchange names, for the AMQP bindings (default `herald.`, the transport's). */
  readonly exchangePrefix?: string;
}

/** An AsyncAPI 3.0 document as a plain JSON value. */
export type AsyncApiDocument = { readonly asyncapi: '3.0.0' } & Readonly<Record<string, unknown>>;

/**
 * Builds the AsyncAPI 3.0 document of `options.services`. Keys are sorted, so the same code gives
 * the same document byte for byte (commit it, and compare it in a test). Payloads that cannot be
 * converted to JSON Schema are described by a note instead (see `payloadSchema`). Resolves the
 * document; rejects with `ConfigurationError` when two different contracts share a type.
 */
export async function asyncApiDocument(options: AsyncApiOptions): Promise<AsyncApiDocument> {
  const contracts = contractsOf(options.services);
  const messages: Record<string, unknown> = {};
  for (const contract of contracts) messages[contract.type] = await messageOf(contract);
  const document: Record<string, unknown> = {
    asyncapi: '3.0.0',
    info: {
      title: options.title,
      version: options.version,
      ...(options.description === undefined ? {} : { description: options.description }),
    },
    defaultContentType: 'application/json',
    ...(options.servers === undefined ? {} : { servers: sortedRecord(options.servers) }),
    channels: channelsOf(contracts, options.exchangePrefix ?? 'herald.'),
    operations: operationsOf(options.services),
    components: { messages: sortedRecord(messages) },
  };
  return document as AsyncApiDocument;
}

/** Every contract the services name, by type, sorted; the same type twice must be one contract. */
function contractsOf(services: readonly AsyncApiService[]): Contract[] {
  const byType = new Map<string, Contract>();
  for (const service of services) {
    assertName(service.name, 'service name', 'asyncApiDocument');
    for (const contract of [...(service.sends ?? []), ...(service.receives ?? [])]) {
      const known = byType.get(contract.type);
      if (known !== undefined && known !== contract) {
        throw new ConfigurationError(
          `asyncApiDocument: two different contracts have type "${contract.type}"; a type names one ` +
            'contract across the system, so rename one of them',
        );
      }
      byType.set(contract.type, contract);
    }
  }
  return [...byType.values()].sort((a, b) => compare(a.type, b.type));
}

async function messageOf(contract: Contract): Promise<Record<string, unknown>> {
  const payload = await payloadSchema(contract.schema);
  const notes = [`A ${contract.kind} on topic "${contract.topic}", payload version ${contract.version}.`];
  if (!payload.converted) notes.push(`Payload schema not included: ${payload.note}.`);
  if (contract.kind === 'query') notes.push('The reply goes to the topic named by the ce_replyto header.');
  return {
    name: contract.type,
    title: contract.type,
    summary: notes[0],
    ...(notes.length > 1 ? { description: notes.join(' ') } : {}),
    contentType: 'application/json',
    headers: cloudEventsHeaders(contract),
    ...(payload.converted
      ? { payload: { schemaFormat: PAYLOAD_SCHEMA_FORMAT, schema: payload.schema } }
      : { 'x-herald-payload-note': payload.note }),
    bindings: {
      kafka: {
        key: { type: 'string', description: 'The partition key: messages with one key keep their order.' },
        bindingVersion: KAFKA_BINDING_VERSION,
      },
      amqp: { messageType: contract.type, bindingVersion: AMQP_BINDING_VERSION },
    },
  };
}

function channelsOf(contracts: readonly Contract[], exchangePrefix: string): Record<string, unknown> {
  const channels: Record<string, { address: string; messages: Record<string, unknown>; bindings: unknown }> =
    {};
  for (const contract of contracts) {
    let channel = channels[contract.topic];
    if (channel === undefined) {
      channel = {
        address: contract.topic,
        messages: {},
        bindings: {
          kafka: { topic: contract.topic, bindingVersion: KAFKA_BINDING_VERSION },
          amqp: {
            is: 'routingKey',
            exchange: {
              name: `${exchangePrefix}${contract.topic}`,
              type: 'topic',
              durable: true,
              autoDelete: false,
            },
            bindingVersion: AMQP_BINDING_VERSION,
          },
        },
      };
      channels[contract.topic] = channel;
    }
    channel.messages[contract.type] = { $ref: `#/components/messages/${contract.type}` };
  }
  return sortedRecord(channels);
}

function operationsOf(services: readonly AsyncApiService[]): Record<string, unknown> {
  const operations: Record<string, unknown> = {};
  for (const service of services) {
    const group = service.group ?? service.name;
    for (const action of ['send', 'receive'] as const) {
      const contracts = (action === 'send' ? service.sends : service.receives) ?? [];
      for (const [topic, types] of typesByTopic(contracts)) {
        operations[`${service.name}.${action}.${topic}`] = {
          action,
          title: `${service.name} ${action === 'send' ? 'sends to' : 'receives from'} ${topic}`,
          ...(service.description === undefined ? {} : { description: service.description }),
          channel: { $ref: `#/channels/${topic}` },
          messages: types.map((type) => ({ $ref: `#/channels/${topic}/messages/${type}` })),
          ...(action === 'receive'
            ? {
                bindings: {
                  kafka: {
                    groupId: { type: 'string', enum: [group] },
                    bindingVersion: KAFKA_BINDING_VERSION,
                  },
                  amqp: { ack: true, bindingVersion: AMQP_BINDING_VERSION },
                },
              }
            : {}),
        };
      }
    }
  }
  return sortedRecord(operations);
}

/** The contracts' types grouped by topic, both sorted. */
function typesByTopic(contracts: readonly Contract[]): [string, string[]][] {
  const byTopic = new Map<string, Set<string>>();
  for (const contract of contracts) {
    const types = byTopic.get(contract.topic) ?? new Set<string>();
    byTopic.set(contract.topic, types);
    types.add(contract.type);
  }
  return [...byTopic.entries()]
    .sort(([a], [b]) => compare(a, b))
    .map(([topic, types]) => [topic, [...types].sort(compare)]);
}

function sortedRecord<T>(record: Readonly<Record<string, T>>): Record<string, T> {
  const sorted: Record<string, T> = {};
  for (const key of Object.keys(record).sort(compare)) sorted[key] = record[key]!;
  return sorted;
}

/** Code-unit order, the same on every machine (unlike `localeCompare`). */
function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
