/**
 * The inventory service: holds stock for orders (`ReserveInventory`, all lines or none), gives it
 * back on `ReleaseInventory`, and turns it into sold stock when an order is confirmed. Never
 * oversells: each reservation is checked and applied in one transaction.
 */
import {
  InventoryCommitted,
  InventoryReleased,
  InventoryReservationFailed,
  InventoryReserved,
  OrderConfirmed,
  ReleaseInventory,
  ReserveInventory,
} from '../contracts.ts';
import { commit, INVENTORY_SCHEMA, release, reserve, seedStock, stockLevels } from '../logic/inventory.ts';
import { applyOnce, type ServiceDefinition } from './service.ts';

/** The inventory service. */
export const inventoryService: ServiceDefinition = {
  name: 'inventory',
  schema: INVENTORY_SCHEMA,
  sends: [InventoryReserved, InventoryReservationFailed, InventoryReleased, InventoryCommitted],
  async init(runtime) {
    await runtime.store.write((database) => seedStock(database, runtime.config.stock));
  },
  register(bus) {
    bus.handle(
      ReserveInventory,
      (command, context) =>
        applyOnce(context, (database) => {
          const outcome = reserve(database, command.orderId, command.items);
          return outcome.reserved
            ? [{ contract: InventoryReserved, data: { orderId: command.orderId, items: outcome.items } }]
            : [
                {
                  contract: InventoryReservationFailed,
                  data: { orderId: command.orderId, shortSkus: outcome.shortSkus },
                },
              ];
        }),
      { concurrency: 64 },
    );
    bus.handle(
      ReleaseInventory,
      (command, context) =>
        applyOnce(context, (database) => [
          // Released even when nothing was held, so the saga always hears back.
          {
            contract: InventoryReleased,
            data: { orderId: command.orderId, items: release(database, command.orderId) },
          },
        ]),
      { concurrency: 64 },
    );
    bus.on(OrderConfirmed, { group: 'inventory', concurrency: 64 }, (event, context) =>
      applyOnce(context, (database) => {
        const items = commit(database, event.orderId);
        return items.length === 0
          ? []
          : [{ contract: InventoryCommitted, data: { orderId: event.orderId, items } }];
      }),
    );
  },
  routes: (runtime) => [
    {
      method: 'GET',
      path: '/inventory',
      handle: () => ({ status: 200, body: stockLevels(runtime.store.read) }),
    },
  ],
};
