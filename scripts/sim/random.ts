/** A small seeded random source (sfc32): the same seed gives the same sequence on every machine. */
export class Random {
  #a: number;
  #b: number;
  #c: number;
  #d: number;

  constructor(seed: number) {
    this.#a = 0x9e3779b9;
    this.#b = 0x243f6a88;
    this.#c = 0xb7e15162;
    this.#d = seed >>> 0;
    // Mixing rounds so that neighbouring seeds diverge at once.
    for (let round = 0; round < 16; round++) this.next();
  }

  /** A uniform 32-bit unsigned integer. */
  next(): number {
    const t = (((this.#a + this.#b) | 0) + this.#d) | 0;
    this.#d = (this.#d + 1) | 0;
    this.#a = this.#b ^ (this.#b >>> 9);
    this.#b = (this.#c + (this.#c << 3)) | 0;
    this.#c = (this.#c << 21) | (this.#c >>> 11);
    this.#c = (this.#c + t) | 0;
    return t >>> 0;
  }

  /** A uniform integer in [0, bound); 0 when bound is 0. */
  below(bound: number): number {
    return bound <= 0 ? 0 : Math.floor((this.next() / 2 ** 32) * bound);
  }

  /** A float in [0, 1). */
  fraction(): number {
    return this.next() / 2 ** 32;
  }

  /** True with probability `p`. */
  chance(p: number): boolean {
    return this.fraction() < p;
  }
}
