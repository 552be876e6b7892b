/**
 * Rate limit for warnings of one source (a subscription, the transport): at most one warning per
 * `intervalMs`; the next one written says how many were suppressed since the last, so a broker
 * outage is visible in the log without flooding it.
 */
export class WarningThrottle {
  readonly #write: (message: string) => void;
  readonly #intervalMs: number;
  readonly #nowMs: () => number;
  #lastMs = Number.NEGATIVE_INFINITY;
  #suppressed = 0;

  constructor(
    write: (message: string) => void,
    intervalMs: number,
    nowMs: () => number = performance.now.bind(performance),
  ) {
    this.#write = write;
    this.#intervalMs = intervalMs;
    this.#nowMs = nowMs;
  }

  /** Warnings dropped since the last one written. */
  get suppressed(): number {
    return this.#suppressed;
  }

  /** Writes `message` unless a warning was written less than `intervalMs` ago (then counts it). */
  warn(message: string): void {
    const now = this.#nowMs();
    if (now - this.#lastMs < this.#intervalMs) {
      this.#suppressed += 1;
      return;
    }
    const suppressed = this.#suppressed;
    this.#lastMs = now;
    this.#suppressed = 0;
    this.#write(
      suppressed === 0
        ? message
        : `${message} (${suppressed} more warning${suppressed === 1 ? '' : 's'} suppressed since the previous one)`,
    );
  }
}
