import { randomBytes } from 'node:crypto';
import { KKChatClient } from '@kkchat/client';
import { startS3Proxy, type S3ProxyInstance } from '../../../packages/server/test/support/s3proxy.js';
import { cpuMs, rssAfterGc, rssBytes, startKKChat, type ServerHandle } from '../procs.js';
import type { Row, ScenarioResult } from '../report.js';
import { isCluster, MIB, type Ctx } from './common.js';

/** How often the server's resident memory is sampled during a transfer. */
const RSS_SAMPLE_MS = 10;

interface Transfer {
  store: 'local' | 's3';
  sizeMiB: number;
  uploadMiBs: number;
  downloadMiBs: number;
  baselineRssMiB: number;
  peakRssUploadMiB: number;
  peakRssDownloadMiB: number;
  serverCpuMsPerMiB: number;
}

/** Samples the RSS of `pid` until stopped; returns the highest value seen. */
function rssPeak(pid: number): { stop(): number } {
  let peak = rssBytes(pid);
  const timer = setInterval(() => {
    try {
      peak = Math.max(peak, rssBytes(pid));
    } catch {
      // the process went away; the transfer will fail and say so
    }
  }, RSS_SAMPLE_MS);
  return {
    stop() {
      clearInterval(timer);
      return Math.max(peak, rssBytes(pid));
    },
  };
}

/** Reads a response body to the end without keeping it (the bench process's own memory stays flat too). */
async function drain(response: Response): Promise<number> {
  let bytes = 0;
  for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) bytes += chunk.byteLength;
  return bytes;
}

async function measure(server: ServerHandle, client: KKChatClient, store: 'local' | 's3', sizeMiB: number): Promise<Transfer> {
  const body = randomBytes(sizeMiB * MIB);
  const baseline = await rssAfterGc(server.pids, 600);
  const cpu0 = cpuMs(server.pids[0]);
  let sampler = rssPeak(server.pids[0]);
  let t0 = performance.now();
  const file = await client.files.upload(new Uint8Array(body.buffer, body.byteOffset, body.byteLength), { name: `bench-${sizeMiB}.bin` });
  const uploadMs = performance.now() - t0;
  const peakUpload = sampler.stop();
  if (file.size !== body.length) throw new Error(`uploaded ${file.size} of ${body.length} bytes`);

  await rssAfterGc(server.pids, 600);
  const [link] = await client.files.links([file.id]);
  sampler = rssPeak(server.pids[0]);
  t0 = performance.now();
  const response = await fetch(link!.url);
  const received = await drain(response);
  const downloadMs = performance.now() - t0;
  const peakDownload = sampler.stop();
  if (received !== body.length) throw new Error(`downloaded ${received} of ${body.length} bytes`);
  const cpu = cpuMs(server.pids[0]) - cpu0;
  return {
    store,
    sizeMiB,
    uploadMiBs: sizeMiB / (uploadMs / 1000),
    downloadMiBs: sizeMiB / (downloadMs / 1000),
    baselineRssMiB: baseline / MIB,
    peakRssUploadMiB: peakUpload / MIB,
    peakRssDownloadMiB: peakDownload / MIB,
    serverCpuMsPerMiB: cpu / (2 * sizeMiB),
  };
}

/**
 * Upload and download throughput of one file per size on each blob store (local disk, S3 through a real S3Proxy
 * on loopback), through the SDK's resumable upload and a signed-link download, with the server's peak resident
 * memory during each transfer. Streaming means the peak must not grow with the file size.
 */
export async function filesScenario(ctx: Ctx): Promise<ScenarioResult> {
  const { opts } = ctx;
  const log = opts.log;
  const base: ScenarioResult = { name: 'files', title: 'File upload and download', params: {}, rows: [], notes: [] };
  if (!opts.targets.includes('kkchat')) return { ...base, skipped: 'skipped: needs the kkchat target' };
  if (isCluster(ctx)) return { ...base, skipped: 'skipped in cluster mode: the files scenario measures one process (run it with --mode=embedded)' };
  const user = ctx.pool!.users[0]!;
  const transfers: Transfer[] = [];
  let s3: S3ProxyInstance | null = null;
  try {
    for (const store of opts.fileStores) {
      let env: Record<string, string> = { KKCHAT_UPLOAD_MAX_BYTES: String((Math.max(...opts.fileSizesMiB) + 1) * MIB) };
      if (store === 's3') {
        s3 ??= await startS3Proxy();
        env = { ...env, ...s3.env() };
      }
      const server = await startKKChat({ dataDir: ctx.kkDataDir!, heartbeatMs: opts.heartbeatMs, synchronous: 'NORMAL', env });
      try {
        const client = new KKChatClient({ baseUrl: server.url, validateResponses: false });
        await client.auth.login({ username: user.username, password: user.password });
        for (const sizeMiB of opts.fileSizesMiB) {
          const t = await measure(server, client, store, sizeMiB);
          transfers.push(t);
          log(
            `  ${store} ${sizeMiB} MiB: upload ${t.uploadMiBs.toFixed(0)} MiB/s, download ${t.downloadMiBs.toFixed(0)} MiB/s, ` +
              `server RSS ${t.baselineRssMiB.toFixed(0)} MiB at rest, peak ${t.peakRssUploadMiB.toFixed(0)} (upload) / ${t.peakRssDownloadMiB.toFixed(0)} (download) MiB`,
          );
        }
        await client.auth.logout();
      } finally {
        await server.stop();
      }
    }
  } finally {
    await s3?.stop();
  }
  const row = (metric: string, unit: string, better: Row['better'], value: number, digits = 0): Row => ({ metric, unit, better, kkchat: value, ws: null, sio: null, digits });
  const rows = transfers.flatMap((t) => [
    row(`${t.store} ${t.sizeMiB} MiB upload`, 'MiB/s', 'higher', t.uploadMiBs),
    row(`${t.store} ${t.sizeMiB} MiB download`, 'MiB/s', 'higher', t.downloadMiBs),
    row(`${t.store} ${t.sizeMiB} MiB peak server RSS, upload`, 'MiB', 'lower', t.peakRssUploadMiB),
    row(`${t.store} ${t.sizeMiB} MiB peak server RSS, download`, 'MiB', 'lower', t.peakRssDownloadMiB),
    row(`${t.store} ${t.sizeMiB} MiB server CPU per MiB moved`, 'ms', 'lower', t.serverCpuMsPerMiB, 1),
  ]);
  return {
    name: 'files',
    title: 'File upload and download (KKChat only)',
    params: { sizesMiB: opts.fileSizesMiB, stores: opts.fileStores, partMiB: 8, rssSampleMs: RSS_SAMPLE_MS },
    rows,
    notes: [
      'One file per size, uploaded through the SDK (create, 8 MiB parts in order, complete: sniff, sha-256, no thumbnail for random bytes) and downloaded through a signed link, client and server on this machine. S3 is S3Proxy 2.9 with its filesystem backend on loopback, so the S3 figures include its own copy into its files.',
      `Server RSS at rest (after GC) before each transfer: ${transfers.map((t) => `${t.store} ${t.sizeMiB} MiB ${t.baselineRssMiB.toFixed(0)} MiB`).join(', ')}. Flat means the peak does not grow with the file size.`,
      'The relays have no file transfer: no baseline.',
    ],
    series: {
      title: 'Peak server RSS by file size',
      xLabel: 'file size (MiB)',
      yLabel: 'peak RSS (MiB)',
      lines: opts.fileStores.flatMap((store) => [
        { label: `${store} upload`, points: transfers.filter((t) => t.store === store).map((t) => [t.sizeMiB, t.peakRssUploadMiB] as [number, number]) },
        { label: `${store} download`, points: transfers.filter((t) => t.store === store).map((t) => [t.sizeMiB, t.peakRssDownloadMiB] as [number, number]) },
      ]),
    },
    raw: transfers,
  };
}
