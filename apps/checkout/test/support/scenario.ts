/**
 * The one scenario every distributed checkout test runs, whatever the transport: start the seven
 * services as OS processes with the transport's environment, register customers, drive orders
 * through the order API, fail something once a third of the orders are in (by default: kill -9 the
 * inventory process and start it again on the same data), wait for rest, stop every service with
 * SIGTERM and assert every invariant. Each test file supplies only its transport's environment,
 * set-up and clean-up.
 */
import assert from 'node:assert/strict';
import type { TestContext } from 'node:test';
import { registerCustomers, runLoad } from '../../src/load.ts';
import { temporaryDirectory } from '../helpers.ts';
import {
  assertInvariants,
  killStragglers,
  type RunningService,
  type ServiceOptions,
  startService,
  startServices,
  stopServices,
  urlOf,
  waitForRest,
} from './services.ts';

/** Counts the run's dead letters once the services have stopped. */
export interface DeadLetterCount {
  /** The number of dead letters of the run's topics. */
  count(): number | Promise<number>;
  /** Releases what counting holds (a transport, subscriptions); called even when the test fails. */
  close?(): Promise<void>;
}

/** What is done to the system mid-run, once a third of the orders are accepted. */
export type MidRunFault = (
  t: TestContext,
  services: RunningService[],
  context: { readonly dataDir: string; readonly options: ServiceOptions },
) => Promise<void>;

/** One transport's run of the scenario. */
export interface CheckoutScenario {
  /** Names the temporary data directory (`herald-checkout-<name>-…`). */
  readonly name: string;
  /** How the services run on the transport (`HERALD_TRANSPORT` and its settings). */
  readonly services: ServiceOptions;
  /** Orders the load places; every one must be accepted. */
  readonly orders: number;
  /** Orders per second the load offers. */
  readonly ratePerSecond: number;
  /** Seed of the load's random choices, so a failure can be replayed. */
  readonly seed: number;
  /** Customers registered before the load (default 10). */
  readonly customers?: number;
  /**
   * The fault injected once a third of the orders are accepted (default
   * {@link killAndRestartInventory}); `null` for a run without a fault.
   */
  readonly midRun?: MidRunFault | null;
  /**
   * Starts counting dead letters; called once the services run, before the first order (SQS cannot
   * replay, so the AWS test must subscribe to the dead-letter topics before anything arrives).
   */
  readonly deadLetters: () => Promise<DeadLetterCount>;
}

const CUSTOMERS_DEFAULT = 10;

/** The default fault: kill -9 the inventory process, then start it again on the same data. */
export const killAndRestartInventory: MidRunFault = async (t, services, { dataDir, options }) => {
  const index = services.findIndex((service) => service.name === 'inventory');
  const inventory = services[index]!;
  inventory.child.kill('SIGKILL');
  assert.equal(await inventory.exit, null, 'inventory died of SIGKILL');
  t.diagnostic(`inventory (pid ${inventory.child.pid}) killed with SIGKILL mid-run`);
  services[index] = await startService('inventory', dataDir, options);
  t.diagnostic(`inventory restarted as pid ${services[index]!.child.pid}`);
};

/**
 * Runs the scenario on `scenario`'s transport and asserts every invariant. Every service process it
 * started is killed before it returns or throws; the transport's own clean-up (topics, queues, keys)
 * is the caller's.
 */
export async function runCheckoutScenario(t: TestContext, scenario: CheckoutScenario): Promise<void> {
  const dataDir = temporaryDirectory(scenario.name);
  const customers = scenario.customers ?? CUSTOMERS_DEFAULT;
  const midRun = scenario.midRun === undefined ? killAndRestartInventory : scenario.midRun;
  let deadLetters: DeadLetterCount | undefined;
  try {
    // Every service subscribes before any order exists: on some transports (RabbitMQ, SQS) a group
    // receives only what is published after its queues exist.
    const services = await startServices(dataDir, scenario.services);
    assert.ok(!services.some((service) => service.child.pid === process.pid));
    deadLetters = await scenario.deadLetters();
    await registerCustomers(urlOf(services, 'user'), customers);
    const third = Promise.withResolvers<void>();
    const load = runLoad({
      url: urlOf(services, 'order'),
      orders: scenario.orders,
      ratePerSecond: scenario.ratePerSecond,
      customers,
      seed: scenario.seed,
      onProgress: (progress) => {
        if (progress.accepted >= scenario.orders / 3) third.resolve();
      },
    });
    let loadDoneAtMs = 0;
    // A failed load is reported where it is awaited below; this only notes when it ended.
    void load.then(
      () => {
        loadDoneAtMs = performance.now();
      },
      () => {},
    );
    let faultAtMs: number | undefined;
    if (midRun !== null) {
      await Promise.race([third.promise, load]);
      faultAtMs = performance.now();
      await midRun(t, services, { dataDir, options: scenario.services });
    }
    const result = await load;
    if (faultAtMs !== undefined) {
      // How long the load still ran once the fault began (it may end while a restart is under way).
      t.diagnostic(
        `load done ${Math.round(loadDoneAtMs - faultAtMs)} ms after the fault began: ` +
          `${result.accepted} accepted, ${result.failures.length} failures`,
      );
    }
    assert.equal(result.accepted, scenario.orders, `load failures: ${result.failures.join('; ')}`);
    await waitForRest(dataDir, { explainFailure: true, orders: scenario.orders });

    // SIGTERM drains each service; each exits 0.
    await stopServices(services);
    assertInvariants(t, dataDir, await deadLetters.count(), scenario.orders);
  } finally {
    killStragglers();
    await deadLetters?.close?.();
  }
}
