/**
 * Generates a `@herald/kafka-protocol` schema file (`src/apis/<api>/request.ts` or `response.ts`)
 * from one of Kafka's JSON message definitions (`/work/shared/kafka-protocol/*.json`, or Kafka's
 * `clients/src/main/resources/common/message/`). The output is committed; the JSON is read only
 * here, never shipped or imported at run time.
 *
 *   node scripts/kafka-codegen.ts <Message.json> [--served <min>-<max>] > src/apis/<api>/request.ts
 *   npx biome check --write src/apis/<api>   # the output is formatted by Biome
 *
 *   node scripts/kafka-codegen.ts --check /work/shared/kafka-protocol
 *     compares every schema in src/apis.ts (hand-written or generated) with the definitions, field
 *     by field within the versions served: names, order, versions, nullable and tagged versions.
 *
 * It writes a grammar header, a TypeScript interface (fields present from the first served
 * version are required, later ones optional; nullable fields admit null) and the
 * `MessageSchema` with every field's versions, nullable versions, tag and default as the JSON
 * states them, so `schema.ts` encodes and decodes every version including flexible ones.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';

interface JsonField {
  readonly name: string;
  readonly type: string;
  readonly versions: string;
  readonly nullableVersions?: string;
  readonly taggedVersions?: string;
  readonly tag?: number;
  readonly default?: string | number | boolean;
  readonly fields?: readonly JsonField[];
}

interface JsonMessage {
  readonly apiKey: number;
  readonly type: 'request' | 'response';
  readonly name: string;
  readonly validVersions: string;
  readonly flexibleVersions: string;
  readonly fields: readonly JsonField[];
}

const PRIMITIVES: Record<string, string> = {
  int8: 'number',
  int16: 'number',
  int32: 'number',
  uint16: 'number',
  int64: 'bigint',
  bool: 'boolean',
  string: 'string',
  bytes: 'Uint8Array',
  records: 'Uint8Array | null',
  uuid: 'string',
  float64: 'number',
};

function camel(name: string): string {
  return name.charAt(0).toLowerCase() + name.slice(1);
}

function snake(name: string): string {
  return name.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toLowerCase();
}

/** JSON with `//` comment lines, as Kafka's definitions are. */
function parseDefinition(file: string): JsonMessage {
  const text = readFileSync(file, 'utf8')
    .split('\n')
    .filter((line) => !/^\s*\/\//.test(line))
    .join('\n');
  return JSON.parse(text) as JsonMessage;
}

function rangeMin(spec: string): number {
  return Number(/^(\d+)/.exec(spec)?.[1] ?? 0);
}

function elementType(item: JsonField): string {
  return item.type.startsWith('[]') ? item.type.slice(2) : item.type;
}

function defaultLiteral(item: JsonField): string | undefined {
  if (item.default === undefined || item.type.startsWith('[]')) return undefined;
  const text = String(item.default);
  if (text === 'null') return 'null';
  if (item.type === 'int64') return `${BigInt(text)}n`;
  if (item.type === 'bool') return text;
  if (item.type === 'string') return `'${text}'`;
  return String(Number(text));
}

function isNullable(item: JsonField): boolean {
  return item.nullableVersions !== undefined && item.nullableVersions !== 'none';
}

function tsType(item: JsonField, servedMin: number, indent: string): string {
  const element = elementType(item);
  const base =
    item.fields !== undefined
      ? interfaceBody(item.fields, servedMin, `${indent}  `, indent)
      : PRIMITIVES[element];
  if (base === undefined) throw new Error(`unknown type ${item.type} of ${item.name}`);
  const typed = item.type.startsWith('[]') ? `readonly ${item.fields ? base : `${base}`}[]` : base;
  return isNullable(item) && item.type !== 'records' ? `${typed} | null` : typed;
}

function interfaceBody(
  fields: readonly JsonField[],
  servedMin: number,
  indent: string,
  closing: string,
): string {
  const lines = fields.map((item) => {
    // Required only when present in every served version.
    const everyVersion = rangeMin(item.versions) <= servedMin && item.versions.endsWith('+');
    const optional = !everyVersion || item.taggedVersions !== undefined ? '?' : '';
    return `${indent}readonly ${camel(item.name)}${optional}: ${tsType(item, servedMin, indent)};`;
  });
  return `{\n${lines.join('\n')}\n${closing}}`;
}

function schemaFields(fields: readonly JsonField[], indent: string): string {
  const lines = fields.map((item) => {
    const options: string[] = [];
    if (isNullable(item)) options.push(`nullable: '${item.nullableVersions}'`);
    if (item.tag !== undefined) options.push(`tag: ${item.tag}`);
    if (item.taggedVersions !== undefined) options.push(`tagged: '${item.taggedVersions}'`);
    const literal = defaultLiteral(item);
    if (literal !== undefined) options.push(`default: ${literal}`);
    if (isNullable(item) && literal === undefined && !item.type.startsWith('[]') && item.type !== 'records')
      options.push('default: null');
    const optionText = options.length > 0 ? `, { ${options.join(', ')} }` : '';
    const element = elementType(item);
    const type =
      item.fields !== undefined
        ? `[\n${schemaFields(item.fields, `${indent}  `)}\n${indent}]`
        : `'${element}'`;
    const maker = item.type.startsWith('[]') ? 'array' : 'field';
    return `${indent}${maker}('${camel(item.name)}', ${type}, '${item.versions}'${optionText}),`;
  });
  return lines.join('\n');
}

function grammar(fields: readonly JsonField[], firstLine: string, indent: string): string[] {
  const names = fields.map((item) => {
    const name = snake(item.name);
    const since = rangeMin(item.versions) > 0 ? `(${item.versions})` : '';
    const tagged = item.taggedVersions !== undefined ? '<tag>' : '';
    return `${item.type.startsWith('[]') ? `[${name}]` : name}${since}${tagged}`;
  });
  const lines = [`${firstLine} => ${names.join(' ')}`];
  for (const item of fields) {
    if (item.fields !== undefined)
      lines.push(...grammar(item.fields, `${indent}  ${snake(item.name)}`, `${indent}  `));
  }
  return lines;
}

function flatten(fields: readonly JsonField[]): JsonField[] {
  return fields.flatMap((item) => [item, ...flatten(item.fields ?? [])]);
}

function generate(file: string, served: string | undefined): string {
  const message = parseDefinition(file);
  const servedRange = served ?? message.validVersions;
  const servedMin = rangeMin(servedRange);
  const api = message.name.replace(/(Request|Response)$/, '');
  const kind = message.type === 'request' ? 'Request' : 'Response';
  const flexibleFrom =
    message.flexibleVersions === 'none' ? 'Number.POSITIVE_INFINITY' : rangeMin(message.flexibleVersions);
  const all = flatten(message.fields);
  const makers = [
    ...(all.some((item) => item.type.startsWith('[]')) ? ['array'] : []),
    ...(all.some((item) => !item.type.startsWith('[]')) ? ['field'] : []),
  ];
  const header = [
    `Generated by scripts/kafka-codegen.ts from ${path.basename(file)} (validVersions ${message.validVersions},`,
    `flexibleVersions ${message.flexibleVersions}); served here: ${servedRange}. Regenerate rather than edit.`,
    '(n+) after a field: present from version n; <tag>: a tagged field.',
    ...grammar(message.fields, `${api} ${kind} (Version: ${message.validVersions})`, ''),
  ];
  const typeName = `${api}${kind}`;
  return [
    '/**',
    ...header.map((line) => ` * ${line}`),
    ' */',
    `import { ${makers.join(', ')}, type MessageSchema } from '../../schema.ts';`,
    '',
    `/** ${api} ${message.type} body. */`,
    `export interface ${typeName} ${interfaceBody(message.fields, servedMin, '  ', '')}`,
    '',
    `export const ${camel(typeName)}: MessageSchema = {`,
    `  name: '${message.name}',`,
    `  flexibleFrom: ${flexibleFrom},`,
    '  fields: [',
    schemaFields(message.fields, '    '),
    '  ],',
    '};',
    '',
  ].join('\n');
}

type Range = readonly [number, number] | undefined;

function parseRange(spec: string | undefined): Range {
  if (spec === undefined || spec === 'none') return undefined;
  const match = /^(\d+)(\+|-(\d+))?$/.exec(spec);
  if (match === null) throw new Error(`bad version range "${spec}"`);
  const min = Number(match[1]);
  return [min, match[2] === '+' ? Number.POSITIVE_INFINITY : match[3] === undefined ? min : Number(match[3])];
}

function intersect(left: Range, right: Range): string {
  if (left === undefined || right === undefined) return 'none';
  const min = Math.max(left[0], right[0]);
  const max = Math.min(left[1], right[1]);
  return min > max ? 'none' : `${min}-${max}`;
}

interface SchemaFieldLike {
  readonly name: string;
  readonly type: string | readonly SchemaFieldLike[];
  readonly array: boolean;
  readonly versions: { min: number; max: number };
  readonly nullable: { min: number; max: number } | undefined;
  readonly tag: number | undefined;
  readonly tagged: { min: number; max: number } | undefined;
}

const asRange = (range: { min: number; max: number } | undefined): Range =>
  range === undefined ? undefined : [range.min, range.max];

/** Differences between a hand-written schema and Kafka's definition, within the served versions. */
function compareFields(
  where: string,
  json: readonly JsonField[],
  schema: readonly SchemaFieldLike[],
  served: Range,
): string[] {
  const problems: string[] = [];
  const relevantJson = json.filter((item) => intersect(parseRange(item.versions), served) !== 'none');
  const relevantSchema = schema.filter((item) => intersect(asRange(item.versions), served) !== 'none');
  const order = (names: string[]) => names.join(', ');
  const jsonNames = relevantJson.map((item) => camel(item.name));
  const schemaNames = relevantSchema.map((item) => item.name);
  if (order(jsonNames) !== order(schemaNames)) {
    problems.push(`${where}: fields [${order(schemaNames)}], Kafka has [${order(jsonNames)}]`);
    return problems;
  }
  relevantJson.forEach((item, index) => {
    const mine = relevantSchema[index]!;
    const name = `${where}.${mine.name}`;
    const versions = parseRange(item.versions);
    const inServed = (range: Range) =>
      intersect(intersect(range, versions) === 'none' ? undefined : range, served);
    const checks: [string, string, string][] = [
      ['versions', intersect(asRange(mine.versions), served), intersect(versions, served)],
      [
        'nullable versions',
        inServed(
          asRange(mine.nullable) === undefined ? undefined : intersectRange(asRange(mine.nullable), versions),
        ),
        inServed(intersectRange(parseRange(item.nullableVersions), versions)),
      ],
      [
        'tagged versions',
        intersect(asRange(mine.tagged), served),
        intersect(parseRange(item.taggedVersions), served),
      ],
      ['tag', String(mine.tag ?? '-'), String(item.tag ?? '-')],
      ['array', String(mine.array), String(item.type.startsWith('[]'))],
    ];
    const element = elementType(item);
    if (typeof mine.type === 'string')
      checks.push(['type', mine.type, item.fields === undefined ? element : 'struct']);
    for (const [what, have, want] of checks)
      if (have !== want) problems.push(`${name}: ${what} ${have}, Kafka has ${want}`);
    if (typeof mine.type !== 'string') {
      if (item.fields === undefined) problems.push(`${name}: a struct, Kafka has ${element}`);
      else problems.push(...compareFields(name, item.fields, mine.type, served));
    }
  });
  return problems;
}

function intersectRange(left: Range, right: Range): Range {
  if (left === undefined || right === undefined) return undefined;
  const min = Math.max(left[0], right[0]);
  const max = Math.min(left[1], right[1]);
  return min > max ? undefined : [min, max];
}

/** Checks every implemented schema against `<directory>/<Name>{Request,Response}.json`. */
async function check(directory: string): Promise<number> {
  const { APIS } = await import('../packages/kafka-protocol/src/apis.ts');
  let problems = 0;
  for (const api of APIS) {
    for (const schema of [api.request, api.response]) {
      const file = path.join(directory, `${schema.name}.json`);
      let message: JsonMessage;
      try {
        message = parseDefinition(file);
      } catch {
        console.log(`${schema.name}: no ${file}, not checked`);
        continue;
      }
      const served: Range = [api.versionMin, api.versionMax];
      const found = compareFields(
        schema.name,
        message.fields,
        schema.fields as unknown as SchemaFieldLike[],
        served,
      );
      const flexibleFrom =
        message.flexibleVersions === 'none' ? Number.POSITIVE_INFINITY : rangeMin(message.flexibleVersions);
      if (schema.flexibleFrom !== flexibleFrom)
        found.push(`${schema.name}: flexible from ${schema.flexibleFrom}, Kafka from ${flexibleFrom}`);
      for (const problem of found) console.log(problem);
      console.log(
        `${schema.name} (served ${api.versionMin}-${api.versionMax}): ${found.length === 0 ? 'matches' : `${found.length} differences`}`,
      );
      problems += found.length;
    }
  }
  return problems;
}

const [file, flag, served] = process.argv.slice(2);
if (file === '--check' && flag !== undefined) {
  process.exit((await check(flag)) === 0 ? 0 : 1);
}
if (file === undefined || (flag !== undefined && flag !== '--served')) {
  console.error(
    'usage: node scripts/kafka-codegen.ts <Message.json> [--served <min>-<max>]\n' +
      '       node scripts/kafka-codegen.ts --check <directory of Kafka message JSONs>',
  );
  process.exit(2);
}
process.stdout.write(generate(file, served));
