/**
 * Loads a module from another checkout of this repository, so a micro-benchmark can time main's
 * code and a branch's in the same way (the leading `_` keeps it out of `bench/run.ts`'s suites).
 */
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

/** The checkout root a micro-benchmark was given as its first argument, or this one. */
export const checkoutRoot = resolve(process.argv[2] ?? '.');

/** Imports `path` (relative to a checkout's root) from `root`; `T` is the module's type here. */
export function fromCheckout<T>(path: string, root = checkoutRoot): Promise<T> {
  return import(pathToFileURL(resolve(root, path)).href) as Promise<T>;
}
