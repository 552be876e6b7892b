/** What the outbox crash test and its writer children share: the event, the accounts, the broker. */
import { RABBITMQ_URL } from '@herald/test-support';
import { defineEvent } from 'herald';
import { z } from 'zod';

/** An account's new version, staged in the transaction that set it. */
export const Credited = defineEvent('Credited', {
  topic: 'outbox-crash.credits',
  schema: z.object({ account: z.string(), version: z.number().int().positive() }),
  key: (credit) => credit.account,
});

/** Few accounts, so writers of one account often commit close together. */
export const ACCOUNTS: readonly string[] = Array.from({ length: 8 }, (_, index) => `acct-${index}`);

export { RABBITMQ_URL };
