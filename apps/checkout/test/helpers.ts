/**
 * Shared helpers of the checkout tests: temporary directories named after the test, and JSON over
 * HTTP. Waits and the rest come from `@herald/test-support`.
 */
import { temporaryDirectory as testDirectory } from '@herald/test-support';

/** A fresh temporary directory `herald-checkout-<prefix>-…`, removed when the test process exits. */
export function temporaryDirectory(prefix: string): string {
  return testDirectory(`herald-checkout-${prefix}-`);
}

/** POSTs JSON; returns status, parsed body and headers. */
export async function postJson(url: string, body: unknown, headers: Record<string, string> = {}) {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  return {
    status: response.status,
    body: (await response.json()) as Record<string, unknown>,
    headers: response.headers,
  };
}
