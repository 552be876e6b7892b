/**
 * The payment service: handles `ProcessPayment` against the simulated gateway (configurable
 * latency and decline rate) and reports `PaymentProcessed` or `PaymentFailed`. A charge is
 * recorded once per order, so a redelivered command never charges twice. `VoidPayment` (the order
 * saga's compensation after a payment timeout) refunds a charge, or refuses one still to come.
 */
import { PaymentFailed, PaymentProcessed, ProcessPayment, VoidPayment } from '../contracts.ts';
import { charge, chargeLatencyMs, PAYMENT_SCHEMA, voidPayment } from '../logic/payment.ts';
import { applyOnce, type ServiceDefinition, sleep } from './service.ts';

/** Charges in flight at once: they mostly wait on the gateway. */
const PAYMENT_CONCURRENCY = 256;

/** The payment service. */
export const paymentService: ServiceDefinition = {
  name: 'payment',
  schema: PAYMENT_SCHEMA,
  sends: [PaymentProcessed, PaymentFailed],
  register(bus, runtime) {
    const options = runtime.config.payment;
    bus.handle(
      ProcessPayment,
      async (command, context) => {
        // The gateway call happens outside the transaction: it must not hold the database.
        await sleep(chargeLatencyMs(command.orderId, options), context.signal);
        await applyOnce(context, (database) => {
          const outcome = charge(database, command.orderId, command.amountCents, options);
          return outcome.approved
            ? [
                {
                  contract: PaymentProcessed,
                  data: {
                    orderId: command.orderId,
                    paymentId: outcome.paymentId,
                    amountCents: outcome.amountCents,
                  },
                },
              ]
            : [{ contract: PaymentFailed, data: { orderId: command.orderId, reason: outcome.reason } }];
        });
      },
      { concurrency: PAYMENT_CONCURRENCY },
    );
    bus.handle(VoidPayment, (command, context) =>
      applyOnce(context, (database) => {
        voidPayment(database, command.orderId);
        return [];
      }),
    );
  },
};
