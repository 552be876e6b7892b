/**
 * What the health endpoints answer, without the HTTP server (this package never touches the
 * network): `herald`'s `startHealthServer`, `herald serve --health-port` and applications with a
 * router of their own all answer the same paths the same way.
 *
 * - `GET /live`: 200 while the process should keep running, 503 when restarting it may help
 *   (a Kubernetes `livenessProbe`).
 * - `GET /ready`: 200 when it can take traffic, 503 otherwise (a `readinessProbe`).
 * - `GET /health`: the whole report as JSON, 200 when ready and 503 otherwise.
 */
import type { BusHealth } from './health.ts';

/** The verdicts a health report carries; a {@link BusHealth} is one. */
export interface HealthVerdict {
  readonly live: boolean;
  readonly ready: boolean;
}

/** An HTTP answer: status, content type and body text. */
export interface HealthAnswer {
  readonly status: number;
  readonly contentType: string;
  readonly body: string;
}

/** The paths {@link healthAnswer} serves. */
export const HEALTH_PATHS: readonly string[] = ['/live', '/ready', '/health'];

const JSON_TYPE = 'application/json; charset=utf-8';

/** The answer to `GET <path>` from `report`; undefined for a path that is not a health path. */
export function healthAnswer(path: string, report: HealthVerdict): HealthAnswer | undefined {
  switch (path) {
    case '/live':
      return json(report.live ? 200 : 503, { live: report.live });
    case '/ready':
      return json(report.ready ? 200 : 503, { ready: report.ready });
    case '/health':
      return json(report.ready ? 200 : 503, report);
    default:
      return undefined;
  }
}

/** The answer when computing the report itself failed: not live, not ready, and why. */
export function healthFailureAnswer(error: unknown): HealthAnswer {
  return json(503, {
    live: false,
    ready: false,
    error: error instanceof Error ? error.message : String(error),
  });
}

/**
 * One verdict over several buses (a process with a bus per service): live when every bus is,
 * ready when every bus is; the reports by name ride along for `/health`.
 */
export function combineHealth(
  reports: Readonly<Record<string, BusHealth>>,
): HealthVerdict & { readonly buses: Readonly<Record<string, BusHealth>> } {
  const all = Object.values(reports);
  return {
    live: all.every((report) => report.live),
    ready: all.length > 0 && all.every((report) => report.ready),
    buses: reports,
  };
}

function json(status: number, body: unknown): HealthAnswer {
  return {
    status,
    contentType: JSON_TYPE,
    body: JSON.stringify(body, (_key, value: unknown) => (typeof value === 'bigint' ? String(value) : value)),
  };
}
