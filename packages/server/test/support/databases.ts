import { randomBytes } from 'node:crypto';
import mysql from 'mysql2/promise';
import pg from 'pg';

/**
 * Fresh, throw-away databases on the machine's PostgreSQL and MariaDB/MySQL for tests. Each call creates its own
 * database (`kkchat_test_<random>`) and `drop()` removes it. A server that is down is an error naming the
 * command that starts it (design notes §5), never a skipped test; `bash scripts/test.sh` starts them first.
 *
 *   KKCHAT_TEST_POSTGRES_URL  admin connection, default postgres://postgres@127.0.0.1:5432/test
 *   KKCHAT_TEST_MYSQL_URL     admin connection, default mysql://root@127.0.0.1:3306/test
 *   KKCHAT_TEST_DATABASE      sqlite (default) | postgres | mysql: the engine of every test server
 *                             (test-server.ts), so a whole integration file runs against it
 */
export type TestEngine = 'sqlite' | 'postgres' | 'mysql';
export const TEST_ENGINES: readonly TestEngine[] = ['sqlite', 'postgres', 'mysql'];

const PG_ADMIN_URL = process.env.KKCHAT_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const MYSQL_ADMIN_URL = process.env.KKCHAT_TEST_MYSQL_URL ?? 'mysql://root@127.0.0.1:3306/test';

const START_HINT: Record<Exclude<TestEngine, 'sqlite'>, string> = {
  postgres: 'pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start',
  mysql: 'start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd',
};

export interface TestDatabase {
  engine: TestEngine;
  /** KKCHAT_DATABASE_URL of the fresh database. */
  url: string;
  drop(): Promise<void>;
}

/** The engine chosen for test servers by KKCHAT_TEST_DATABASE. */
export function testServerEngine(): TestEngine {
  const value = (process.env.KKCHAT_TEST_DATABASE ?? 'sqlite').toLowerCase();
  if (value === 'postgresql' || value === 'pg') return 'postgres';
  if (value === 'mariadb') return 'mysql';
  if (!TEST_ENGINES.includes(value as TestEngine)) {
    throw new Error(`KKCHAT_TEST_DATABASE=${value}: expected sqlite, postgres or mysql`);
  }
  return value as TestEngine;
}

/** Creates an empty database. For SQLite `sqliteFile` is the path to use (the caller owns its directory). */
export async function createTestDatabase(engine: TestEngine, sqliteFile = ':memory:'): Promise<TestDatabase> {
  const name = `kkchat_test_${randomBytes(6).toString('hex')}`;
  if (engine === 'sqlite') return { engine, url: `sqlite:${sqliteFile}`, drop: async () => undefined };

  if (engine === 'postgres') {
    await withPostgres((c) => c.query(`CREATE DATABASE ${name}`));
    const url = new URL(PG_ADMIN_URL);
    url.pathname = `/${name}`;
    return {
      engine,
      url: url.toString(),
      drop: () => withPostgres((c) => c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)).then(() => undefined),
    };
  }

  await withMysql((c) => c.query(`CREATE DATABASE ${name} CHARACTER SET utf8mb4`));
  const url = new URL(MYSQL_ADMIN_URL);
  url.pathname = `/${name}`;
  return {
    engine,
    url: url.toString(),
    drop: () => withMysql((c) => c.query(`DROP DATABASE IF EXISTS ${name}`)).then(() => undefined),
  };
}

async function withPostgres<T>(fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: PG_ADMIN_URL, connectionTimeoutMillis: 5000 });
  try {
    await client.connect();
  } catch (error) {
    throw unreachable('postgres', PG_ADMIN_URL, error);
  }
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

async function withMysql<T>(fn: (connection: mysql.Connection) => Promise<T>): Promise<T> {
  let connection: mysql.Connection;
  try {
    connection = await mysql.createConnection({ uri: MYSQL_ADMIN_URL, connectTimeout: 5000 });
  } catch (error) {
    throw unreachable('mysql', MYSQL_ADMIN_URL, error);
  }
  try {
    return await fn(connection);
  } finally {
    await connection.end();
  }
}

function unreachable(engine: 'postgres' | 'mysql', url: string, error: unknown): Error {
  const what = engine === 'postgres' ? 'PostgreSQL' : 'MariaDB/MySQL';
  return new Error(
    `${what} is not reachable at ${url.replace(/\/\/([^:/@]+):([^@]+)@/, '//$1:***@')} (${String(error)}). ` +
      `The database tests need it: start it with \`${START_HINT[engine]}\` (bash scripts/test.sh does), ` +
      `or point KKCHAT_TEST_${engine === 'postgres' ? 'POSTGRES' : 'MYSQL'}_URL at one.`,
    { cause: error },
  );
}
