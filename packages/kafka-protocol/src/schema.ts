/**
 * A schema-driven codec, in the shape of Kafka's own message definitions: a message is a list of
 * fields, each present in a range of versions, optionally nullable or tagged in some versions.
 * From a message's first flexible version (KIP-482) strings, bytes and arrays use compact
 * encodings and every struct ends with a tagged-field section. One interpreter serves every API,
 * so adding a version is a matter of adding fields, never of copying a codec.
 */
import { KafkaProtocolError } from './errors.ts';
import type { Reader } from './reader.ts';
import type { Writer } from './writer.ts';

/** Leaf types. `records` is nullable bytes holding record batches (written without copying). */
export type PrimitiveType =
  | 'int8'
  | 'int16'
  | 'int32'
  | 'int64'
  | 'bool'
  | 'string'
  | 'bytes'
  | 'records'
  | 'uuid';

/** Inclusive version range; `max` undefined means "and every later version". */
export interface VersionRange {
  readonly min: number;
  readonly max: number;
}

/** One field. Build with {@link field}. */
export interface Field {
  /** Property name in decoded objects (camelCase of Kafka's name). */
  readonly name: string;
  /** A primitive, or a struct (its fields). */
  readonly type: PrimitiveType | readonly Field[];
  /** An array of `type`. */
  readonly array: boolean;
  readonly versions: VersionRange;
  readonly nullable: VersionRange | undefined;
  /** Tagged-field tag (flexible versions only), with the versions in which it is tagged. */
  readonly tag: number | undefined;
  readonly tagged: VersionRange | undefined;
  /** Value when absent in a version (decode) and the value a tagged field is omitted at (encode). */
  readonly default: unknown;
}

/** A request or response body. */
export interface MessageSchema {
  readonly name: string;
  readonly fields: readonly Field[];
  /** First flexible version (Infinity when none is implemented). */
  readonly flexibleFrom: number;
}

/** Parses `"3+"`, `"0-7"` or `"5"`. */
export function versions(spec: string): VersionRange {
  const match = /^(\d+)(\+|-(\d+))?$/.exec(spec);
  if (match === null) throw new Error(`bad version range "${spec}"`);
  const min = Number(match[1]);
  if (match[2] === '+') return { min, max: Number.POSITIVE_INFINITY };
  return { min, max: match[3] === undefined ? min : Number(match[3]) };
}

function inRange(range: VersionRange | undefined, version: number): boolean {
  return range !== undefined && version >= range.min && version <= range.max;
}

/** Options of {@link field}. */
export interface FieldOptions {
  readonly nullable?: string;
  readonly tag?: number;
  readonly tagged?: string;
  readonly default?: unknown;
}

/** Declares a field: `field('acks', 'int16', '0+')`, `field('topics', [...], '0+', { array: true })`. */
export function field(
  name: string,
  type: PrimitiveType | readonly Field[],
  range: string,
  options: FieldOptions = {},
): Field {
  return {
    name,
    type,
    array: false,
    versions: versions(range),
    nullable: options.nullable === undefined ? undefined : versions(options.nullable),
    tag: options.tag,
    tagged: options.tagged === undefined ? undefined : versions(options.tagged),
    default: options.default,
  };
}

/** Declares an array field of `type`. */
export function array(
  name: string,
  type: PrimitiveType | readonly Field[],
  range: string,
  options: FieldOptions = {},
): Field {
  return { ...field(name, type, range, options), array: true };
}

function defaultValue(item: Field): unknown {
  if (item.default !== undefined) return item.default;
  if (item.array) return [];
  switch (item.type) {
    case 'int8':
    case 'int16':
    case 'int32':
      return 0;
    case 'int64':
      return 0n;
    case 'bool':
      return false;
    case 'string':
      return '';
    case 'uuid':
      return '00000000000000000000000000000000';
    case 'bytes':
      return new Uint8Array(0);
    case 'records':
      return null;
    default:
      return null;
  }
}

function readPrimitive(reader: Reader, type: PrimitiveType, nullable: boolean, flexible: boolean): unknown {
  switch (type) {
    case 'int8':
      return reader.int8();
    case 'int16':
      return reader.int16();
    case 'int32':
      return reader.int32();
    case 'int64':
      return reader.int64();
    case 'bool':
      return reader.bool();
    case 'uuid':
      return reader.uuid();
    case 'string':
      return flexible ? reader.compactString(nullable) : reader.string(nullable);
    case 'bytes':
      return flexible ? reader.compactByteArray(nullable) : reader.byteArray(nullable);
    case 'records':
      return flexible ? reader.compactByteArray(true) : reader.byteArray(true);
  }
}

function readValue(reader: Reader, item: Field, version: number, flexible: boolean): unknown {
  const nullable = inRange(item.nullable, version);
  if (item.array) {
    const count = flexible ? reader.compactArrayCount(nullable) : reader.arrayCount(nullable);
    if (count === null) return null;
    const values: unknown[] = [];
    for (let index = 0; index < count; index++)
      values.push(readElement(reader, item, version, flexible, false));
    return values;
  }
  return readElement(reader, item, version, flexible, nullable);
}

function readElement(
  reader: Reader,
  item: Field,
  version: number,
  flexible: boolean,
  nullable: boolean,
): unknown {
  if (typeof item.type === 'string') return readPrimitive(reader, item.type, nullable, flexible);
  if (nullable) {
    // A nullable struct is preceded by a presence byte (-1 null, 1 present).
    if (reader.int8() < 0) return null;
  }
  return decodeFields(reader, item.type, version, flexible);
}

/** Decodes one struct of `fields` at `version`. */
export function decodeFields(
  reader: Reader,
  fields: readonly Field[],
  version: number,
  flexible: boolean,
): Record<string, unknown> {
  const value: Record<string, unknown> = {};
  let tagged: Field[] | undefined;
  for (const item of fields) {
    if (!inRange(item.versions, version)) {
      value[item.name] = defaultValue(item);
      continue;
    }
    if (flexible && inRange(item.tagged, version)) {
      value[item.name] = defaultValue(item);
      tagged ??= [];
      tagged.push(item);
      continue;
    }
    value[item.name] = readValue(reader, item, version, flexible);
  }
  if (flexible) {
    reader.taggedFields((tag, sub) => {
      const item = tagged?.find((candidate) => candidate.tag === tag);
      if (item === undefined) return false;
      value[item.name] = readValue(sub, item, version, true);
      return true;
    });
  }
  return value;
}

function writePrimitive(
  writer: Writer,
  type: PrimitiveType,
  value: unknown,
  flexible: boolean,
  where: string,
): void {
  switch (type) {
    case 'int8':
      writer.int8(value as number);
      return;
    case 'int16':
      writer.int16(value as number);
      return;
    case 'int32':
      writer.int32(value as number);
      return;
    case 'int64':
      writer.int64(value as bigint);
      return;
    case 'bool':
      writer.bool(value as boolean);
      return;
    case 'uuid':
      writer.uuid(value as string);
      return;
    case 'string':
      if (flexible) writer.compactString(value as string | null);
      else writer.string(value as string | null);
      return;
    case 'bytes':
      if (flexible) writer.compactByteArray(value as Uint8Array | null);
      else writer.byteArray(value as Uint8Array | null);
      return;
    case 'records':
      writeRecords(writer, value as RecordsValue, flexible, where);
      return;
  }
}

/** What a `records` field holds when encoding: one buffer, several (written back to back), or null. */
export type RecordsValue = Uint8Array | readonly Uint8Array[] | null;

function writeRecords(writer: Writer, value: RecordsValue, flexible: boolean, where: string): void {
  if (value === null || value === undefined) {
    if (flexible) writer.unsignedVarint(0);
    else writer.int32(-1);
    return;
  }
  const parts = value instanceof Uint8Array ? [value] : value;
  let total = 0;
  for (const part of parts) total += part.length;
  if (total > 0x7fffffff)
    throw new KafkaProtocolError('KAFKA_ENCODE', `${where}: ${total} record bytes exceed int32`);
  if (flexible) writer.unsignedVarint(total + 1);
  else writer.int32(total);
  for (const part of parts) writer.raw(part);
}

function writeValue(writer: Writer, item: Field, value: unknown, version: number, flexible: boolean): void {
  const nullable = inRange(item.nullable, version);
  if (value === null && !nullable && item.type !== 'records') {
    throw new KafkaProtocolError(
      'KAFKA_ENCODE',
      `field ${item.name} is null but not nullable in version ${version}`,
    );
  }
  if (item.array) {
    if (value === null) {
      if (flexible) writer.unsignedVarint(0);
      else writer.int32(-1);
      return;
    }
    if (!Array.isArray(value))
      throw new KafkaProtocolError('KAFKA_ENCODE', `field ${item.name} is not an array`);
    if (flexible) writer.unsignedVarint(value.length + 1);
    else writer.int32(value.length);
    for (const element of value) writeElement(writer, item, element, version, flexible, false);
    return;
  }
  writeElement(writer, item, value, version, flexible, nullable);
}

function writeElement(
  writer: Writer,
  item: Field,
  value: unknown,
  version: number,
  flexible: boolean,
  nullable: boolean,
): void {
  if (typeof item.type === 'string') {
    writePrimitive(writer, item.type, value, flexible, item.name);
    return;
  }
  if (nullable) {
    if (value === null) {
      writer.int8(-1);
      return;
    }
    writer.int8(1);
  }
  encodeFields(writer, item.type, value as Record<string, unknown>, version, flexible);
}

function isDefault(item: Field, value: unknown): boolean {
  if (value === undefined) return true;
  if (Array.isArray(value)) return value.length === 0;
  return value === defaultValue(item);
}

/** Encodes one struct of `fields` at `version`; absent values take the field's default. */
export function encodeFields(
  writer: Writer,
  fields: readonly Field[],
  value: Record<string, unknown>,
  version: number,
  flexible: boolean,
): void {
  let tagged: Field[] | undefined;
  for (const item of fields) {
    if (!inRange(item.versions, version)) continue;
    if (flexible && inRange(item.tagged, version)) {
      // Tagged fields are written only when set to something other than their default.
      if (!isDefault(item, value[item.name])) {
        tagged ??= [];
        tagged.push(item);
      }
      continue;
    }
    const given = value[item.name];
    writeValue(writer, item, given === undefined ? defaultValue(item) : given, version, flexible);
  }
  if (!flexible) return;
  if (tagged === undefined) {
    writer.unsignedVarint(0);
    return;
  }
  tagged.sort((left, right) => left.tag! - right.tag!);
  writer.unsignedVarint(tagged.length);
  for (const item of tagged) {
    const sub = new (writer.constructor as new () => Writer)();
    writeValue(sub, item, value[item.name], version, true);
    const bytes = sub.toBuffer();
    writer.unsignedVarint(item.tag!).unsignedVarint(bytes.length).raw(bytes);
  }
}

/** Decodes a whole message body. */
export function decodeMessage(
  reader: Reader,
  schema: MessageSchema,
  version: number,
): Record<string, unknown> {
  return decodeFields(reader, schema.fields, version, version >= schema.flexibleFrom);
}

/** Encodes a whole message body. */
export function encodeMessage(writer: Writer, schema: MessageSchema, value: object, version: number): void {
  encodeFields(
    writer,
    schema.fields,
    value as Record<string, unknown>,
    version,
    version >= schema.flexibleFrom,
  );
}
