import { performance } from 'node:perf_hooks';
import { HttpClient } from '@kkchat/client';
import type { AuthResult } from '@kkchat/protocol';
import { sample } from './measure.js';

// ---- HTTP load: history pages and logins, closed loop --------------------------------------------------------------

export async function httpLoad(args: {
  url: string;
  kind: 'history' | 'login';
  durationMs: number;
  concurrency: number;
  items: { auth?: AuthResult; conversationId?: string; username?: string; password?: string }[];
}) {
  const lat: number[] = [];
  let ok = 0;
  let failed = 0;
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  const clients = args.items.map((item) => {
    const http = new HttpClient({ baseUrl: args.url, validateResponses: false, requestTimeoutMs: 60_000 });
    if (item.auth) http.setSession(item.auth);
    return http;
  });
  let n = 0;
  const runOne = async () => {
    while (performance.now() - t0 < args.durationMs) {
      const i = n++ % args.items.length;
      const item = args.items[i];
      const s = performance.now();
      try {
        if (args.kind === 'history') {
          await clients[i].request('GET', `/conversations/${item.conversationId}/messages`, { query: { limit: 50 } });
        } else {
          await clients[i].request('POST', '/auth/login', { body: { username: item.username, password: item.password }, auth: false });
        }
        ok++;
        sample(lat, performance.now() - s, ok);
      } catch {
        failed++;
      }
    }
  };
  await Promise.all(Array.from({ length: args.concurrency }, runOne));
  const cpu = process.cpuUsage(cpu0);
  return { ok, failed, elapsedMs: performance.now() - t0, lat, cpuMs: (cpu.user + cpu.system) / 1000 };
}
