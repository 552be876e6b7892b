/** The shape of a conformance scenario and of the target a transport author describes. */
import type { Transport, TransportFeatures } from '@herald/bus';

/** What a transport's test file passes to {@link runConformance}. */
export interface ConformanceTarget {
  /** Shown in test names, e.g. `memory`. */
  readonly name: string;
  /** Creates a fresh, independent transport instance. */
  create(): Promise<Transport> | Transport;
  /**
   * Stops `transport` and returns a new instance on the same stored state (same data directory,
   * same broker after a restart). Declaring it enables the restart scenarios. Prefer a crash
   * (SIGKILL the process holding the state, as the embedded target does) to a clean close: a
   * close may flush what a crash loses, so only a crash checks that an ack was durable when
   * `ack()` resolved.
   */
  restart?(transport: Transport): Promise<Transport>;
  /**
   * Makes the broker drop every connection the target's transports hold (e.g.
   * `rabbitmqctl close_connection` for each), as a network failure or broker restart would;
   * resolves once they are dropped. The transports must reconnect by themselves. Declaring it
   * enables the reconnect scenario.
   */
  dropConnections?(): Promise<void>;
  /** Stress mode: how many copies of each scenario run at once (default `HERALD_STRESS` or 1). */
  readonly stress?: number;
  /**
   * Scenarios this target cannot run because it tests against an emulator that departs from the
   * real broker, by scenario name, each with the reason (shown as the skip reason). Only for an
   * emulator's documented divergence, never for the transport's own behaviour; an unknown name
   * fails the suite, so a renamed scenario is never skipped silently.
   */
  readonly emulatorDivergences?: Readonly<Record<string, string>>;
}

/** What a scenario receives. */
export interface ScenarioContext {
  /** A fresh transport for this run; the suite closes it afterwards. */
  transport: Transport;
  /** A topic no other run uses. */
  readonly topic: string;
  /** The target, for scenarios that restart it. */
  readonly target: ConformanceTarget;
  /** Replaces the transport after a restart, so the suite closes the live one. */
  replaceTransport(next: Transport): void;
}

/** One behaviour of the Transport contract. */
export interface Scenario {
  /** `"<area> - <behaviour>"`. */
  readonly name: string;
  /** Why the scenario cannot run against this target, or undefined when it can. */
  skip?(features: TransportFeatures, target: ConformanceTarget): string | undefined;
  run(context: ScenarioContext): Promise<void>;
}
