/** Every checkout service, by name. */
import { analyticsService } from './analytics.ts';
import { auditService } from './audit.ts';
import { inventoryService } from './inventory.ts';
import { notificationService } from './notification.ts';
import { orderService } from './order.ts';
import { paymentService } from './payment.ts';
import type { ServiceDefinition, ServiceName } from './service.ts';
import { userService } from './user.ts';

export { SERVICE_NAMES, type ServiceName } from './service.ts';

/** The definition of each service. */
export const SERVICES: Readonly<Record<ServiceName, ServiceDefinition>> = {
  user: userService,
  order: orderService,
  inventory: inventoryService,
  payment: paymentService,
  notification: notificationService,
  analytics: analyticsService,
  audit: auditService,
};
