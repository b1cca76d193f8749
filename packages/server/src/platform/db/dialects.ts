import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import SQLite from 'better-sqlite3';
import {
  CompiledQuery,
  type Dialect,
  type Kysely,
  MysqlAdapter,
  MysqlDialect,
  PostgresAdapter,
  PostgresDialect,
  type RawBuilder,
  sql,
  SqliteAdapter,
  SqliteDialect,
  type SqliteDatabase,
} from 'kysely';
import { createPool as createMysqlPool } from 'mysql2';
import pg from 'pg';
import { startCheckpointer } from './sqlite-checkpointer.js';

/**
 * Every difference between the three supported databases lives here (and the driver error codes in errors.ts):
 * URL parsing, drivers and pools, how integers come back, and the few schema options one engine needs.
 * Repositories and migrations are written once, in the SQL the three accept alike.
 */
export type Engine = 'sqlite' | 'postgres' | 'mysql';

export interface DialectOptions {
  /** `sqlite:<path>`, `sqlite::memory:`, `postgres://…` / `postgresql://…`, `mysql://…` (MySQL or MariaDB). */
  url: string;
  /** Connections per process for PostgreSQL and MySQL (SQLite uses one). */
  poolSize?: number;
  /** SQLite `synchronous` pragma: FULL survives power loss, NORMAL survives a process crash. */
  sqliteSynchronous?: 'FULL' | 'NORMAL';
  /** Where pool errors are reported (a dropped idle connection must not end the process). */
  onPoolError?: (error: Error) => void;
}

export const DEFAULT_POOL_SIZE = 10;

/** Connections of a PostgreSQL or MySQL pool, for the metrics (SQLite has none). */
export interface PoolStats {
  total: number;
  idle: number;
  waiting: number;
}

const poolReaders = new WeakMap<Dialect, () => PoolStats>();

const sqliteHandles = new WeakMap<Dialect, SQLite.Database>();

/** The SQLite connection behind a dialect made by createDialect, or null (PostgreSQL, MySQL). */
export function sqliteHandleOf(dialect: Dialect): SQLite.Database | null {
  return sqliteHandles.get(dialect) ?? null;
}

/** The pool counts behind a dialect made by createDialect, or null (SQLite). */
export function poolStatsOf(dialect: Dialect): (() => PoolStats) | null {
  return poolReaders.get(dialect) ?? null;
}
/** Waiting this long for a connection (from the pool or the server) is an error, not a hang. */
const CONNECT_TIMEOUT_MS = 10_000;
/** A statement running longer is cancelled by the server; no request of ours needs more. */
const STATEMENT_TIMEOUT_MS = 30_000;

export function engineOfUrl(url: string): Engine {
  if (url.startsWith('sqlite:')) return 'sqlite';
  if (url.startsWith('postgres://') || url.startsWith('postgresql://')) return 'postgres';
  if (url.startsWith('mysql://') || url.startsWith('mariadb://')) return 'mysql';
  throw new Error(
    `Unsupported database URL "${redactUrl(url)}": use sqlite:<path>, postgres://user@host:5432/db or mysql://user@host:3306/db`,
  );
}

/** The engine behind a Kysely instance (or a transaction of one), for the few places that must differ. */
export function engineOf(db: Kysely<any>): Engine {
  const adapter = db.getExecutor().adapter;
  if (adapter instanceof PostgresAdapter) return 'postgres';
  if (adapter instanceof MysqlAdapter) return 'mysql';
  if (adapter instanceof SqliteAdapter) return 'sqlite';
  throw new Error('Unknown database adapter');
}

/** UPDATE … RETURNING: SQLite (3.35+) and PostgreSQL have it; MySQL and MariaDB do not. */
export function supportsUpdateReturning(db: Kysely<any>): boolean {
  return engineOf(db) !== 'mysql';
}

/**
 * Integer division of a non-negative integer expression (e.g. a day bucket of ms timestamps): `/` truncates on
 * SQLite and PostgreSQL for integers, MySQL's `/` returns a decimal and needs `DIV`.
 */
export function integerDivide(db: Kysely<any>, numerator: RawBuilder<unknown>, divisor: number): RawBuilder<number> {
  const n = Math.trunc(divisor);
  return engineOf(db) === 'mysql' ? sql<number>`(${numerator}) DIV ${sql.lit(n)}` : sql<number>`(${numerator}) / ${sql.lit(n)}`;
}

export function createDialect(options: DialectOptions): Dialect {
  const engine = engineOfUrl(options.url);
  const poolSize = options.poolSize ?? DEFAULT_POOL_SIZE;
  switch (engine) {
    case 'sqlite':
      return sqliteDialect(options.url.slice('sqlite:'.length), options.sqliteSynchronous ?? 'FULL', options.onPoolError);
    case 'postgres':
      return postgresDialect(options.url, poolSize, options.onPoolError);
    case 'mysql':
      return mysqlDialect(options.url.replace(/^mariadb:/, 'mysql:'), poolSize, options.onPoolError);
  }
}

function sqliteDialect(path: string, synchronous: 'FULL' | 'NORMAL', onError?: (error: Error) => void): Dialect {
  if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
  const db = new SQLite(path);
  db.pragma('journal_mode = WAL');
  db.pragma(`synchronous = ${synchronous}`);
  db.pragma('foreign_keys = ON');
  db.pragma('busy_timeout = 5000');
  const checkpointer = path === ':memory:' ? null : startCheckpointer(db, path, synchronous, (error) => onError?.(error));
  const dialect = new SqliteDialect({ database: withStatementCache(db, () => checkpointer?.stop()) });
  sqliteHandles.set(dialect, db);
  return dialect;
}

/** Prepared statements kept per SQL text; past this many distinct texts the least recently used is dropped. */
const STATEMENT_CACHE_SIZE = 500;

/**
 * Kysely's SQLite driver prepares every statement again on each execution (a profile of the send path put 14 %
 * of the server's CPU in `prepare`). The queries are a small fixed set of SQL texts, so each is prepared once
 * and reused. A statement that is still being iterated (a streamed query) is never handed out twice.
 */
function withStatementCache(db: SQLite.Database, beforeClose: () => void): SqliteDatabase {
  const cache = new Map<string, SQLite.Statement>();
  return {
    close: () => {
      beforeClose();
      db.close();
    },
    prepare(sql: string) {
      const cached = cache.get(sql);
      if (cached && !cached.busy) {
        // Re-insert to mark as most recently used.
        cache.delete(sql);
        cache.set(sql, cached);
        return cached;
      }
      const statement = db.prepare(sql);
      if (!cached) {
        cache.set(sql, statement);
        if (cache.size > STATEMENT_CACHE_SIZE) cache.delete(cache.keys().next().value!);
      }
      return statement;
    },
  } as SqliteDatabase;
}

const PG_INT8_OID = 20;

/**
 * PostgreSQL returns int8 (bigint, count(*)) as strings; every bigint we store (ms timestamps, seqs) fits a JS
 * number exactly, so this pool parses them as numbers, as SQLite and MySQL return them. Set per pool, not on the
 * global pg.types, so nothing else in the process is affected.
 */
const pgTypes = {
  getTypeParser(oid: number, format?: 'text' | 'binary') {
    if (oid === PG_INT8_OID && format !== 'binary') return (value: string) => Number(value);
    return pg.types.getTypeParser(oid, format);
  },
};

function postgresDialect(url: string, poolSize: number, onPoolError?: (error: Error) => void): Dialect {
  const pool = new pg.Pool({
    connectionString: url,
    max: poolSize,
    connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
    idleTimeoutMillis: 30_000,
    statement_timeout: STATEMENT_TIMEOUT_MS,
    // A transaction left open (a bug, a stalled request) must not hold row locks forever.
    idle_in_transaction_session_timeout: 60_000,
    application_name: 'kkchat',
    types: pgTypes as pg.CustomTypesConfig,
  });
  // An idle connection that the server drops (restart, failover) is reported, not thrown: the pool replaces it.
  pool.on('error', (error) => onPoolError?.(redactError(error, url)));
  const dialect = new PostgresDialect({ pool });
  poolReaders.set(dialect, () => ({ total: pool.totalCount, idle: pool.idleCount, waiting: pool.waitingCount }));
  return dialect;
}

function mysqlDialect(url: string, poolSize: number, onPoolError?: (error: Error) => void): Dialect {
  const pool = createMysqlPool({
    uri: url,
    connectionLimit: poolSize,
    maxIdle: poolSize,
    idleTimeout: 30_000,
    waitForConnections: true,
    queueLimit: 0,
    connectTimeout: CONNECT_TIMEOUT_MS,
    enableKeepAlive: true,
    charset: 'utf8mb4',
    timezone: 'Z',
    // bigint columns come back as numbers (all of ours fit), like SQLite and the PostgreSQL parser above.
    supportBigNumbers: false,
    bigNumberStrings: false,
    decimalNumbers: true,
  });
  pool.on('connection', (connection) => {
    connection.on('error', (error) => onPoolError?.(redactError(error, url)));
  });
  // mysql2 keeps its counts in fields it does not type; read them defensively.
  const internals = pool as unknown as { _allConnections?: { length: number }; _freeConnections?: { length: number }; _connectionQueue?: { length: number } };
  const dialect = new MysqlDialect({
    pool,
    async onCreateConnection(connection) {
      // Strict mode: an over-long value is an error, never silently truncated. READ COMMITTED like PostgreSQL:
      // no gap locks, so concurrent inserts do not deadlock on index ranges; every transaction of ours that
      // needs exclusion takes a row lock (UPDATE) first.
      await connection.executeQuery(
        CompiledQuery.raw(
          "SET SESSION sql_mode = 'STRICT_ALL_TABLES,NO_ZERO_DATE,NO_ZERO_IN_DATE,ERROR_FOR_DIVISION_BY_ZERO,NO_ENGINE_SUBSTITUTION'",
        ),
      );
      await connection.executeQuery(CompiledQuery.raw('SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED'));
      // MariaDB's server-side statement timeout; MySQL names it differently (and for SELECT only): skip it there.
      await connection
        .executeQuery(CompiledQuery.raw(`SET SESSION max_statement_time = ${STATEMENT_TIMEOUT_MS / 1000}`))
        .catch(() => undefined);
    },
  });
  poolReaders.set(dialect, () => {
    const total = internals._allConnections?.length ?? 0;
    return { total, idle: internals._freeConnections?.length ?? 0, waiting: internals._connectionQueue?.length ?? 0 };
  });
  return dialect;
}

/**
 * Schema options applied before the first migration. MySQL/MariaDB compare strings by the database's default
 * collation, usually case- and accent-insensitive: client message ids `a1` and `A1`, or two refresh token hashes,
 * would collide there but not on SQLite or PostgreSQL. The KKChat database therefore defaults to the binary
 * utf8mb4 collation, which every table created afterwards (by any migration) inherits.
 */
export async function prepareSchema(db: Kysely<any>): Promise<void> {
  if (engineOf(db) !== 'mysql') return;
  const { rows } = await sql<{ c: string }>`SELECT @@collation_database AS c`.execute(db);
  if (rows[0]?.c !== 'utf8mb4_bin') await sql`ALTER DATABASE CHARACTER SET utf8mb4 COLLATE utf8mb4_bin`.execute(db);
}

export function redactUrl(url: string): string {
  return url.replace(/\/\/([^:/@]+):([^@]+)@/, '//$1:***@');
}

/** Driver errors can quote the connection string; never let a password reach a log. */
function redactError(error: Error, url: string): Error {
  const password = /\/\/[^:/@]+:([^@]+)@/.exec(url)?.[1];
  if (password && error.message.includes(password)) error.message = error.message.split(password).join('***');
  return error;
}
