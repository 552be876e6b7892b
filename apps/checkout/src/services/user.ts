/**
 * The user service: registers customers (`POST /users`, idempotent on the customer id) and
 * announces each one with `UserRegistered`; `GET /users/:id` reads the directory.
 */
import type { DatabaseSync } from 'node:sqlite';
import { RegisterUserRequest, UserRegistered } from '../contracts.ts';
import { badRequest, fieldProblems, type HttpResponse } from '../http.ts';
import type { ServiceDefinition, ServiceRuntime } from './service.ts';

const USER_SCHEMA = `
  CREATE TABLE IF NOT EXISTS users (
    customer_id TEXT PRIMARY KEY, name TEXT NOT NULL, email TEXT NOT NULL, registered_at_ms INTEGER NOT NULL);`;

/** The user service. */
export const userService: ServiceDefinition = {
  name: 'user',
  schema: USER_SCHEMA,
  sends: [UserRegistered],
  register() {},
  routes: (runtime) => [
    { method: 'POST', path: '/users', handle: (request) => register(runtime, request.body) },
    {
      method: 'GET',
      path: '/users',
      handle: () => ({ status: 200, body: { count: countUsers(runtime) } }),
    },
    {
      method: 'GET',
      path: '/users/:id',
      handle: (request) => {
        const row = runtime.store.read
          .prepare('SELECT customer_id AS customerId, name, email FROM users WHERE customer_id = ?')
          .get(request.params.id!);
        return row === undefined
          ? { status: 404, body: { error: `no customer ${request.params.id}` } }
          : { status: 200, body: row };
      },
    },
  ],
};

async function register(runtime: ServiceRuntime, body: unknown): Promise<HttpResponse> {
  const parsed = RegisterUserRequest.safeParse(body);
  if (!parsed.success) return badRequest('invalid user', fieldProblems(parsed.error.issues));
  const user = parsed.data;
  const created = await runtime.publisher.transaction<boolean, DatabaseSync>(async (tx) => {
    const inserted = tx
      .prepare('INSERT OR IGNORE INTO users (customer_id, name, email, registered_at_ms) VALUES (?, ?, ?, ?)')
      .run(user.customerId, user.name, user.email, Date.now());
    if (Number(inserted.changes) === 0) return false;
    await tx.publish(UserRegistered, user);
    return true;
  });
  return { status: created ? 201 : 200, body: user };
}

function countUsers(runtime: ServiceRuntime): number {
  return (runtime.store.read.prepare('SELECT count(*) AS total FROM users').get() as { total: number }).total;
}
