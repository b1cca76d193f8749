import { Kysely, Migrator, type Migration, type MigrationProvider } from 'kysely';
import type SQLite from 'better-sqlite3';
import { createDialect, engineOfUrl, poolStatsOf, prepareSchema, redactUrl, sqliteHandleOf, type PoolStats } from './dialects.js';
import * as m0001 from './migrations/0001_init.js';
import * as m0002 from './migrations/0002_groups.js';
import * as m0003 from './migrations/0003_files.js';
import * as m0004 from './migrations/0004_admin.js';
import * as m0005 from './migrations/0005_cluster.js';
import * as m0006 from './migrations/0006_state_version.js';
import type { DB } from './schema.js';

export type Database = Kysely<DB>;

/** Migrations in order; imported statically so the built server needs no directory scan. */
const MIGRATIONS: Record<string, Migration> = {
  '0001_init': m0001,
  '0002_groups': m0002,
  '0003_files': m0003,
  '0004_admin': m0004,
  '0005_cluster': m0005,
  '0006_state_version': m0006,
};

class StaticMigrationProvider implements MigrationProvider {
  async getMigrations(): Promise<Record<string, Migration>> {
    return MIGRATIONS;
  }
}

export interface DatabaseOptions {
  /** `sqlite:<path>`, `sqlite::memory:`, `postgres://…` / `postgresql://…` or `mysql://…` (see dialects.ts). */
  url: string;
  /** Pooled connections per process for PostgreSQL and MySQL; SQLite has one. */
  poolSize?: number;
  /** SQLite `synchronous` pragma: FULL survives power loss, NORMAL survives a process crash. */
  sqliteSynchronous?: 'FULL' | 'NORMAL';
  /** Reports errors of idle pooled connections (they are replaced, not fatal). */
  onPoolError?: (error: Error) => void;
}

const poolStats = new WeakMap<Database, () => PoolStats>();

/** The pool's connection counts (PostgreSQL, MySQL), or null for SQLite. For the metrics. */
export function databasePoolStats(db: Database): (() => PoolStats) | null {
  return poolStats.get(db) ?? null;
}

const sqliteHandles = new WeakMap<Database, SQLite.Database>();

/**
 * SQLite's own connection behind a database opened here, or null (PostgreSQL, MySQL). Only for the message store's
 * group commit (conversations.repository.ts), which knows when nothing else can be running on it.
 */
export function sqliteHandle(db: Database): SQLite.Database | null {
  return sqliteHandles.get(db) ?? null;
}

/** Opens the database named by the URL and applies pending migrations. */
export async function openDatabase(options: DatabaseOptions): Promise<Database> {
  engineOfUrl(options.url); // refuses an unsupported URL before any connection is attempted
  const dialect = createDialect(options);
  const db = new Kysely<DB>({ dialect });
  const stats = poolStatsOf(dialect);
  if (stats) poolStats.set(db, stats);
  const handle = sqliteHandleOf(dialect);
  if (handle) sqliteHandles.set(db, handle);
  try {
    await migrateToLatest(db as unknown as Kysely<unknown>);
  } catch (error) {
    await db.destroy().catch(() => undefined);
    const message = error instanceof Error ? error.message : String(error);
    throw new Error(`Database ${redactUrl(options.url)}: ${redactPassword(message, options.url)}`, { cause: error });
  }
  return db;
}

export async function migrateToLatest(db: Kysely<unknown>): Promise<void> {
  await prepareSchema(db);
  // A database that already ran a later migration still gets an earlier one added after it.
  const migrator = new Migrator({ db, provider: new StaticMigrationProvider(), allowUnorderedMigrations: true });
  const { error, results } = await migrator.migrateToLatest();
  const failed = results?.find((r) => r.status === 'Error');
  if (error || failed) {
    throw new Error(`Database migration ${failed?.migrationName ?? ''} failed: ${String(error)}`, { cause: error });
  }
}

function redactPassword(text: string, url: string): string {
  const password = /\/\/[^:/@]+:([^@]+)@/.exec(url)?.[1];
  return password ? text.split(password).join('***') : text;
}

export { redactUrl };
