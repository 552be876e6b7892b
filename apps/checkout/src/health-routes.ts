/**
 * The checkout's probes: `/live`, `/ready` and `/health` from `bus.health()` of every bus the
 * process runs (each service's consuming bus and its outbox publisher), combined — ready only
 * when every one is. A stopped service (the benchmark takes payment down) makes the process
 * unready until it starts again, which is what a load balancer should see.
 */
import { type Bus, combineHealth, healthAnswer } from 'herald';
import type { Route } from './http.ts';

/** The probe routes over the buses `buses()` returns at request time, by name. */
export function healthRoutes(buses: () => ReadonlyMap<string, Bus>, expected: readonly string[]): Route[] {
  const report = () => {
    const running = buses();
    const reports = Object.fromEntries([...running].map(([name, bus]) => [name, bus.health()]));
    const missing = expected.filter((name) => !running.has(name));
    const combined = combineHealth(reports);
    return { ...combined, ready: combined.ready && missing.length === 0, stopped: missing };
  };
  return ['/live', '/ready', '/health'].map((path) => ({
    method: 'GET' as const,
    path,
    handle: () => {
      const answer = healthAnswer(path, report())!;
      return { status: answer.status, body: JSON.parse(answer.body) as unknown };
    },
  }));
}
