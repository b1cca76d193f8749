import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);
const here = dirname(fileURLToPath(import.meta.url));
const SCRIPT = resolve(here, '../../../../scripts/s3proxy.sh');

export interface S3ProxyInstance {
  endpoint: string;
  pid: number;
  /** KKCHAT_* variables that point a server at this instance, with a bucket of its own. */
  env(bucket?: string): Record<string, string>;
  stop(): Promise<void>;
}

/** A port the OS says is free right now (S3Proxy cannot bind port 0 and report it). */
export function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolvePort(port));
    });
  });
}

let bucketCounter = 0;

/**
 * Starts a real S3Proxy (filesystem backend) on a free loopback port through the project's script, in a temporary
 * directory, and stops it by its PID. The jars come from ~/.cache/kkchat/s3proxy (fetched once by the script).
 */
export async function startS3Proxy(): Promise<S3ProxyInstance> {
  const dir = mkdtempSync(join(tmpdir(), 'kkchat-s3-'));
  const pidFile = join(dir, 's3proxy.pid');
  let lastError: unknown;
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freePort();
    try {
      await run('bash', [SCRIPT, 'start', '--port', String(port), '--dir', dir, '--pid-file', pidFile], { timeout: 600_000 });
    } catch (error) {
      lastError = error; // the port was taken between the check and the start: try another one
      continue;
    }
    const pid = Number(readFileSync(pidFile, 'utf8').trim());
    const endpoint = `http://127.0.0.1:${port}`;
    return {
      endpoint,
      pid,
      env: (bucket = `kkchat-test-${process.pid}-${++bucketCounter}-${Date.now().toString(36)}`) => ({
        KKCHAT_BLOB_STORE: 's3',
        KKCHAT_S3_ENDPOINT: endpoint,
        KKCHAT_S3_BUCKET: bucket,
        KKCHAT_S3_REGION: 'us-east-1',
        KKCHAT_S3_ACCESS_KEY_ID: 'kkchat',
        KKCHAT_S3_SECRET_ACCESS_KEY: 'kkchat-dev-secret',
        KKCHAT_S3_FORCE_PATH_STYLE: 'true',
      }),
      async stop() {
        await run('bash', [SCRIPT, 'stop', '--pid-file', pidFile], { timeout: 30_000 }).catch(() => undefined);
        rmSync(dir, { recursive: true, force: true });
      },
    };
  }
  rmSync(dir, { recursive: true, force: true });
  throw new Error(`S3Proxy did not start: ${String((lastError as { stderr?: string })?.stderr ?? lastError)}`);
}
