import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runBench } from './src/run.js';

/**
 * Keeps the benchmark harness from rotting: every scenario at toy size (a few clients, sub-second steps) against
 * the built server and both relays. It checks that the harness runs and reports, never a performance number.
 */
describe('bench harness (toy sizes)', () => {
  const outDir = mkdtempSync(join(tmpdir(), 'kkchat-bench-smoke-'));
  afterAll(() => rmSync(outDir, { recursive: true, force: true }));

  it('runs every scenario against KKChat and both baselines and writes JSON, Markdown and SVG', async () => {
    const lines: string[] = [];
    const { results, file, markdown } = await runBench({
      scenarios: ['idle', 'throughput', 'fanout', 'storm', 'http', 'files'],
      targets: ['kkchat', 'ws', 'sio'],
      users: 0,
      idleConnections: 12,
      pairs: 4,
      stormClients: 8,
      stormMessages: 2,
      groupMembers: 6,
      fanoutStartRate: 5,
      fanoutSenders: 2,
      stepMs: 400,
      httpMs: 400,
      historyMessages: 5,
      fileSizesMiB: [1, 2],
      fileStores: ['local'],
      workers: 1,
      heartbeatMs: 300,
      synchronous: ['NORMAL'],
      maxSteps: 2,
      startRate: 50,
      outDir,
      log: (line) => lines.push(line),
    });
    expect(results.map((r) => r.name)).toEqual(['idle', 'throughput', 'fanout', 'storm', 'http', 'files']);
    const byName = Object.fromEntries(results.map((r) => [r.name, r]));
    const row = (scenario: string, metric: string) => byName[scenario].rows.find((r) => r.metric.startsWith(metric))!;

    expect(row('idle', 'connected')).toMatchObject({ kkchat: 12, ws: 12, sio: 12 });
    // Every target delivered messages. (How many land inside a 400 ms step window depends on how loaded the
    // machine is, so the windowed rate is only required to be reported.)
    for (const t of ['kkchat', 'ws', 'sio'] as const) expect(row('throughput', 'max acked and delivered')[t]).toBeGreaterThanOrEqual(0);
    const runs = byName.throughput.raw as Record<string, { steps: { sent: number; errors: number; deliver: { n: number } }[] }>;
    expect(Object.keys(runs).sort()).toEqual(['kkchat-NORMAL', 'sio', 'ws']);
    for (const [key, run] of Object.entries(runs)) {
      expect(run.steps.reduce((n, s) => n + s.sent, 0), key).toBeGreaterThan(0);
      expect(run.steps.reduce((n, s) => n + s.deliver.n, 0), key).toBeGreaterThan(0);
      expect(run.steps.reduce((n, s) => n + s.errors, 0), key).toBe(0);
    }
    // The storm's proof: nothing missing, nothing twice.
    expect(row('storm', 'missing after catch-up').kkchat).toBe(0);
    expect(row('storm', 'delivered twice').kkchat).toBe(0);
    expect(row('storm', 'messages sent while').kkchat).toBe(8);
    expect(row('http', 'history pages').kkchat).toBeGreaterThan(0);
    expect(row('http', 'logins').kkchat).toBeGreaterThan(0);
    expect(row('files', 'local 2 MiB upload').kkchat).toBeGreaterThan(0);
    expect(row('files', 'local 2 MiB peak server RSS, download').kkchat).toBeGreaterThan(0);
    expect(byName.fanout.skipped, 'the fan-out scenario ran (KKChat has groups)').toBeUndefined();
    for (const t of ['kkchat', 'ws', 'sio'] as const) expect(row('fanout', 'max deliveries')[t]).toBeGreaterThan(0);

    expect(existsSync(file)).toBe(true);
    expect(JSON.parse(readFileSync(file, 'utf8')).results).toHaveLength(6);
    expect(markdown).toContain('| metric | KKChat | bare ws relay | Socket.IO relay |');
    const svg = readFileSync(join(file, '..', 'throughput.svg'), 'utf8');
    expect(svg.startsWith('<svg')).toBe(true);
    expect(lines.some((l) => l.includes('== scenario: storm'))).toBe(true);
  }, 240_000);
});
