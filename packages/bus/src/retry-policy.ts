/** When and how soon a failed delivery is tried again. */
import { ConfigurationError } from './errors.ts';

/** A per-handler retry policy. Every field has a bound, so a poison message cannot loop forever. */
export interface RetryPolicy {
  /** Total deliveries including the first (1…100; default 5). After the last, the message is dead-lettered. */
  readonly attempts: number;
  /** Delay before the first retry (default 100 ms). */
  readonly delayMsInitial: number;
  /** Largest delay between attempts (default 30 s, at most 1 hour). */
  readonly delayMsMax: number;
  /** Growth factor per attempt (default 2). */
  readonly multiplier: number;
  /** Random spread: each delay is drawn from [delay × (1 − jitter), delay] (0…1; default 0.2). */
  readonly jitter: number;
}

/** Bounds on {@link RetryPolicy} fields. */
export const RETRY_ATTEMPTS_MAX = 100;
export const RETRY_DELAY_MS_MAX = 60 * 60 * 1000;

/** The default policy: 5 attempts, 100 ms doubling to at most 30 s, 20% jitter. */
export const DEFAULT_RETRY_POLICY: RetryPolicy = Object.freeze({
  attempts: 5,
  delayMsInitial: 100,
  delayMsMax: 30_000,
  multiplier: 2,
  jitter: 0.2,
});

/** Merges `overrides` onto the default policy and checks every bound. */
export function retryPolicy(overrides: Partial<RetryPolicy> = {}): RetryPolicy {
  const policy = { ...DEFAULT_RETRY_POLICY, ...overrides };
  const check = (ok: boolean, what: string) => {
    if (!ok) throw new ConfigurationError(`retry policy: ${what}`);
  };
  check(Number.isSafeInteger(policy.attempts) && policy.attempts >= 1, 'attempts must be an integer ≥ 1');
  check(policy.attempts <= RETRY_ATTEMPTS_MAX, `attempts must be at most ${RETRY_ATTEMPTS_MAX}`);
  check(policy.delayMsInitial >= 0, 'delayMsInitial must be ≥ 0');
  check(
    policy.delayMsMax >= policy.delayMsInitial && policy.delayMsMax <= RETRY_DELAY_MS_MAX,
    `delayMsMax must be between delayMsInitial and ${RETRY_DELAY_MS_MAX}`,
  );
  check(policy.multiplier >= 1, 'multiplier must be ≥ 1');
  check(policy.jitter >= 0 && policy.jitter <= 1, 'jitter must be between 0 and 1');
  return Object.freeze(policy);
}

/** Delay before delivery number `attempt + 1`, given that delivery `attempt` (1-based) failed. */
export function retryDelayMs(
  policy: RetryPolicy,
  attempt: number,
  random: () => number = Math.random,
): number {
  const exponential = policy.delayMsInitial * policy.multiplier ** Math.max(0, attempt - 1);
  const capped = Math.min(policy.delayMsMax, exponential);
  return Math.round(capped * (1 - policy.jitter * random()));
}
