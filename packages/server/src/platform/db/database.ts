import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import SQLite from 'better-sqlite3';
import { Kysely, Migrator, SqliteDialect, type Migration, type MigrationProvider } from 'kysely';
import * as m0001 from './migrations/0001_init.js';
import * as m0002 from './migrations/0002_groups.js';
import type { DB } from './schema.js';

export type Database = Kysely<DB>;

/** Migrations in order; imported statically so the built server needs no directory scan. */
const MIGRATIONS: Record<string, Migration> = {
  '0001_init': m0001,
  '0002_groups': m0002,
};

class StaticMigrationProvider implements MigrationProvider {
  async getMigrations(): Promise<Record<string, Migration>> {
    return MIGRATIONS;
  }
}

export interface DatabaseOptions {
  /** `sqlite:<path>` or `sqlite::memory:`. PostgreSQL and MySQL URLs arrive with the production adapters. */
  url: string;
  /** SQLite `synchronous` pragma: FULL survives power loss, NORMAL survives a process crash. */
  sqliteSynchronous?: 'FULL' | 'NORMAL';
}

/** Opens the database named by the URL and applies pending migrations. */
export async function openDatabase(options: DatabaseOptions): Promise<Database> {
  const db = createKysely(options);
  await migrateToLatest(db as unknown as Kysely<unknown>);
  return db;
}

function createKysely({ url, sqliteSynchronous = 'FULL' }: DatabaseOptions): Database {
  if (!url.startsWith('sqlite:')) {
    throw new Error(`Unsupported database URL "${redactUrl(url)}": this build supports sqlite:<path>`);
  }
  const path = url.slice('sqlite:'.length);
  if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
  const sqlite = new SQLite(path);
  sqlite.pragma('journal_mode = WAL');
  sqlite.pragma(`synchronous = ${sqliteSynchronous}`);
  sqlite.pragma('foreign_keys = ON');
  sqlite.pragma('busy_timeout = 5000');
  return new Kysely<DB>({ dialect: new SqliteDialect({ database: sqlite }) });
}

export async function migrateToLatest(db: Kysely<unknown>): Promise<void> {
  const migrator = new Migrator({ db, provider: new StaticMigrationProvider() });
  const { error, results } = await migrator.migrateToLatest();
  const failed = results?.find((r) => r.status === 'Error');
  if (error || failed) {
    throw new Error(`Database migration ${failed?.migrationName ?? ''} failed: ${String(error)}`, { cause: error });
  }
}

export function redactUrl(url: string): string {
  return url.replace(/\/\/([^:/@]+):([^@]+)@/, '//$1:***@');
}
