import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { freePort } from './kafka.js';

const run = promisify(execFile);
const here = dirname(fileURLToPath(import.meta.url));
const SCRIPT = resolve(here, '../../../../scripts/nginx.sh');

export interface TestNginx {
  url: string;
  wsUrl: string;
  readonly pid: number;
  stop(): Promise<void>;
}

/**
 * The real nginx (Debian's, installed by scripts/nginx.sh when missing) in front of the given node ports, with the
 * repository's sample configuration (deploy/nginx/kkchat.conf) rendered for them, as a process of this test's
 * own (started and stopped by its PID) on a free loopback port.
 */
export async function startNginx(nodePorts: number[]): Promise<TestNginx> {
  const dir = mkdtempSync(join(tmpdir(), 'kkchat-nginx-'));
  const port = await freePort();
  const ports = nodePorts.join(',');
  await run('bash', [SCRIPT, 'render', '--dir', dir, '--listen', String(port), '--gateways', ports, '--apis', ports], { timeout: 5 * 60_000 });
  const child: ChildProcess = spawn('/usr/sbin/nginx', ['-p', dir, '-c', join(dir, 'nginx.conf'), '-e', join(dir, 'error.log'), '-g', 'daemon off;'], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`nginx exited: ${stderr}`);
    const up = await fetch(`${url}/healthz`).then((r) => r.ok, () => false);
    if (up) break;
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`nginx did not answer on ${url}: ${stderr}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    url,
    wsUrl: `ws://127.0.0.1:${port}/ws`,
    get pid() {
      return child.pid ?? -1;
    },
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        await new Promise<void>((resolveExit) => {
          child.once('exit', () => resolveExit());
          child.kill('SIGTERM');
        });
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
