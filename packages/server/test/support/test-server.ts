import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino, { type Logger } from 'pino';
import { buildApp, type KKChatApp } from '../../src/app.js';
import { loadConfig, type Config } from '../../src/config.js';

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
 */
export async function startTestServer(
  options: { env?: Record<string, string>; overrides?: Partial<Config>; now?: () => number; logger?: Logger } = {},
): Promise<TestServer> {
  const dataDir = mkdtempSync(join(tmpdir(), 'kkchat-test-'));
  const config = loadConfig(
    {
      KKCHAT_HOST: '127.0.0.1',
      KKCHAT_PORT: '0',
      KKCHAT_DATA_DIR: dataDir,
      KKCHAT_LOG_LEVEL: 'silent',
      KKCHAT_SQLITE_SYNCHRONOUS: 'NORMAL',
      KKCHAT_WEB_DIR: join(dataDir, 'no-web'),
      ...options.env,
    },
    options.overrides,
  );
  const kkchat = await buildApp(config, { logger: options.logger ?? pino({ level: 'silent' }), ...(options.now ? { now: options.now } : {}) });
  const port = await kkchat.listen('127.0.0.1', 0);
  const url = `http://127.0.0.1:${port}`;
  return {
    url,
    wsUrl: `ws://127.0.0.1:${port}/ws`,
    kkchat,
    config,
    async close() {
      await kkchat.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
