#!/usr/bin/env node
import { buildApp } from './app.js';
import { ConfigError, loadConfig } from './config.js';

const HELP = `KKChat server

Usage: kkchat [--help]

Runs the HTTP API (/api/v1), the WebSocket gateway (/ws) and the web app in one process, on the embedded
defaults: a SQLite database, an in-process event bus, in-memory presence and rate limits. Configure it with
environment variables (see .env.example and the README), for example:

  KKCHAT_PORT=8080 KKCHAT_DATA_DIR=./data kkchat
`;

async function main(): Promise<void> {
  if (process.argv.includes('--help') || process.argv.includes('-h')) {
    process.stdout.write(HELP);
    return;
  }
  let config;
  try {
    config = loadConfig();
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`${error.message}\n`);
      process.exit(2);
    }
    throw error;
  }
  const kkchat = await buildApp(config);
  const { app } = kkchat;
  let stopping = false;
  // Graceful: drain sockets (clients reconnect elsewhere at once), finish in-flight work, then close Redis and
  // the database. Past KKCHAT_SHUTDOWN_TIMEOUT_MS the process exits anyway, with 1.
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    app.log.info({ signal, drainMs: config.shutdown.drainMs }, 'shutting down: draining');
    const deadline = setTimeout(() => {
      app.log.error({ timeoutMs: config.shutdown.timeoutMs }, 'shutdown did not finish in time; exiting');
      process.exit(1);
    }, config.shutdown.timeoutMs);
    deadline.unref();
    try {
      await kkchat.shutdown();
    } catch (error) {
      app.log.error({ err: error }, 'shutdown failed');
      process.exit(1);
    }
    app.log.info('shut down');
    process.exit(0);
  };
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGTERM', () => void stop('SIGTERM'));

  const port = await kkchat.listen(config.host, config.port);
  const shownHost = config.host === '0.0.0.0' || config.host === '::' ? 'localhost' : config.host;
  app.log.info(
    { url: `http://${shownHost}:${port}`, port, dataDir: config.dataDir, webApp: config.webDir !== null },
    'KKChat listening',
  );
}

main().catch((error: unknown) => {
  process.stderr.write(`KKChat failed to start: ${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
