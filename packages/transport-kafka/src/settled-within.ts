/** Waiting on the broker with a bound, for the paths (close) that must finish whatever it does. */

/** Resolves true once `promise` settled (either way), or false after `timeoutMs`; it runs on unobserved. */
export async function settledWithin(promise: Promise<unknown>, timeoutMs: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const settled = await Promise.race([
    promise.then(
      () => true,
      () => true,
    ),
    new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(false), timeoutMs);
    }),
  ]);
  clearTimeout(timer);
  return settled;
}

/** `promise` with its rejection ignored (for best-effort steps of closing); undefined passes through. */
export function quietly(promise: Promise<unknown> | undefined): Promise<void> {
  return Promise.resolve(promise).then(
    () => {},
    () => {},
  );
}
