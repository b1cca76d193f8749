import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino, { type Logger } from 'pino';
import { buildApp, type KKChatApp } from '../../src/app.js';
import { loadConfig, type Config } from '../../src/config.js';
import type { EventBus } from '../../src/platform/events/event-bus.js';
import { createTestDatabase, testServerEngine, type TestDatabase } from './databases.js';

export interface TestServer {
  url: string;
  wsUrl: string;
  kkchat: KKChatApp;
  config: Config;
  close(): Promise<void>;
}

/**
 * Starts KKChat in this process the way production does (buildApp), on 127.0.0.1 with an ephemeral port and a
 * temporary SQLite file. `env` takes KKCHAT_* variables; `overrides` replaces parsed config fields.
 *
 * With KKCHAT_TEST_DATABASE=postgres or mysql (and no KKCHAT_DATABASE_URL in `env`) the server gets a fresh
 * database on the machine's PostgreSQL or MariaDB instead, dropped by close(): `npm run test:postgres` /
 * `npm run test:mysql` run integration files that way.
 */
export async function startTestServer(
  options: { env?: Record<string, string>; overrides?: Partial<Config>; now?: () => number; logger?: Logger; bus?: EventBus } = {},
): Promise<TestServer> {
  const dataDir = mkdtempSync(join(tmpdir(), 'kkchat-test-'));
  const engine = testServerEngine();
  const database: TestDatabase | null =
    engine !== 'sqlite' && !options.env?.KKCHAT_DATABASE_URL ? await createTestDatabase(engine) : null;
  const config = loadConfig(
    {
      KKCHAT_HOST: '127.0.0.1',
      KKCHAT_PORT: '0',
      KKCHAT_DATA_DIR: dataDir,
      KKCHAT_LOG_LEVEL: 'silent',
      KKCHAT_SQLITE_SYNCHRONOUS: 'NORMAL',
      KKCHAT_WEB_DIR: join(dataDir, 'no-web'),
      ...(database ? { KKCHAT_DATABASE_URL: database.url } : {}),
      ...options.env,
    },
    options.overrides,
  );
  let kkchat: KKChatApp;
  try {
    kkchat = await buildApp(config, {
      logger: options.logger ?? pino({ level: 'silent' }),
      ...(options.now ? { now: options.now } : {}),
      ...(options.bus ? { bus: options.bus } : {}),
    });
  } catch (error) {
    await database?.drop();
    rmSync(dataDir, { recursive: true, force: true });
    throw error;
  }
  const port = await kkchat.listen('127.0.0.1', 0);
  const url = `http://127.0.0.1:${port}`;
  return {
    url,
    wsUrl: `ws://127.0.0.1:${port}/ws`,
    kkchat,
    config,
    async close() {
      await kkchat.close();
      await database?.drop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
