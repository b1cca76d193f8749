/**
 * A load-generator process. The orchestrator (cli.ts) forks several so that clients and server never share an
 * event loop, and drives them over IPC. One worker holds both sides of each pair it is given, so send→deliver
 * latency is measured on one clock (timeOrigin + performance.now(), which fan-out also compares across workers).
 */
import { connect, closeConns, dropAll, load, waitOnline } from './worker/conns.js';
import { fanoutCollect, fanoutTrack } from './worker/measure.js';
import { closeStorm, stormConnect, stormDrop, stormWait } from './worker/storm.js';
import { httpLoad } from './worker/http.js';

export type { ConnSpec } from './worker/clients.js';

async function closeAll() {
  closeConns();
  closeStorm();
  await new Promise((r) => setTimeout(r, 300));
  return { ok: true };
}

const handlers: Record<string, (args: never) => Promise<unknown>> = {
  connect,
  closeAll,
  load,
  dropAll,
  waitOnline,
  stormConnect,
  stormDrop,
  stormWait,
  httpLoad,
  fanoutTrack,
  fanoutCollect,
  cpu: async () => {
    const c = process.cpuUsage();
    return { cpuMs: (c.user + c.system) / 1000, rss: process.memoryUsage().rss };
  },
};

process.on('message', (msg: { id: number; cmd: string; args: never }) => {
  const handler = handlers[msg.cmd];
  if (!handler) {
    process.send?.({ id: msg.id, error: `unknown command ${msg.cmd}` });
    return;
  }
  handler(msg.args).then(
    (result) => process.send?.({ id: msg.id, result }),
    (error: unknown) => process.send?.({ id: msg.id, error: error instanceof Error ? error.stack ?? error.message : String(error) }),
  );
});
process.on('SIGTERM', () => process.exit(0));
process.on('disconnect', () => process.exit(0));
