/**
 * Herald messages as Kafka records, in the CloudEvents Kafka protocol binding's binary mode: the
 * body is the record value, every attribute a `ce_` header, the data's media type the
 * `content-type` header, and the partition key (CloudEvents `partitionkey`) the record key.
 * Herald's `TransportMessage` headers already have exactly these names, so the mapping is one to
 * one; header values are UTF-8.
 */
import type { TransportMessage } from '@herald/bus';
import type { KafkaRecord } from '@platformatic/kafka';

/** A record as `@platformatic/kafka`'s producer takes it (Buffer serializers). */
export interface OutgoingRecord {
  readonly topic: string;
  readonly partition: number;
  readonly key: Buffer | undefined;
  readonly value: Buffer;
  readonly headers: Map<Buffer, Buffer>;
}

/** The record for `message` on `topic`/`partition`. */
export function toRecord(topic: string, partition: number, message: TransportMessage): OutgoingRecord {
  const headers = new Map<Buffer, Buffer>();
  for (const name of Object.keys(message.headers)) {
    headers.set(Buffer.from(name, 'utf8'), Buffer.from(message.headers[name]!, 'utf8'));
  }
  return {
    topic,
    partition,
    key: message.key === undefined ? undefined : Buffer.from(message.key, 'utf8'),
    value: Buffer.from(message.body.buffer, message.body.byteOffset, message.body.byteLength),
    headers,
  };
}

/** The Herald message of a fetched record (a null value reads as an empty body). */
export function fromRecord(record: KafkaRecord): TransportMessage {
  const headers: Record<string, string> = {};
  const list = record.headers;
  for (let index = 0; index < list.length; index++) {
    const [name, value] = list[index]!;
    if (name === null) continue;
    headers[name.toString('utf8')] = value === null ? '' : value.toString('utf8');
  }
  const value = record.value;
  return {
    key: record.key === null || record.key === undefined ? undefined : record.key.toString('utf8'),
    headers,
    body:
      value === null || value === undefined
        ? new Uint8Array(0)
        : new Uint8Array(value.buffer, value.byteOffset, value.byteLength),
  };
}
