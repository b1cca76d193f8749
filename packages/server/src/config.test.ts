import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from './config.js';

const base = { KKCHAT_DATA_DIR: mkdtempSync(join(tmpdir(), 'kkchat-config-')), KKCHAT_JWT_SECRET: 'x'.repeat(40) };

function refusal(env: Record<string, string>): string {
  try {
    loadConfig({ ...base, ...env });
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as Error).message;
  }
  throw new Error('the configuration was accepted');
}

describe('cluster configuration', () => {
  it('is off by default: every role, no Kafka', () => {
    const config = loadConfig(base);
    expect([...config.roles].sort()).toEqual(['api', 'gateway', 'worker']);
    expect(config.kafka).toBeNull();
    expect(config.nodeId).toMatch(/^[A-Za-z0-9._-]+-\d+$/);
  });

  it('reads Kafka, roles and the node id', () => {
    const config = loadConfig({
      ...base,
      KKCHAT_KAFKA_BROKERS: '127.0.0.1:19092, kafka-2.internal:9092',
      KKCHAT_KAFKA_TOPIC_PREFIX: 'prod.kkchat.',
      KKCHAT_ROLES: 'gateway, api',
      KKCHAT_NODE_ID: 'edge-1',
      KKCHAT_KAFKA_SASL_MECHANISM: 'scram-sha-512',
      KKCHAT_KAFKA_SASL_USERNAME: 'kkchat',
      KKCHAT_KAFKA_SASL_PASSWORD: 'secret',
      KKCHAT_KAFKA_SSL: 'true',
    });
    expect(config.kafka).toMatchObject({
      brokers: ['127.0.0.1:19092', 'kafka-2.internal:9092'],
      topicPrefix: 'prod.kkchat.',
      ssl: true,
      sasl: { mechanism: 'scram-sha-512', username: 'kkchat', password: 'secret' },
    });
    expect([...config.roles].sort()).toEqual(['api', 'gateway']);
    expect(config.nodeId).toBe('edge-1');
  });

  it('names the variable that is wrong', () => {
    expect(refusal({ KKCHAT_KAFKA_BROKERS: '127.0.0.1' })).toContain('KKCHAT_KAFKA_BROKERS: comma-separated host:port list');
    expect(refusal({ KKCHAT_ROLES: 'gateway,frontend' })).toContain('KKCHAT_ROLES: all, or a comma-separated list');
    expect(refusal({ KKCHAT_ROLES: 'gateway' })).toContain('KKCHAT_ROLES: a node with only some roles needs the others through Kafka');
    expect(refusal({ KKCHAT_NODE_ID: 'node one' })).toContain('KKCHAT_NODE_ID');
    expect(refusal({ KKCHAT_KAFKA_BROKERS: 'k:9092', KKCHAT_KAFKA_SASL_MECHANISM: 'plain' })).toContain('KKCHAT_KAFKA_SASL_USERNAME: required');
    expect(refusal({ KKCHAT_KAFKA_PARTITIONS: '0' })).toContain('KKCHAT_KAFKA_PARTITIONS');
    expect(refusal({ KKCHAT_KAFKA_REPLICATION_FACTOR: '0' })).toContain('KKCHAT_KAFKA_REPLICATION_FACTOR');
  });
});
