/** Storage-neutral classification of driver errors, so services never look at driver codes. */
export function isUniqueViolation(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return (
    code === 'SQLITE_CONSTRAINT_UNIQUE' ||
    code === 'SQLITE_CONSTRAINT_PRIMARYKEY' ||
    code === '23505' || // PostgreSQL unique_violation
    code === 'ER_DUP_ENTRY' // MySQL / MariaDB
  );
}

/**
 * The database aborted the transaction to break a deadlock or a serialization conflict (PostgreSQL 40P01/40001,
 * MySQL/InnoDB ER_LOCK_DEADLOCK). Nothing of it was kept, so running it again from the start is safe.
 * SQLite has one writer and never reports this.
 */
export function isTransactionConflict(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return code === '40P01' || code === '40001' || code === 'ER_LOCK_DEADLOCK';
}

/**
 * SQLite could not get its lock in time (another process writes the file, say the admin command) or already rolled
 * the whole transaction back: a failure of the transaction, not of one statement in it.
 */
export function isDatabaseBusy(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED'));
}
