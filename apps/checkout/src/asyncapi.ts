/**
 * The checkout's AsyncAPI document, written from its code: each service's `sends` and the
 * handlers its `register` installs. `asyncapi.json` (next to `package.json`) is the committed
 * copy; regenerate it after changing a contract or a service with
 *
 *   npm run herald -- asyncapi apps/checkout/src/asyncapi.ts --out apps/checkout/asyncapi.json
 *
 * `test/asyncapi.test.ts` fails when the committed copy differs from the code.
 */
import type { AsyncApiOptions, AsyncApiService, Bus, Contract } from 'herald';
import { SERVICE_NAMES, SERVICES } from './services/index.ts';
import type { ServiceDefinition, ServiceRuntime } from './services/service.ts';

/** What `herald asyncapi` reads: the checkout's services with what they send and receive. */
export function checkoutAsyncApi(): AsyncApiOptions {
  return {
    title: 'Herald checkout',
    version: '0.1.0',
    description:
      'The example checkout: seven services that talk only through Herald events and commands ' +
      '(CloudEvents binary mode, JSON payloads), published through a transactional outbox.',
    servers: {
      kafka: {
        host: 'localhost:9092',
        protocol: 'kafka',
        description: 'Kafka or the embedded broker (`herald serve`).',
      },
      rabbitmq: {
        host: 'localhost:5672',
        protocol: 'amqp',
        description: 'RabbitMQ (HERALD_TRANSPORT=rabbitmq).',
      },
    },
    services: SERVICE_NAMES.map((name) => serviceOf(SERVICES[name])),
  };
}

/** The service's sends, and what it receives as recorded from its `register` on a recording bus. */
function serviceOf(service: ServiceDefinition): AsyncApiService {
  const receives: Contract[] = [];
  const record = (contract: Contract) => {
    if (!receives.includes(contract)) receives.push(contract);
  };
  // Registration only installs handlers; nothing runs, so the runtime needs only its settings (the
  // order saga's store opens lazily: its path is never touched).
  const bus = {
    on: record,
    handle: record,
    reply: record,
    transport: { features: {} },
  } as unknown as Bus;
  const runtime = {
    config: { payment: {}, stock: new Map(), mailDir: '' },
    store: { path: ':memory:' },
  } as unknown as ServiceRuntime;
  const release = service.register(bus, runtime);
  void release?.();
  return { name: service.name, sends: service.sends, receives };
}

export default checkoutAsyncApi;
