import { randomBytes } from 'node:crypto';
import fastifyCookie from '@fastify/cookie';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyReply } from 'fastify';
import { serializerCompiler, validatorCompiler, type ZodTypeProvider } from 'fastify-type-provider-zod';
import pino, { type Logger } from 'pino';
import { LIMITS } from '@kkchat/protocol';
import { ownOrigins, type Config } from './config.js';
import type { Platform, Services } from './context.js';
import { AppError } from './errors.js';
import { installErrorHandling } from './http/error-handler.js';
import { installOpenApi } from './http/openapi.js';
import { installOperations, requestIdOf, type OperationsState } from './http/operations.js';
import { installSecurityHeaders, setSecurityHeaders } from './http/security-headers.js';
import { installWebApp } from './http/web-app.js';
import { createBlobStore } from './platform/blobs/create-blob-store.js';
import { databasePoolStats, openDatabase } from './platform/db/database.js';
import { createEventPlatform } from './platform/events/cluster.js';
import type { EventBus } from './platform/events/event-bus.js';
import { logContextFields } from './platform/log-context.js';
import { Metrics } from './platform/metrics/metrics.js';
import { openInfrastructure } from './platform/infrastructure.js';
import { JobScheduler, type ScheduledJob } from './platform/jobs/scheduler.js';
import { AuthRepository } from './modules/auth/auth.repository.js';
import { requireAuthentication } from './modules/auth/auth.hook.js';
import { publicAuthRoutes, sessionRoutes } from './modules/auth/auth.routes.js';
import { AuthService } from './modules/auth/auth.service.js';
import { ContactRepository } from './modules/contacts/contacts.repository.js';
import { contactRoutes } from './modules/contacts/contacts.routes.js';
import { ContactService } from './modules/contacts/contacts.service.js';
import { ConversationRepository } from './modules/conversations/conversations.repository.js';
import { conversationRoutes } from './modules/conversations/conversations.routes.js';
import { ConversationService } from './modules/conversations/conversations.service.js';
import { DirectConversationCache } from './modules/conversations/direct.cache.js';
import { callRoutes } from './modules/calls/calls.routes.js';
import { CallService } from './modules/calls/calls.service.js';
import { Gateway } from './modules/gateway/gateway.js';
import { GroupMembershipCache } from './modules/groups/groups.cache.js';
import { GroupRepository } from './modules/groups/groups.repository.js';
import { groupRoutes } from './modules/groups/groups.routes.js';
import { GroupService } from './modules/groups/groups.service.js';
import { PresenceService } from './modules/gateway/presence.service.js';
import { UserRepository } from './modules/users/users.repository.js';
import { userRoutes } from './modules/users/users.routes.js';
import { UserService } from './modules/users/users.service.js';
import { AdminBootstrap } from './modules/admin/admin.bootstrap.js';
import { createAdminHooks } from './modules/admin/admin.hooks.js';
import { AdminPolicy } from './modules/admin/admin.policy.js';
import { adminRoutes } from './modules/admin/admin.routes.js';
import { AdminGroupRepository } from './modules/admin/admin-groups.repository.js';
import { AdminGroupService } from './modules/admin/admin-groups.service.js';
import { AdminStatsService } from './modules/admin/admin-stats.service.js';
import { AdminUserRepository } from './modules/admin/admin-users.repository.js';
import { AdminUserService } from './modules/admin/admin-users.service.js';
import { AuditRepository } from './modules/admin/audit.repository.js';
import { AuditService } from './modules/admin/audit.service.js';
import { MessageRemoval } from './modules/conversations/message-removal.js';
import { GroupAdministration } from './modules/groups/groups.admin.js';
import { FileCleanup } from './modules/files/files.cleanup.js';
import { FileLinkSigner } from './modules/files/files.links.js';
import { FileRepository } from './modules/files/files.repository.js';
import { fileContentRoutes, fileRoutes } from './modules/files/files.routes.js';
import { FileService } from './modules/files/files.service.js';
import { UploadService } from './modules/files/uploads.service.js';
import { trustPredicate } from './http/client-address.js';

/** Pending connections the kernel may queue for the server (Node's default is 511). */
const LISTEN_BACKLOG = 4096;

export const VERSION = '0.1.0';

export interface KKChatApp {
  app: FastifyInstance;
  platform: Platform;
  services: Services;
  gateway: Gateway;
  /** The file sweep (a worker-role job; tests run it on demand). */
  fileCleanup: FileCleanup;
  /** Listens and returns the bound port; default allowed origins then name that port (KKCHAT_PORT=0). */
  listen(host: string, port: number): Promise<number>;
  /** Stops accepting work, closes sockets (1001), then Redis and the database. */
  close(): Promise<void>;
  /**
   * Graceful shutdown (SIGTERM): /readyz turns to draining, no new connections, in-flight requests and sends
   * finish, sockets close with SERVER_DRAINING over KKCHAT_SHUTDOWN_DRAIN_MS, then Redis and the database.
   */
  shutdown(): Promise<void>;
}

export interface BuildOptions {
  logger?: Logger;
  now?: () => number;
  /** An event bus to use instead of a new in-process one (tests run two nodes on one bus). */
  bus?: EventBus;
}

/** Composes the whole program without listening; `main.ts` and the tests both start here. */
export async function buildApp(config: Config, options: BuildOptions = {}): Promise<KKChatApp> {
  const log =
    options.logger ??
    pino({
      level: config.logLevel,
      redact: ['req.headers.authorization', 'req.headers.cookie'],
      // The request or socket being served, on every line (platform/log-context.ts).
      mixin: logContextFields,
    });
  const metrics = new Metrics();
  const db = await openDatabase({
    url: config.databaseUrl,
    poolSize: config.databasePoolSize,
    sqliteSynchronous: config.sqliteSynchronous,
    onPoolError: (error) => log.warn({ err: error }, 'database connection error'),
  });
  const now = options.now ?? Date.now;
  const instanceId = randomBytes(6).toString('hex');
  let infra;
  let events;
  let blobs;
  try {
    infra = await openInfrastructure(config, {
      log,
      now,
      onRedisState: (up) => metrics.setRedisUp(up),
      onRedisError: () => metrics.redisErrors.inc(),
    });
    events = await createEventPlatform(config, db, log, instanceId, now, options.bus, (topic, partition, lag) =>
      metrics.setConsumerLag(topic, partition, lag),
    ).catch(async (error: unknown) => {
      await infra!.close();
      throw error;
    });
    blobs = await createBlobStore(config).catch(async (error: unknown) => {
      await events!.close();
      await infra!.close();
      throw new Error(`Blob store (${config.files.store}): ${error instanceof Error ? error.message : String(error)}`, { cause: error });
    });
  } catch (error) {
    await db.destroy();
    throw error;
  }
  const platform: Platform = {
    config,
    db,
    bus: events.bus,
    outbox: events.outbox,
    instanceId,
    presence: infra.presence,
    limiter: infra.limiter,
    sessions: infra.sessions,
    invalidation: infra.invalidation,
    redis: infra.redis,
    blobs,
    metrics,
    log,
    now,
  };
  const pool = databasePoolStats(db);
  if (pool) metrics.trackPool(pool);
  if (infra.redis) metrics.trackRedis();
  const operations: OperationsState = { draining: false };
  const services = createServices(platform);
  // The first administrators (KKCHAT_ADMIN_USERNAMES), while the system has none.
  const granted = await new AdminBootstrap(db, now, config.adminUsernames, log).atStart();
  if (granted.length > 0) log.info({ usernames: granted }, 'administrator role granted (KKCHAT_ADMIN_USERNAMES)');
  const fileCleanup = new FileCleanup(platform, new FileRepository(platform.db), platform.blobs);

  const app = Fastify({
    loggerInstance: log as FastifyBaseLogger,
    // One rule for the API and the gateway (http/client-address.ts); Fastify's own hop count trusts nothing.
    trustProxy: config.trustProxy === false ? false : trustPredicate(config.trustProxy),
    bodyLimit: LIMITS.wsMaxFrameBytes,
    // Requests are not logged one by one (chat clients make many); errors are.
    logController: new LogController({ disableRequestLogging: true }),
    return503OnClosing: true,
    genReqId: requestIdOf,
    // A malformed percent-encoding or an over-long path parameter is refused before routing; answer it in the
    // API's error shape (Fastify's own body names its internal code and echoes the URL).
    frameworkErrors: (_error, request, reply) => {
      const raw = reply as unknown as FastifyReply;
      setSecurityHeaders(request.url, raw);
      void raw.status(400).send(new AppError('VALIDATION_FAILED', { message: 'The URL is malformed.' }).toBody());
    },
  }).withTypeProvider<ZodTypeProvider>();
  // The API speaks JSON only. Fastify also parses text/plain by default, which would turn a mislabelled body
  // into a string and a confusing 400; without that parser it gets 415 UNSUPPORTED_MEDIA_TYPE.
  app.removeContentTypeParser('text/plain');
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  installErrorHandling(app);
  installSecurityHeaders(app);
  await app.register(fastifyCookie);
  await installOpenApi(app);

  installOperations(app, platform, operations);
  app.get('/healthz', { schema: { hide: true } }, async () => ({
    status: 'ok' as const,
    uptimeMs: Math.round(process.uptime() * 1000),
    version: VERSION,
  }));

  // Roles (config.roles): the API and the web app on `api` nodes, /ws on `gateway` nodes; `worker` runs the
  // outbox relay (createEventPlatform). /healthz answers on every node.
  if (config.roles.has('api')) await app.register(
    async (api) => {
      await api.register(publicAuthRoutes, { services });
      // Downloads by signed link carry no Authorization header (<img>, <video>): outside the auth hook.
      await api.register(fileContentRoutes, { services });
      await api.register(async (secured) => {
        requireAuthentication(secured, services);
        await secured.register(sessionRoutes, { services });
        await secured.register(userRoutes, { services });
        await secured.register(contactRoutes, { services });
        await secured.register(conversationRoutes, { services });
        await secured.register(groupRoutes, { services });
        await secured.register(callRoutes, { services, config, now });
        await secured.register(adminRoutes, { services });
        await secured.register(fileRoutes, { services });
      });
    },
    { prefix: '/api/v1' },
  );
  if (config.roles.has('api')) await installWebApp(app, config.webDir);

  const gateway = new Gateway(platform, services);
  if (config.roles.has('gateway')) gateway.attach(app.server);
  metrics.trackConnections(() => gateway.stats().connections);
  await infra.start();
  const jobs = new JobScheduler(config.roles.has('worker') ? scheduledJobs(platform, fileCleanup) : [], log.child({ component: 'jobs' }));
  jobs.start();

  const closeBackground = async () => {
    await jobs.stop();
    services.calls.close();
    await infra.close();
    await events.close();
    await blobs.close();
    await db.destroy();
  };
  // Node closes the keep-alive connections that are idle when the server closes; one still finishing a response
  // (a download streaming out) becomes idle a moment later and would then hold the close for Fastify's
  // keep-alive timeout (72 s). Those are reaped as they go idle.
  const closeHttp = async () => {
    const reaper = setInterval(() => app.server.closeIdleConnections(), 250);
    try {
      await app.close();
    } finally {
      clearInterval(reaper);
    }
  };

  return {
    app,
    platform,
    services,
    gateway,
    fileCleanup,
    async listen(host, port) {
      // A deep accept queue: when thousands of clients reconnect at once (a network blip, a node's restart) and the
      // event loop is busy, connections wait in the kernel's queue instead of being dropped into TCP's SYN
      // retransmission backoff (1, 2, 4, 8... s). The kernel caps it at net.core.somaxconn.
      await app.listen({ host, port, backlog: LISTEN_BACKLOG });
      const address = app.server.address();
      const bound = typeof address === 'object' && address ? address.port : port;
      if (config.allowedOriginsDefault) config.allowedOrigins = ownOrigins(bound);
      return bound;
    },
    async close() {
      await gateway.close();
      await closeHttp();
      await closeBackground();
    },
    async shutdown() {
      // Readiness fails first (a load balancer stops sending new clients); REST is still served while the
      // sockets drain, so drained clients can sync. Disconnects from now on leave presence to the sweeper:
      // clients reconnecting elsewhere never flicker.
      operations.draining = true;
      platform.presence.handOff();
      await gateway.drain(config.shutdown.drainMs);
      await gateway.close();
      await closeHttp(); // stops listening; in-flight requests finish, new ones on kept-alive connections get 503
      await closeBackground();
    },
  };
}

/** The worker role's periodic jobs; each is idempotent, so every worker runs them. */
function scheduledJobs(platform: Platform, fileCleanup: FileCleanup): ScheduledJob[] {
  const auth = new AuthRepository(platform.db);
  return [
    // Abandoned uploads and files nothing refers to (modules/files/files.cleanup.ts).
    { name: 'file-cleanup', everyMs: platform.config.files.cleanupIntervalMs, run: async () => void (await fileCleanup.runOnce()) },
    {
      name: 'purge-expired-refresh-tokens',
      everyMs: 10 * 60_000,
      run: async () => {
        const purged = await auth.purgeExpiredRefreshTokens(platform.now() - 24 * 3600_000);
        if (purged > 0) platform.log.info({ purged }, 'purged expired refresh tokens');
      },
    },
  ];
}

function createServices(platform: Platform): Services {
  const users = new UserRepository(platform.db);
  const filesRepo = new FileRepository(platform.db);
  const files = new FileService(platform, filesRepo, platform.blobs, new FileLinkSigner(platform.config.jwtSecret, platform.config.files.linkTtlMs));
  const contactsRepo = new ContactRepository(platform.db);
  const conversationsRepo = new ConversationRepository(platform.db);
  const groupsRepo = new GroupRepository(platform.db);
  const groupCache = new GroupMembershipCache(groupsRepo, platform.invalidation, platform.now);
  const directCache = new DirectConversationCache((id) => conversationsRepo.loadDirectState(id), platform.invalidation, platform.now);
  const contacts = new ContactService(platform, contactsRepo, users, directCache);
  const conversations = new ConversationService(platform, conversationsRepo, contactsRepo, users, groupCache, groupsRepo, directCache, files);
  const authRepo = new AuthRepository(platform.db);
  const groups = new GroupService(platform, groupsRepo, groupCache, conversations, contactsRepo, users, files);
  const auth = new AuthService(platform, authRepo, users);
  // The files module's rules for what an administrator's deletion or removal does to files (docs: Files, Retention).
  const hooks = createAdminHooks();
  hooks.accountDeleted.push(async (trx, userId) => void (await files.purgeAccount(userId, trx)));
  hooks.messageRemoved.push((trx, message) => files.releaseAttachments(message.conversation_id, [Number(message.seq)], trx));
  hooks.storageUsage = () => filesRepo.usedBytes();
  const policy = new AdminPolicy(users);
  const audit = new AuditRepository(platform.db, platform.now);
  const groupAdmin = new GroupAdministration(platform, groupsRepo, groupCache, groups, conversations);
  return {
    auth,
    users: new UserService(platform, users, (userId) => contactsRepo.audienceOf(userId), files),
    contacts,
    conversations,
    groups,
    presence: new PresenceService(platform, users, (userId) => contactsRepo.audienceOf(userId)),
    calls: new CallService(platform, conversationsRepo, contactsRepo, conversations),
    adminUsers: new AdminUserService({
      platform,
      policy,
      repo: new AdminUserRepository(platform.db),
      users,
      auth: authRepo,
      endSessions: (sessionIds) => auth.sessionsEnded(sessionIds),
      contactsRepo,
      contacts,
      groupAdmin,
      audit,
      hooks,
    }),
    adminGroups: new AdminGroupService({
      platform,
      policy,
      repo: new AdminGroupRepository(platform.db),
      users,
      conversations: conversationsRepo,
      groupAdmin,
      removal: new MessageRemoval(platform, conversationsRepo, groupCache, groupsRepo),
      audit,
      hooks,
    }),
    adminStats: new AdminStatsService(platform, policy, hooks),
    audit: new AuditService(platform, policy, audit, users),
    files,
    uploads: new UploadService(platform, filesRepo, platform.blobs),
  };
}
