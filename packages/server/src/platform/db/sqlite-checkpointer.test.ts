import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import SQLite from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { startCheckpointer } from './sqlite-checkpointer.js';

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function openWal(): { db: SQLite.Database; path: string } {
  const dir = mkdtempSync(join(tmpdir(), 'kkchat-ckpt-'));
  dirs.push(dir);
  const path = join(dir, 'db.sqlite');
  const db = new SQLite(path);
  db.pragma('journal_mode = WAL');
  db.exec('create table t (id integer primary key, body text not null)');
  return { db, path };
}

function writeMiB(db: SQLite.Database, mib: number): void {
  const insert = db.prepare('insert into t (body) values (?)');
  const body = 'x'.repeat(1000);
  db.transaction(() => {
    for (let i = 0; i < mib * 1024; i++) insert.run(body);
  })();
}

async function until(check: () => boolean, timeoutMs = 3000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe('SQLite checkpointer', () => {
  it('copies committed pages into the database file from its own thread, while the writer never checkpoints', async () => {
    const { db, path } = openWal();
    const checkpointer = startCheckpointer(db, path, 'FULL', (error) => {
      throw error;
    });
    try {
      // 4 MiB is ~1,000 pages: below the writer's backstop (10,000), so only the worker can move them.
      writeMiB(db, 4);
      expect(statSync(path).size).toBeLessThan(1024 * 1024);
      await until(() => statSync(path).size > 4 * 1024 * 1024);
      expect(db.prepare('select count(*) as n from t').get()).toEqual({ n: 4096 });
    } finally {
      checkpointer.stop();
      db.close();
    }
  });

  it('stops at once and leaves the writer able to close and reopen the file with everything in it', () => {
    const { db, path } = openWal();
    const checkpointer = startCheckpointer(db, path, 'NORMAL', () => undefined);
    writeMiB(db, 1);
    const started = Date.now();
    checkpointer.stop();
    checkpointer.stop();
    expect(Date.now() - started).toBeLessThan(2000);
    db.close();
    const reopened = new SQLite(path);
    expect(reopened.prepare('select count(*) as n from t').get()).toEqual({ n: 1024 });
    reopened.close();
  });
});
