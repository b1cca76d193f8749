import { randomUUID } from 'node:crypto';
import { Writable } from 'node:stream';
import { CLOSE_CODES, messageText } from '@kkchat/protocol';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { logContextFields } from '../../src/platform/log-context.js';
import { eventually, friends, startServer } from '../support/helpers.js';
import { api, RawSocket } from '../support/raw-client.js';
import { createTestDatabase } from '../support/databases.js';
import { startKafka } from '../support/kafka.js';
import { startKafkaCluster } from '../support/kafka-cluster.js';
import { startRedisServer } from '../support/redis.js';
import { startServerProcess } from '../support/server-process.js';
import type { TestServer } from '../support/test-server.js';

let cleanup: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const step of cleanup.reverse()) await step().catch(() => undefined);
  cleanup = [];
});

async function server(env: Record<string, string> = {}, options: Parameters<typeof startServer>[1] = {}): Promise<TestServer> {
  const started = await startServer(env, options);
  cleanup.push(() => started.close());
  return started;
}

async function get(url: string, headers: Record<string, string> = {}) {
  const response = await fetch(url, { headers });
  return { status: response.status, headers: response.headers, text: await response.text() };
}

/** A logger like production's (the log-context mixin) that keeps its lines. */
function capturing() {
  const lines: Array<Record<string, unknown>> = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString().split('\n')) if (line) lines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  return { logger: pino({ level: 'info', mixin: logContextFields }, stream), lines };
}

function metricValue(text: string, name: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${name} `) || l.startsWith(`${name}{`));
  return line ? Number(line.split(' ').pop()) : NaN;
}

describe('/readyz', () => {
  it('is ready when the database answers (embedded: no Redis, no bus check)', async () => {
    const node = await server();
    const ready = await get(`${node.url}/readyz`);
    expect(ready.status).toBe(200);
    expect(JSON.parse(ready.text)).toEqual({ status: 'ready', checks: { database: 'ok' } });
  });

  it('names Redis when it does not answer, and is ready again when it is back', async () => {
    const redis = await startRedisServer();
    cleanup.push(() => redis.dispose());
    const node = await server({ KKCHAT_REDIS_URL: redis.url });
    expect(JSON.parse((await get(`${node.url}/readyz`)).text)).toEqual({ status: 'ready', checks: { database: 'ok', redis: 'ok' } });
    await redis.stop();
    const down = await get(`${node.url}/readyz`);
    expect(down.status).toBe(503);
    const body = JSON.parse(down.text) as { status: string; checks: Record<string, string> };
    expect(body.status).toBe('unavailable');
    expect(body.checks.database).toBe('ok');
    expect(body.checks.redis).toMatch(/^failed: /);
    await redis.start();
    await eventually(async () => (await get(`${node.url}/readyz`)).status === 200);
  });
});

describe('/readyz and /metrics on the Kafka bus', () => {
  it('checks the brokers, names the bus when they are gone, and reports the consumer lag', async () => {
    const broker = await startKafka();
    cleanup.push(() => broker.stop());
    const cluster = await startKafkaCluster({ kafka: broker });
    cleanup.push(() => cluster.close());
    const node = await cluster.node('n1');
    expect(JSON.parse((await get(`${node.url}/readyz`)).text)).toEqual({ status: 'ready', checks: { database: 'ok', redis: 'ok', bus: 'ok' } });
    await eventually(async () => /kkchat_bus_consumer_lag\{topic="[^"]+events",partition="0"\} 0/.test((await get(`${node.url}/metrics`)).text));
    await broker.kill('SIGKILL');
    const down = await get(`${node.url}/readyz`);
    expect(down.status).toBe(503);
    expect((JSON.parse(down.text) as { checks: Record<string, string> }).checks).toMatchObject({ database: 'ok', redis: 'ok', bus: expect.stringMatching(/^failed: /) });
    await broker.start();
    await eventually(async () => (await get(`${node.url}/readyz`)).status === 200, 60_000, 500);
  }, 180_000);
});

describe('/metrics', () => {
  it('counts connections, messages in and out, and delivery latency; loopback only by default', async () => {
    const node = await server();
    const { a, b, conversationId } = await friends(node, 'mt');
    const receiver = await RawSocket.connect(node.wsUrl, b.accessToken);
    const sender = await RawSocket.connect(node.wsUrl, a.accessToken);
    sender.send({ type: 'send', rid: 'r1', conversationId, clientMsgId: randomUUID(), kind: 'text', text: 'over ws' });
    await sender.next('ack');
    await api(node.url, 'POST', `/conversations/${conversationId}/messages`, { token: a.accessToken, body: { clientMsgId: randomUUID(), kind: 'text', text: 'over rest' } });
    await receiver.next('message', (f) => messageText(f.message) === 'over rest');

    const metrics = await get(`${node.url}/metrics`);
    expect(metrics.status).toBe(200);
    expect(metrics.headers.get('content-type')).toMatch(/^text\/plain/);
    expect(metricValue(metrics.text, 'kkchat_ws_connections')).toBe(2);
    expect(metrics.text).toContain('kkchat_messages_received_total{transport="ws"} 1');
    expect(metrics.text).toContain('kkchat_messages_received_total{transport="rest"} 1');
    // ws send: the receiver's socket; rest send: both sockets (the sender's device too).
    expect(metricValue(metrics.text, 'kkchat_messages_delivered_total')).toBe(3);
    expect(metricValue(metrics.text, 'kkchat_delivery_latency_seconds_count')).toBe(3);
    expect(metrics.text).toMatch(/kkchat_http_requests_total\{method="POST",route="\/api\/v1\/conversations\/:id\/messages",status="201"\} 1/);
    expect(metrics.text).toContain('kkchat_process_resident_memory_bytes');
    expect(metrics.text).not.toContain('kkchat_redis_up'); // no Redis configured

    // Through a proxy on this machine (X-Forwarded-For) it is not served.
    expect((await get(`${node.url}/metrics`, { 'x-forwarded-for': '203.0.113.9' })).status).toBe(404);
  });

  it('shows the consumer lag the bus adapter reports', async () => {
    const node = await server();
    node.kkchat.platform.metrics.setConsumerLag('kkchat.events', 3, 42);
    expect((await get(`${node.url}/metrics`)).text).toContain('kkchat_bus_consumer_lag{topic="kkchat.events",partition="3"} 42');
  });

  it('with KKCHAT_METRICS_TOKEN, only the token opens it', async () => {
    const token = 'metrics-token-0123456789';
    const node = await server({ KKCHAT_METRICS_TOKEN: token });
    expect((await get(`${node.url}/metrics`)).status).toBe(404);
    expect((await get(`${node.url}/metrics`, { authorization: 'Bearer wrong-token-0123456789' })).status).toBe(404);
    const opened = await get(`${node.url}/metrics`, { authorization: `Bearer ${token}`, 'x-forwarded-for': '203.0.113.9' });
    expect(opened.status).toBe(200);
    expect(opened.text).toContain('kkchat_ws_connections 0');
  });

  it('reports the database pool and Redis when they are used', async () => {
    const redis = await startRedisServer();
    cleanup.push(() => redis.dispose());
    const database = await createTestDatabase('postgres');
    cleanup.push(() => database.drop());
    const node = await server({ KKCHAT_REDIS_URL: redis.url, KKCHAT_DATABASE_URL: database.url, KKCHAT_DATABASE_POOL_SIZE: '4' });
    const text = (await get(`${node.url}/metrics`)).text;
    expect(metricValue(text, 'kkchat_redis_up')).toBe(1);
    const idle = Number(/kkchat_db_pool_connections\{state="idle"\} (\d+)/.exec(text)?.[1]);
    const used = Number(/kkchat_db_pool_connections\{state="used"\} (\d+)/.exec(text)?.[1]);
    expect(idle + used).toBeGreaterThan(0);
    expect(idle + used).toBeLessThanOrEqual(4);
    expect(metricValue(text, 'kkchat_db_pool_waiting')).toBe(0);
    await redis.stop();
    await eventually(async () => metricValue((await get(`${node.url}/metrics`)).text, 'kkchat_redis_up') === 0);
    expect(metricValue((await get(`${node.url}/metrics`)).text, 'kkchat_redis_errors_total')).toBeGreaterThan(0);
  });
});

describe('request ids', () => {
  it('every response carries one; a plain X-Request-Id from the proxy is kept, and the services log with it', async () => {
    const { logger, lines } = capturing();
    const node = await server({}, { logger });
    const fresh = await get(`${node.url}/healthz`);
    expect(fresh.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
    expect((await get(`${node.url}/healthz`, { 'x-request-id': 'edge-42.a_b' })).headers.get('x-request-id')).toBe('edge-42.a_b');
    expect((await get(`${node.url}/healthz`, { 'x-request-id': 'no spaces <allowed>' })).headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);

    // A refresh token used twice: AuthService logs the reuse; the line names the request that caused it.
    const { a } = await friends(node, 'rq');
    await api(node.url, 'POST', '/auth/refresh', { body: { refreshToken: a.refreshToken } });
    const reuse = await api(node.url, 'POST', '/auth/refresh', { body: { refreshToken: a.refreshToken }, headers: { 'x-request-id': 'reuse-1' } });
    expect(reuse.status).toBe(401);
    await eventually(() => lines.some((l) => l.msg === 'refresh token reuse: session revoked'));
    expect(lines.find((l) => l.msg === 'refresh token reuse: session revoked')?.reqId).toBe('reuse-1');
  });

  it('a WebSocket has an id in its log lines, with the user once it is signed in', async () => {
    const lines: Array<Record<string, unknown>> = [];
    const stream = new Writable({
      write(chunk: Buffer, _encoding, done) {
        for (const line of chunk.toString().split('\n')) if (line) lines.push(JSON.parse(line) as Record<string, unknown>);
        done();
      },
    });
    const node = await server({}, { logger: pino({ level: 'debug', mixin: logContextFields }, stream) });
    const { a } = await friends(node, 'wl');
    const socket = await RawSocket.connect(node.wsUrl, a.accessToken);
    socket.close();
    await socket.waitClosed();
    const closed = await eventually(() => lines.find((l) => l.msg === 'socket closed'));
    expect(closed).toMatchObject({ userId: a.user.id, code: 1005 });
    expect(lines.find((l) => l.msg === 'socket opened')?.connectionId).toBe(closed!.connectionId);
  });

  it('a server error names the request id in its body and its log line', async () => {
    const { logger, lines } = capturing();
    const node = await startServer({}, { logger });
    const { a } = await friends(node, 're');
    await node.kkchat.platform.db.destroy(); // the database goes away under the running server
    const failed = await api<{ error: { code: string; requestId?: string } }>(node.url, 'GET', '/contacts', {
      token: a.accessToken,
      headers: { 'x-request-id': 'broken-1' },
    });
    expect(failed.status).toBe(500);
    expect(failed.body.error).toMatchObject({ code: 'INTERNAL', requestId: 'broken-1' });
    expect(lines.some((l) => l.msg === 'request failed' && l.reqId === 'broken-1')).toBe(true);
    await node.close().catch(() => undefined);
  });
});

describe('graceful shutdown', () => {
  it('readiness fails first, in-flight sends are acknowledged, then sockets close with SERVER_DRAINING', async () => {
    const node = await startServer({ KKCHAT_SHUTDOWN_DRAIN_MS: '300' });
    const { a, b, conversationId } = await friends(node, 'sd');
    const receiver = await RawSocket.connect(node.wsUrl, b.accessToken);
    const sender = await RawSocket.connect(node.wsUrl, a.accessToken);
    const ids = Array.from({ length: 30 }, () => randomUUID());
    for (const [i, clientMsgId] of ids.entries()) sender.send({ type: 'send', rid: `s${i}`, conversationId, clientMsgId, kind: 'text', text: `m${i}` });
    await sender.next('ack');
    const stopping = node.kkchat.shutdown();
    const ready = await get(`${node.url}/readyz`);
    expect(ready.status).toBe(503);
    expect(JSON.parse(ready.text)).toMatchObject({ status: 'draining' });
    expect((await sender.waitClosed()).code).toBe(CLOSE_CODES.SERVER_DRAINING);
    expect((await receiver.waitClosed()).code).toBe(CLOSE_CODES.SERVER_DRAINING);
    await stopping;

    // Every send that was taken got its ack before the close; the rest were not stored (the client resends).
    const acked = sender.frames.filter((f) => f.type === 'ack').map((f) => (f as { message: { clientMsgId: string; seq: number } }).message);
    expect(acked.length).toBeGreaterThan(0);
    const restarted = await startServer({ KKCHAT_DATABASE_URL: node.config.databaseUrl, KKCHAT_JWT_SECRET: node.config.jwtSecret });
    cleanup.push(() => restarted.close());
    const history = await api<{ messages: Array<{ clientMsgId: string; seq: number }> }>(restarted.url, 'GET', `/conversations/${conversationId}/messages?after=0&limit=100`, { token: a.accessToken });
    expect(history.body.messages.map((m) => m.clientMsgId)).toEqual(acked.map((m) => m.clientMsgId));
    expect(history.body.messages.map((m) => m.seq)).toEqual(acked.map((_, i) => i + 1));
  });

  it('SIGTERM drains and exits with 0', async () => {
    const proc = await startServerProcess({ env: { KKCHAT_SHUTDOWN_DRAIN_MS: '100' } });
    cleanup.push(() => proc.stop());
    const health = await get(`${proc.url}/healthz`);
    expect(health.status).toBe(200);
    const reg = await api<{ accessToken: string }>(proc.url, 'POST', '/auth/register', { body: { username: `sig${Date.now().toString(36)}`, password: 'password-sigterm' } });
    const socket = await RawSocket.connect(`${proc.url.replace('http', 'ws')}/ws`, reg.body.accessToken);
    const exited = new Promise<number | null>((resolve) => proc.onExit((code) => resolve(code)));
    process.kill(proc.pid, 'SIGTERM');
    expect((await socket.waitClosed()).code).toBe(CLOSE_CODES.SERVER_DRAINING);
    expect(await exited).toBe(0);
  });
});
