import type { Kysely, Transaction } from 'kysely';
import { isTransactionConflict } from './errors.js';

const ATTEMPTS = 4;

/**
 * Runs `work` in a transaction, again from the start when the database aborted it to break a deadlock (two
 * transactions locking the same rows in opposite orders: crossing friend requests accepted at once, a message
 * stored while a member is removed). `work` must touch only the database: it may run more than once.
 */
export async function inTransaction<DB, T>(db: Kysely<DB>, work: (trx: Transaction<DB>) => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await db.transaction().execute(work);
    } catch (error) {
      if (attempt >= ATTEMPTS || !isTransactionConflict(error)) throw error;
      // A short random pause so the two parties do not collide again in step.
      await new Promise((resolve) => setTimeout(resolve, Math.random() * 10 * attempt));
    }
  }
}
