/**
 * The audit service: one consumer group on every event topic, appending each event to the
 * hash-chained, append-only audit log exactly once. `GET /audit/verify` checks the chain, that
 * no event appears twice, and per-key order.
 */
import { EVENTS } from '../contracts.ts';
import { AUDIT_SCHEMA, appendToAuditLog, verifyAuditLog } from '../logic/audit-log.ts';
import { applyOnce, type ServiceDefinition } from './service.ts';

/** The audit service. */
export const auditService: ServiceDefinition = {
  name: 'audit',
  schema: AUDIT_SCHEMA,
  sends: [],
  register(bus) {
    for (const event of EVENTS) {
      bus.on(event, { group: 'audit', concurrency: 64 }, (_data, context) =>
        applyOnce(context, (database) => {
          appendToAuditLog(database, context.message.topic, context.envelope);
          return [];
        }),
      );
    }
  },
  routes: (runtime) => [
    {
      method: 'GET',
      path: '/audit/verify',
      handle: () => ({ status: 200, body: verifyAuditLog(runtime.store.read) }),
    },
  ],
};
