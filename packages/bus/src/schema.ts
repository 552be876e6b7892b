/**
 * Standard Schema support: any validator implementing Standard Schema v1 (zod 4, valibot, arktype)
 * defines a contract's payload, and its output type becomes the payload type.
 */
import type { StandardSchemaV1 } from '@standard-schema/spec';
import { ValidationError, type ValidationIssue } from './errors.ts';

export type { StandardSchemaV1 } from '@standard-schema/spec';

/** The validated (output) type of a Standard Schema. */
export type Infer<S extends StandardSchemaV1> = StandardSchemaV1.InferOutput<S>;
/** The accepted (input) type of a Standard Schema. */
export type InferInput<S extends StandardSchemaV1> = StandardSchemaV1.InferInput<S>;

/** True when `value` implements Standard Schema v1. */
export function isStandardSchema(value: unknown): value is StandardSchemaV1 {
  if (value === null || (typeof value !== 'object' && typeof value !== 'function')) return false;
  const props = (value as { '~standard'?: { version?: unknown; validate?: unknown } })['~standard'];
  return props !== undefined && props.version === 1 && typeof props.validate === 'function';
}

/**
 * Validates `value` against `schema`, returning the schema's output or throwing a
 * {@link ValidationError} that names each failing path. `what` names the value in the message.
 */
export async function validate<S extends StandardSchemaV1>(
  schema: S,
  value: unknown,
  what: string,
): Promise<Infer<S>> {
  return validateNow(schema, value, what);
}

/**
 * {@link validate} without the promise when the schema answers synchronously (zod, valibot and
 * arktype do for schemas without async refinements): the output itself, or a promise of it from an
 * asynchronous schema. Throws (or rejects) the same {@link ValidationError}. The publish path and
 * the validation middleware use it to skip a promise and a tick per message. The error names the
 * value `name(what)`, built only when the value fails (see {@link validatePayloadNow}).
 */
export function validateNow<S extends StandardSchemaV1>(
  schema: S,
  value: unknown,
  what: string,
  name: (what: string) => string = asIs,
): Infer<S> | Promise<Infer<S>> {
  const result = schema['~standard'].validate(value);
  if (result instanceof Promise) return result.then((settled) => outputOf<S>(settled, what, name));
  return outputOf<S>(result, what, name);
}

/**
 * {@link validateNow} of a contract's payload, naming it `"<type>" payload` in the error: the name
 * is built only when the payload fails (building it per publish cost a string, about 20 ns).
 */
export function validatePayloadNow<S extends StandardSchemaV1>(
  schema: S,
  value: unknown,
  type: string,
): Infer<S> | Promise<Infer<S>> {
  return validateNow(schema, value, type, payloadName);
}

const asIs = (what: string): string => what;
const payloadName = (type: string): string => `"${type}" payload`;

function outputOf<S extends StandardSchemaV1>(
  result: StandardSchemaV1.Result<unknown>,
  what: string,
  name: (what: string) => string,
): Infer<S> {
  if (result.issues === undefined) return result.value as Infer<S>;
  throw new ValidationError(name(what), result.issues.map(toIssue));
}

function toIssue(issue: StandardSchemaV1.Issue): ValidationIssue {
  const path = (issue.path ?? [])
    .map((segment) => (typeof segment === 'object' ? segment.key : segment))
    .map(String)
    .join('.');
  return { path, message: issue.message };
}
