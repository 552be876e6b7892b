/**
 * The helpers of Herald's own tests, in one private workspace: deadlines, the poll-until wait,
 * the seeded random generator, child processes, `herald serve`, temporary directories, the
 * reachability of the test servers, and private servers a test may crash. Test code only: no
 * package's `src/` imports it and no package lists it in its runtime dependencies
 * (`test/test-support-boundary.test.ts` checks).
 *
 * @module
 */
export {
  CHILD_EXIT_TIMEOUT_MS_DEFAULT,
  CHILD_LINES_MAX,
  CHILD_OUTPUT_CHARS_MAX,
  type Child,
  type ChildOptions,
  killWithThisProcess,
  printLine,
  type RunToolOptions,
  requireTool,
  runTool,
  spawnChild,
  TOOL_OUTPUT_CHARS_MAX,
  type ToolResult,
} from './child.ts';
export { withDeadline } from './deadline.ts';
export {
  HERALD_BIN,
  SERVE_START_TIMEOUT_MS_DEFAULT,
  type ServeProcess,
  type StartServeOptions,
  startServe,
} from './herald-serve.ts';
export {
  eventually,
  POLL_INTERVAL_MS_DEFAULT,
  POLL_TIMEOUT_MS_DEFAULT,
  until,
  type WaitDescription,
} from './poll.ts';
export {
  PRIVATE_SERVER_EXIT_TIMEOUT_MS,
  PRIVATE_SERVER_PORT_CLOSE_TIMEOUT_MS,
  PRIVATE_SERVER_START_TIMEOUT_MS_DEFAULT,
  PrivateServer,
  type PrivateServerPlace,
  type PrivateServerSpec,
} from './private-server.ts';
export {
  type PrometheusFamily,
  type PrometheusSample,
  parsePrometheusText,
  samplesOf,
  scrapePrometheus,
  setupPython,
} from './prometheus.ts';
export { createRandom, seedFromEnv } from './random.ts';
export {
  accepts,
  freePort,
  POSTGRES_URL,
  RABBITMQ_URL,
  REACHABLE_TIMEOUT_MS_DEFAULT,
  requireRabbitMq,
  requireReachable,
  requireServer,
  SERVERS,
  type ServerName,
  type ServerSpec,
  serverPort,
} from './servers.ts';
export { startProxy, type TcpProxy, type TcpProxyOptions } from './tcp-proxy.ts';
export { type OwnedDirectory, ownedTemporaryDirectory, temporaryDirectory } from './temp.ts';
export { makeCertificates, type TestCertificates } from './tls-certificates.ts';
