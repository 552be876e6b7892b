/**
 * The seeded pseudo-random generator of Herald's tests, so a failing run replays exactly from the
 * seed it printed.
 */

/**
 * A mulberry32 generator: each call returns the next number in [0, 1) of the sequence that `seed`
 * (taken as an unsigned 32-bit integer) determines. Small and fast; not for cryptography.
 */
export function createRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let value = state;
    value = Math.imul(value ^ (value >>> 15), value | 1);
    value ^= value + Math.imul(value ^ (value >>> 7), value | 61);
    return ((value ^ (value >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * The seed in the environment variable `name` when it is set (a decimal integer), else a fresh
 * random one; print it so the run can be replayed with `name=<seed>`.
 */
export function seedFromEnv(name: string): number {
  const text = process.env[name];
  if (text === undefined || text === '') return Math.floor(Math.random() * 2 ** 31);
  const seed = Number(text);
  if (!Number.isSafeInteger(seed))
    throw new Error(`${name}=${text} is not an integer seed: unset it or give one`);
  return seed;
}
