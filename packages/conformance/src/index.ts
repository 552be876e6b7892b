/**
 * `@herald/conformance`: the suite that proves a transport honours the Transport contract.
 * A transport's test file is a few lines:
 *
 * @example
 * import { runConformance } from '@herald/conformance';
 * import { memoryTransport } from '@herald/bus';
 * runConformance({ name: 'memory', create: () => memoryTransport() });
 *
 * Scenarios adapt to the transport's declared `features` and skip with a stated reason; a
 * transport never skips a scenario itself. `HERALD_STRESS=N` runs N copies of each at once.
 */
import { describe, it } from 'node:test';
import type { Transport } from '@herald/bus';
import { uniqueTopic } from './harness.ts';
import type { ConformanceTarget, Scenario, ScenarioContext } from './scenario.ts';
import { acknowledgementScenarios } from './scenarios/acknowledgement.ts';
import { consumerScenarios } from './scenarios/consumers.ts';
import { deliveryScenarios } from './scenarios/delivery.ts';
import { lifecycleScenarios } from './scenarios/lifecycle.ts';
import { payloadScenarios } from './scenarios/payload.ts';
import { reconnectScenarios } from './scenarios/reconnect.ts';
import { schedulingScenarios } from './scenarios/scheduling.ts';
import { topicPatternScenarios } from './scenarios/topic-patterns.ts';

export * from './harness.ts';
export type { ConformanceTarget, Scenario, ScenarioContext } from './scenario.ts';

/** Every scenario, in the order they run. */
export const scenarios: readonly Scenario[] = [
  ...deliveryScenarios,
  ...acknowledgementScenarios,
  ...lifecycleScenarios,
  ...payloadScenarios,
  ...consumerScenarios,
  ...reconnectScenarios,
  ...schedulingScenarios,
  ...topicPatternScenarios,
];

/** Longest a single scenario run may take. */
const SCENARIO_TIMEOUT_MS = 60_000;
/** Longest the whole suite may take (creating the probe transport included), so nothing hangs a run. */
const SUITE_TIMEOUT_MS = 20 * 60_000;

/**
 * Registers the suite with `node:test` for `target`, plus any `extra` scenarios a later issue adds.
 * Prints the scenario list with each one's outcome (skips carry their reason).
 */
export function runConformance(target: ConformanceTarget, extra: readonly Scenario[] = []): void {
  const stress = target.stress ?? Number(process.env.HERALD_STRESS ?? 1);
  describe(`conformance: ${target.name}${stress > 1 ? ` (stress ×${stress})` : ''}`, {
    timeout: SUITE_TIMEOUT_MS,
  }, async () => {
    // Features are read from one instance before any scenario runs, so skips are known up front.
    const probe = await target.create();
    const features = probe.features;
    await probe.close();
    const all = [...scenarios, ...extra];
    const divergences = target.emulatorDivergences ?? {};
    for (const name of Object.keys(divergences)) {
      if (!all.some((scenario) => scenario.name === name)) {
        throw new Error(`emulatorDivergences names no scenario: "${name}"; use a name the suite prints`);
      }
    }
    for (const scenario of all) {
      const divergence = divergences[scenario.name];
      const skip =
        divergence === undefined ? scenario.skip?.(features, target) : `emulator divergence: ${divergence}`;
      it(scenario.name, { skip: skip ?? false, timeout: SCENARIO_TIMEOUT_MS }, async () => {
        await Promise.all(Array.from({ length: stress }, () => runScenario(target, scenario)));
      });
    }
  });
}

/**
 * Runs one scenario once against a fresh transport of `target` (a unique topic; the transport is
 * closed afterwards, also when the scenario fails). Rejects with the scenario's failure. For
 * runners other than `node:test`, e.g. a test that the suite catches a deliberately broken transport.
 */
export async function runScenario(target: ConformanceTarget, scenario: Scenario): Promise<void> {
  let transport: Transport = await target.create();
  const context: ScenarioContext = {
    transport,
    topic: uniqueTopic(scenario.name),
    target,
    replaceTransport(next) {
      transport = next;
      context.transport = next;
    },
  };
  try {
    await scenario.run(context);
  } finally {
    await transport.close();
  }
}
