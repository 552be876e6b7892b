/**
 * `@herald/console`: the Herald console, a web page over a data directory, a Kafka-protocol broker
 * or an application's own embedded broker. `herald console` runs it from the command line;
 * {@link startConsole} runs it in-process.
 */
export type * from './api-types.ts';
export { consoleCommand } from './command.ts';
export { type ConsoleOptions, type ConsoleServer, startConsole } from './server.ts';
