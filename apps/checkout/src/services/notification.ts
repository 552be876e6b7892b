/**
 * The notification service: one e-mail per order, a confirmation or a cancellation, written to the
 * mail sink (a directory of `.eml` files). It keeps its own copy of the customer directory from
 * `UserRegistered`, so it needs no call to the user service.
 */
import { EmailSent, OrderCancelled, OrderConfirmed, UserRegistered } from '../contracts.ts';
import {
  deliverEmail,
  findRecipient,
  formatEuros,
  NOTIFICATION_SCHEMA,
  type OrderEmail,
  recordEmail,
  rememberRecipient,
} from '../logic/mail.ts';
import { applyOnce, type ServiceDefinition, type ServiceRuntime } from './service.ts';

/** The notification service. */
export const notificationService: ServiceDefinition = {
  name: 'notification',
  schema: NOTIFICATION_SCHEMA,
  sends: [EmailSent],
  register(bus, runtime) {
    bus.on(UserRegistered, { group: 'notification', concurrency: 16 }, (user, context) =>
      applyOnce(context, (database) => {
        rememberRecipient(database, user);
        return [];
      }),
    );
    // A customer registered just before ordering may not be known yet: retry until they are.
    const options = { group: 'notification', concurrency: 64, retry: { attempts: 20, delayMsMax: 2000 } };
    bus.on(OrderConfirmed, options, (order, context) =>
      notify(
        runtime,
        context,
        order.orderId,
        order.customerId,
        'confirmation',
        formatEuros(order.totalCents),
      ),
    );
    bus.on(OrderCancelled, options, (order, context) =>
      notify(runtime, context, order.orderId, order.customerId, 'cancellation', order.reason),
    );
  },
};

async function notify(
  runtime: ServiceRuntime,
  context: Parameters<typeof applyOnce>[0],
  orderId: string,
  customerId: string,
  kind: OrderEmail['kind'],
  detail: string,
): Promise<void> {
  const to = findRecipient(runtime.store.read, customerId);
  if (to === undefined) throw new Error(`customer ${customerId} is not in the directory yet`);
  const email: OrderEmail = { orderId, kind, to, detail };
  // Written before the transaction: if we die in between, the redelivery rewrites the same file.
  deliverEmail(runtime.config.mailDir, email);
  await applyOnce(context, (database) =>
    recordEmail(database, email)
      ? [{ contract: EmailSent, data: { orderId, customerId, kind, to: to.email } }]
      : [],
  );
}
