/**
 * A contract's payload as JSON Schema, for the AsyncAPI document. Herald accepts any Standard
 * Schema, and not every validator can describe itself as JSON Schema, so the conversion may fail:
 * the result then carries a note saying why, which the document prints instead of a payload.
 */
import type { StandardSchemaV1 } from '../schema.ts';

/** The JSON Schema dialect of every payload in the document (AsyncAPI's `schemaFormat`). */
export const PAYLOAD_SCHEMA_FORMAT = 'application/schema+json;version=draft-07';

/** A converted payload schema, or why there is none. */
export type PayloadSchema =
  | { readonly converted: true; readonly schema: Readonly<Record<string, unknown>> }
  | { readonly converted: false; readonly note: string };

/** The Standard JSON Schema extension (zod 4.2+, arktype 2.1+): `~standard.jsonSchema`. */
interface JsonSchemaExtension {
  readonly input: (options: { readonly target: string }) => Record<string, unknown>;
}

/** `@valibot/to-json-schema`'s converter, loaded only when the application installed it. */
type ValibotConverter = (schema: unknown, config?: Record<string, unknown>) => Record<string, unknown>;

const VALIBOT_CONVERTER_PACKAGE = '@valibot/to-json-schema';

/**
 * Converts `schema` to JSON Schema draft-07 describing what a consumer accepts (the schema's
 * input): that is what a producer outside Herald must put on the wire. Uses the Standard JSON
 * Schema extension where the validator has it (zod 4, arktype), `@valibot/to-json-schema` for
 * valibot when it is installed, and otherwise resolves a note naming the reason.
 */
export async function payloadSchema(schema: StandardSchemaV1): Promise<PayloadSchema> {
  const standard = schema['~standard'] as StandardSchemaV1['~standard'] & {
    jsonSchema?: JsonSchemaExtension;
  };
  const vendor = standard.vendor;
  try {
    if (typeof standard.jsonSchema?.input === 'function') {
      return converted(standard.jsonSchema.input({ target: 'draft-07' }));
    }
    if (vendor === 'valibot') {
      const convert = await valibotConverter();
      if (convert === undefined) {
        return unconverted(
          `the valibot schema was not converted: install ${VALIBOT_CONVERTER_PACKAGE} next to valibot ` +
            'and regenerate the document',
        );
      }
      return converted(convert(schema, { errorMode: 'throw' }));
    }
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    return unconverted(`the ${vendor} schema cannot be expressed as JSON Schema (${reason})`);
  }
  return unconverted(
    `the ${vendor} schema has no JSON Schema conversion (neither the Standard JSON Schema extension ` +
      "nor a known converter); describe the payload in the contract's documentation instead",
  );
}

function converted(jsonSchema: Record<string, unknown>): PayloadSchema {
  // The dialect is stated once, as the payload's schemaFormat; a `$schema` inside would repeat it.
  const { $schema: _dialect, ...schema } = jsonSchema;
  return { converted: true, schema };
}

function unconverted(note: string): PayloadSchema {
  return { converted: false, note };
}

async function valibotConverter(): Promise<ValibotConverter | undefined> {
  try {
    // A variable specifier: the converter is an optional peer that @herald/bus does not depend on.
    const specifier: string = VALIBOT_CONVERTER_PACKAGE;
    const module = (await import(specifier)) as { toJsonSchema?: ValibotConverter };
    return module.toJsonSchema;
  } catch {
    return undefined;
  }
}
