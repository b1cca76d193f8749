import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';

/**
 * The server's command line (dist/main.js, as an operator runs it): --help, --roles, and what it says and the
 * exit code when the configuration is wrong. Build the server first (scripts/setup.sh).
 */
const MAIN = resolve(dirname(fileURLToPath(import.meta.url)), '../../dist/main.js');
const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs main.js with the given arguments and variables (on a free port with its own data directory). With
 * `untilListening`, stops it with SIGTERM once it logs "KKChat listening" and returns that line as stdout.
 */
function runMain(args: string[], env: Record<string, string> = {}, untilListening = false): Promise<Run> {
  const dataDir = mkdtempSync(join(tmpdir(), 'kkchat-cli-'));
  dirs.push(dataDir);
  const child = spawn(process.execPath, [MAIN, ...args], {
    env: { ...process.env, KKCHAT_HOST: '127.0.0.1', KKCHAT_PORT: '0', KKCHAT_DATA_DIR: dataDir, KKCHAT_LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  let listening = '';
  child.stdout.on('data', (chunk: Buffer) => {
    stdout += chunk.toString();
    const line = stdout.split('\n').find((l) => l.includes('KKChat listening'));
    if (untilListening && line && !listening) {
      listening = line;
      child.kill('SIGTERM');
    }
  });
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
  return new Promise((resolveRun) => {
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolveRun({ code, stdout: untilListening ? listening : stdout, stderr });
    });
  });
}

describe('kkchat (dist/main.js)', () => {
  it('--help prints the usage with the roles and exits 0 without starting', async () => {
    const run = await runMain(['--help']);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^Usage: kkchat \[--roles <roles>\]/m);
    for (const role of ['gateway', 'api', 'worker']) expect(run.stdout).toMatch(new RegExp(`^\\s+${role}\\s+\\S`, 'm'));
    expect(run.stdout).toContain('KKCHAT_ROLES');
    expect(run.stdout).not.toContain('KKChat listening');
  }, 60_000);

  it('--roles=<list> is taken (all three listed run as one node); --roles with a space works too', async () => {
    const run = await runMain(['--roles=worker,api,gateway'], {}, true);
    expect(run.stdout).not.toBe('');
    expect((JSON.parse(run.stdout) as { roles: string[] }).roles.sort()).toEqual(['api', 'gateway', 'worker']);
    expect(run.code).toBe(0);
    // Only some roles need Kafka: the flag was read, and the answer names what to set.
    const some = await runMain(['--roles', 'gateway,api']);
    expect(some.code).toBe(2);
    expect(some.stderr).toContain('KKCHAT_ROLES');
    expect(some.stderr).toContain('KKCHAT_KAFKA_BROKERS');
  }, 90_000);

  it('a role it does not know, or an unknown argument, exits with 2 and says what is wrong', async () => {
    const [bad, fromEnv, unknown] = await Promise.all([
      runMain(['--roles=gateway,chef']),
      runMain([], { KKCHAT_ROLES: 'everything' }),
      runMain(['--role=api']),
    ]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/KKCHAT_ROLES: all, or a comma-separated list of gateway, api, worker/);
    expect(fromEnv.code).toBe(2);
    expect(fromEnv.stderr).toContain('KKCHAT_ROLES');
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('Unknown argument "--role=api"');
  }, 60_000);

  it('an invalid variable exits with 2 naming it, before listening', async () => {
    const [run, two] = await Promise.all([
      runMain([], { KKCHAT_PORT: 'abc' }),
      runMain([], { KKCHAT_PORT: 'abc', KKCHAT_UPLOAD_PART_BYTES: '12' }),
    ]);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/^Invalid configuration:\n {2}KKCHAT_PORT: /);
    expect(run.stdout).not.toContain('KKChat listening');
    expect(two.code).toBe(2);
    expect(two.stderr).toContain('KKCHAT_PORT');
    expect(two.stderr).toContain('KKCHAT_UPLOAD_PART_BYTES');
  }, 60_000);

  it('a port another program holds: exit 1 with a sentence naming the address and KKCHAT_PORT, no stack trace', async () => {
    const other = createServer();
    await new Promise<void>((done) => other.listen(0, '127.0.0.1', done));
    const port = (other.address() as AddressInfo).port;
    try {
      const run = await runMain([], { KKCHAT_PORT: String(port) });
      expect(run.code).toBe(1);
      expect(run.stderr.trim()).toBe(
        `KKChat failed to start: 127.0.0.1:${port} is already in use by another program; stop it, or start KKChat on another port with KKCHAT_PORT (for example KKCHAT_PORT=9000)`,
      );
    } finally {
      await new Promise((done) => other.close(done));
    }
  }, 60_000);
});
