/**
 * Checks every transport applies to its options at creation, so a bad option fails alike
 * everywhere: a {@link ConfigurationError} whose message starts with the transport (`owner`, e.g.
 * `natsTransport`), names the option and says what it must be.
 */
import { HANDLER_TIMEOUT_MS_MAX } from './bus-api.ts';
import { ConfigurationError } from './errors.ts';

/**
 * `value`, or `fallback` when it is undefined, after checking it is a safe integer from `min` to
 * `max` (inclusive). Throws a {@link ConfigurationError} such as `natsTransport: partitions must be
 * an integer from 1 to 64, got 0`.
 */
export function integerOption(
  owner: string,
  name: string,
  value: number | undefined,
  fallback: number,
  min: number,
  max: number,
): number {
  return inBounds(
    { owner, name, kind: 'an integer', legal: Number.isSafeInteger },
    value ?? fallback,
    min,
    max,
  );
}

/**
 * `value`, or `fallback` when it is undefined, after checking it is a finite number from `min` to
 * `max` (inclusive; fractions allowed). Throws a {@link ConfigurationError} such as
 * `kafkaTransport: lingerMs must be a number from 0 to 1000, got -1`.
 */
export function numberOption(
  owner: string,
  name: string,
  value: number | undefined,
  fallback: number,
  min: number,
  max: number,
): number {
  return inBounds({ owner, name, kind: 'a number', legal: Number.isFinite }, value ?? fallback, min, max);
}

function inBounds(
  option: { owner: string; name: string; kind: string; legal: (value: number) => boolean },
  chosen: number,
  min: number,
  max: number,
): number {
  if (!option.legal(chosen) || chosen < min || chosen > max) {
    throw new ConfigurationError(
      `${option.owner}: ${option.name} must be ${option.kind} from ${min} to ${max}, got ${chosen}`,
    );
  }
  return chosen;
}

/**
 * `value` after checking it matches `pattern`; `rule` describes the pattern for the message, as in
 * `natsTransport: prefix must be 1-32 characters from A-Z a-z 0-9 _ -, got "a.b"` (a
 * {@link ConfigurationError}).
 */
export function matchingOption(
  owner: string,
  name: string,
  value: string,
  pattern: RegExp,
  rule: string,
): string {
  if (typeof value !== 'string' || !pattern.test(value)) {
    throw new ConfigurationError(`${owner}: ${name} must be ${rule}, got "${String(value)}"`);
  }
  return value;
}

/**
 * `value` after checking it is one of `allowed`. Throws a {@link ConfigurationError} such as
 * `rabbitMqTransport: queueType must be "quorum" or "classic", got "stream"`.
 */
export function oneOfOption<const T extends string>(
  owner: string,
  name: string,
  value: string,
  allowed: readonly T[],
): T {
  if (!(allowed as readonly string[]).includes(value)) {
    const choices = allowed.map((choice) => `"${choice}"`);
    const listed =
      choices.length > 1 ? `${choices.slice(0, -1).join(', ')} or ${choices.at(-1)}` : choices[0];
    throw new ConfigurationError(`${owner}: ${name} must be ${listed}, got "${value}"`);
  }
  return value as T;
}

/**
 * `value` after checking it is a URL whose scheme is one of `schemes` (without `:`), or any URL
 * when `schemes` is empty; `example` shows a good one. Throws a {@link ConfigurationError} such as
 * `redisTransport: url must start with redis:// or rediss:// and be a valid URL, e.g.
 * redis://127.0.0.1:6379`; the message never repeats the value, which may hold a password.
 */
export function urlOption(
  owner: string,
  name: string,
  value: string,
  schemes: readonly string[],
  example: string,
): string {
  const parsed = typeof value === 'string' ? URL.parse(value) : null;
  const scheme = parsed?.protocol.slice(0, -1) ?? '';
  if (parsed === null || (schemes.length > 0 && !schemes.includes(scheme))) {
    const rule =
      schemes.length === 0
        ? 'must be a URL'
        : `must start with ${schemes.map((each) => `${each}://`).join(' or ')} and be a valid URL`;
    throw new ConfigurationError(`${owner}: ${name} ${rule}, e.g. ${example}`);
  }
  return value;
}

/**
 * The integer in environment variable `name`, or undefined when it is unset or empty (the option's
 * default then applies). Throws a {@link ConfigurationError} naming the variable for anything that
 * is not an integer; ranges are the option's own check.
 */
export function integerFromEnv(
  env: Readonly<Record<string, string | undefined>>,
  name: string,
): number | undefined {
  const text = env[name];
  if (text === undefined || text === '') return undefined;
  const value = Number(text);
  if (!Number.isSafeInteger(value)) {
    throw new ConfigurationError(`${name} must be an integer, got ${text}`);
  }
  return value;
}
