import { afterEach, describe, expect, it } from 'vitest';
import { openDatabase, type Database } from './database.js';
import { preparedQuery } from './prepared.js';

let db: Database | undefined;
afterEach(async () => {
  await db?.destroy();
  db = undefined;
});

async function withConversations(): Promise<Database> {
  db = await openDatabase({ url: 'sqlite::memory:' });
  for (const id of ['a', 'b']) {
    await db.insertInto('conversations').values({ id, kind: 'direct', direct_key: id, last_seq: 10, created_at: 1, updated_at: 1 }).execute();
  }
  return db;
}

describe('preparedQuery', () => {
  it('runs the query with each call’s values and keeps the constants written in it', async () => {
    const database = await withConversations();
    let builds = 0;
    const bump = preparedQuery((q, now: number, id: string) => {
      builds++;
      return q
        .updateTable('conversations')
        .set((eb) => ({ last_seq: eb('last_seq', '+', 5), updated_at: now }))
        .where('id', '=', id)
        .returning(['id', 'last_seq', 'updated_at']);
    });
    expect((await bump(database, 100, 'a')).rows).toEqual([{ id: 'a', last_seq: 15, updated_at: 100 }]);
    expect((await bump(database, 200, 'b')).rows).toEqual([{ id: 'b', last_seq: 15, updated_at: 200 }]);
    expect((await bump(database, 300, 'a')).rows).toEqual([{ id: 'a', last_seq: 20, updated_at: 300 }]);
    expect(builds).toBe(1);
  });

  it('runs inside a transaction, which a rollback undoes', async () => {
    const database = await withConversations();
    const touch = preparedQuery((q, now: number, id: string) => q.updateTable('conversations').set({ updated_at: now }).where('id', '=', id));
    await database
      .transaction()
      .execute(async (trx) => {
        expect(Number((await touch(trx, 7, 'a')).numAffectedRows)).toBe(1);
        throw new Error('roll back');
      })
      .catch(() => undefined);
    const row = await database.selectFrom('conversations').select('updated_at').where('id', '=', 'a').executeTakeFirstOrThrow();
    expect(row.updated_at).toBe(1);
  });

  it('refuses a query that does not use every argument', async () => {
    const database = await withConversations();
    const broken = preparedQuery((q, id: string, _unused: number) => q.selectFrom('conversations').select('id').where('id', '=', id));
    await expect(broken(database, 'a', 1)).rejects.toThrow(/argument 1 is not a parameter/);
  });
});
