import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { PoolStats } from '../db/dialects.js';

/**
 * The node's Prometheus metrics (docs/architecture.md, Operations). One registry per app, so several apps in
 * one process (the tests) do not share counters. Adapters feed it; `/metrics` renders it.
 */
export class Metrics {
  readonly registry = new Registry();
  readonly wsOpened = new Counter({ name: 'kkchat_ws_connections_opened_total', help: 'WebSockets accepted', registers: [this.registry] });
  readonly wsClosed = new Counter({ name: 'kkchat_ws_connections_closed_total', help: 'WebSockets closed, by close code', labelNames: ['code'], registers: [this.registry] });
  readonly messagesReceived = new Counter({
    name: 'kkchat_messages_received_total',
    help: 'Messages stored from users (duplicates not counted), by transport',
    labelNames: ['transport'],
    registers: [this.registry],
  });
  readonly messagesDelivered = new Counter({ name: 'kkchat_messages_delivered_total', help: 'message frames written to sockets', registers: [this.registry] });
  readonly deliveryLatency = new Histogram({
    name: 'kkchat_delivery_latency_seconds',
    help: 'From the storing commit to the frame written to a recipient socket',
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [this.registry],
  });
  readonly httpRequests = new Counter({
    name: 'kkchat_http_requests_total',
    help: 'REST requests by route pattern and status',
    labelNames: ['method', 'route', 'status'],
    registers: [this.registry],
  });
  readonly redisErrors = new Counter({ name: 'kkchat_redis_errors_total', help: 'Failed Redis commands', registers: [this.registry] });
  private readonly consumerLag = new Gauge({
    name: 'kkchat_bus_consumer_lag',
    help: 'Messages the bus consumer is behind, by topic and partition (set by the bus adapter)',
    labelNames: ['topic', 'partition'],
    registers: [this.registry],
  });
  private redisUpValue: number | null = null;

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: 'kkchat_' });
  }

  /** Open sockets, read when scraped. */
  trackConnections(read: () => number): void {
    new Gauge({ name: 'kkchat_ws_connections', help: 'Open WebSockets on this node', registers: [this.registry], collect() { this.set(read()); } });
  }

  /** The database pool, read when scraped (PostgreSQL, MySQL). */
  trackPool(read: () => PoolStats): void {
    new Gauge({
      name: 'kkchat_db_pool_connections',
      help: 'Database pool connections by state',
      labelNames: ['state'],
      registers: [this.registry],
      collect() {
        const stats = read();
        this.set({ state: 'idle' }, stats.idle);
        this.set({ state: 'used' }, stats.total - stats.idle);
      },
    });
    new Gauge({ name: 'kkchat_db_pool_waiting', help: 'Queries waiting for a pool connection', registers: [this.registry], collect() { this.set(read().waiting); } });
  }

  /** Redis is configured: report whether it answers. */
  trackRedis(): void {
    const self = this;
    new Gauge({ name: 'kkchat_redis_up', help: '1 while Redis answers, 0 during an outage', registers: [this.registry], collect() { this.set(self.redisUpValue ?? 0); } });
  }

  setRedisUp(up: boolean): void {
    this.redisUpValue = up ? 1 : 0;
  }

  /** For the bus adapter: how far its consumer is behind on one partition. */
  setConsumerLag(topic: string, partition: number | string, lag: number): void {
    this.consumerLag.set({ topic, partition: String(partition) }, lag);
  }

  render(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}
