/** The configuration error of the Kafka server, shared by the server and its security modules. */
import { HeraldError } from '@herald/errors';

/** Thrown when the server cannot start as configured: a `HeraldError` with code `HERALD_CONFIGURATION`. */
export class KafkaServerConfigError extends HeraldError {
  constructor(message: string) {
    super('HERALD_CONFIGURATION', message);
  }
}
