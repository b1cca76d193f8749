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
