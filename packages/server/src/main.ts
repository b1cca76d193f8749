#!/usr/bin/env node
import { buildApp } from './app.js';
import { ConfigError, loadConfig } from './config.js';

const HELP = `KKChat server

Usage: kkchat [--roles <roles>] [--help]

With no configuration it runs everything in one process on the embedded defaults: the HTTP API (/api/v1), the
WebSocket gateway (/ws) and the web app, a SQLite database, an in-process event bus, in-memory presence and
rate limits. Configure it with environment variables (see .env.example and the README), for example:

  KKCHAT_PORT=8080 KKCHAT_DATA_DIR=./data kkchat

Cluster mode: several processes share PostgreSQL or MySQL (KKCHAT_DATABASE_URL) and Kafka
(KKCHAT_KAFKA_BROKERS), behind a load balancer (deploy/nginx/kkchat.conf). Each process runs every role, or
only some, so each tier scales on its own:

  --roles <roles>   all (the default), or a comma-separated list of:
                      gateway  the WebSocket gateway at /ws (and the Kafka consumer feeding its sockets)
                      api      the HTTP API, its OpenAPI document and the web app
                      worker   background work: the outbox relay to Kafka, scheduled jobs
                    the same as KKCHAT_ROLES; the flag wins. Roles other than all need KKCHAT_KAFKA_BROKERS.

  KKCHAT_KAFKA_BROKERS=127.0.0.1:19092 KKCHAT_DATABASE_URL=postgres://kkchat@127.0.0.1/kkchat \\
    KKCHAT_JWT_SECRET=... kkchat --roles gateway,api

Every process answers /healthz. bash scripts/cluster.sh start brings up a local cluster (Kafka, three nodes,
nginx) on this machine.
`;

/** `--roles x` / `--roles=x` sets KKCHAT_ROLES, so the flag is validated like the variable. */
function applyFlags(argv: string[], env: NodeJS.ProcessEnv): void {
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--roles' && argv[i + 1] !== undefined) env.KKCHAT_ROLES = argv[++i];
    else if (arg.startsWith('--roles=')) env.KKCHAT_ROLES = arg.slice('--roles='.length);
    else throw new ConfigError(`Unknown argument "${arg}" (see --help)`);
  }
}

async function main(): Promise<void> {
  if (process.argv.includes('--help') || process.argv.includes('-h')) {
    process.stdout.write(HELP);
    return;
  }
  let config;
  try {
    applyFlags(process.argv.slice(2), process.env);
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
    {
      url: `http://${shownHost}:${port}`,
      port,
      dataDir: config.dataDir,
      webApp: config.webDir !== null && config.roles.has('api'),
      roles: [...config.roles],
      nodeId: config.nodeId,
      cluster: config.kafka !== null,
    },
    'KKChat listening',
  );
}

main().catch((error: unknown) => {
  process.stderr.write(`KKChat failed to start: ${startFailure(error)}\n`);
  process.exit(1);
});

/** What to tell the operator: the usual causes in a sentence that says what to change, anything else in full. */
function startFailure(error: unknown): string {
  const err = error as NodeJS.ErrnoException & { address?: string; port?: number };
  if (err?.code === 'EADDRINUSE') {
    return `${err.address ?? 'the address'}:${err.port ?? '?'} is already in use by another program; stop it, or start KKChat on another port with KKCHAT_PORT (for example KKCHAT_PORT=9000)`;
  }
  if (err?.code === 'EACCES' && err.port !== undefined) {
    return `not allowed to listen on port ${err.port}; use a port above 1023 with KKCHAT_PORT`;
  }
  return error instanceof Error ? (error.stack ?? error.message) : String(error);
}
