import { randomUUID } from 'node:crypto';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Platform } from '../../src/context.js';
import { AdminGroupRepository } from '../../src/modules/admin/admin-groups.repository.js';
import { createAdminHooks } from '../../src/modules/admin/admin.hooks.js';
import { AdminPolicy } from '../../src/modules/admin/admin.policy.js';
import { AdminStatsService } from '../../src/modules/admin/admin-stats.service.js';
import { AdminUserRepository } from '../../src/modules/admin/admin-users.repository.js';
import { AuditRepository } from '../../src/modules/admin/audit.repository.js';
import { checkNotLastAdmin, lockAdmins, setRole } from '../../src/modules/admin/roles.js';
import { ContactRepository } from '../../src/modules/contacts/contacts.repository.js';
import { ConversationRepository, type NewMessage } from '../../src/modules/conversations/conversations.repository.js';
import { GroupRepository } from '../../src/modules/groups/groups.repository.js';
import { UserRepository } from '../../src/modules/users/users.repository.js';
import { type Database, openDatabase } from '../../src/platform/db/database.js';
import { inTransaction } from '../../src/platform/db/transaction.js';
import { MemoryPresenceStore } from '../../src/platform/presence/presence-store.js';
import { createTestDatabase, TEST_ENGINES, type TestDatabase } from '../support/databases.js';

/**
 * The administration's SQL behaves the same on SQLite, PostgreSQL and MariaDB/MySQL: the admins lock under real
 * concurrency, the audit log's filters and cursor, the day buckets of the dashboard, tombstones and unread counts,
 * list filters and the anonymisation of a deleted account.
 */
describe.each(TEST_ENGINES)('administration data layer on %s', (engine) => {
  let testDb: TestDatabase;
  let db: Database;
  let users: UserRepository;
  let contacts: ContactRepository;
  let conversations: ConversationRepository;
  let adminUsers: AdminUserRepository;
  const DAY = 86_400_000;
  const T0 = Date.UTC(2026, 0, 10, 12); // noon UTC

  beforeAll(async () => {
    testDb = await createTestDatabase(engine);
    db = await openDatabase({ url: testDb.url, poolSize: 10, sqliteSynchronous: 'NORMAL' });
    users = new UserRepository(db);
    contacts = new ContactRepository(db);
    conversations = new ConversationRepository(db);
    adminUsers = new AdminUserRepository(db);
  });
  afterAll(async () => {
    await db?.destroy();
    await testDb?.drop();
  });

  async function newUser(username: string, extra: { role?: string; created_at?: number } = {}): Promise<string> {
    const id = randomUUID();
    await users.insert({
      id,
      username,
      username_norm: username.toLowerCase(),
      display_name: username,
      password_hash: 'hash',
      created_at: extra.created_at ?? T0,
      updated_at: T0,
      last_seen_at: null,
      disabled_at: null,
      deleted_at: null,
      role: extra.role ?? 'user',
    });
    return id;
  }

  async function friends(a: string, b: string): Promise<string> {
    const id = randomUUID();
    await contacts.insertRequest({ id, from_user_id: a, to_user_id: b, note: '', created_at: T0, updated_at: T0 });
    return (await contacts.acceptRequest((await contacts.findRequest(id))!, T0 + 1))!.conversationId;
  }

  const message = (conversationId: string, senderId: string, clientMsgId: string, extra: Partial<NewMessage> = {}): NewMessage => ({
    id: randomUUID(),
    conversationId,
    senderId,
    clientMsgId,
    kind: 'text',
    text: clientMsgId,
    payload: null,
    contentHash: 'h'.repeat(64),
    createdAt: T0,
    ...extra,
  });

  it('the admins lock: two transactions demoting the only two admins at once, one of them is refused', async () => {
    const a = await newUser('lock_a', { role: 'admin' });
    const b = await newUser('lock_b', { role: 'admin' });
    await db.updateTable('users').set({ role: 'user' }).where('role', '=', 'admin').where('id', 'not in', [a, b]).execute();
    const demote = (id: string) =>
      inTransaction(db, async (trx) => {
        await lockAdmins(trx);
        await checkNotLastAdmin(trx, [id]);
        await setRole(trx, id, 'user', T0);
      }).then(
        () => 'ok',
        (error: { code?: string }) => error.code ?? String(error),
      );
    const outcome = await Promise.all([demote(a), demote(b)]);
    expect(outcome.sort()).toEqual(['LAST_ADMIN', 'ok']);
    const admins = await db.selectFrom('users').select('id').where('role', '=', 'admin').execute();
    expect(admins).toHaveLength(1);
  });

  it('audit log: filters by actor, action, target and time; newest first with a cursor that never repeats a row', async () => {
    let clock = T0;
    const audit = new AuditRepository(db, () => clock);
    const actor = await newUser('aud_actor');
    for (let i = 0; i < 7; i++) {
      clock = T0 + Math.floor(i / 2) * 1000; // pairs share a millisecond: the cursor must tie-break on id
      await inTransaction(db, (trx) =>
        audit.append(trx, { actorId: actor, via: 'api', action: i % 2 ? 'user.disabled' : 'user.enabled', targetType: 'user', targetId: `t${i % 3}`, reason: `r${i}`, details: { i } }),
      );
    }
    const seen: string[] = [];
    let cursor: string | undefined;
    do {
      const page = await audit.list({ actorId: actor, limit: 3, ...(cursor ? { cursor } : {}) });
      seen.push(...page.rows.map((r) => r.reason));
      cursor = page.nextCursor ?? undefined;
    } while (cursor);
    expect(seen).toHaveLength(7);
    expect(new Set(seen).size).toBe(7);
    expect(seen[0]).toBe('r6');
    expect((await audit.list({ actorId: actor, action: 'user.disabled' })).rows.map((r) => r.reason)).toEqual(['r5', 'r3', 'r1']);
    expect((await audit.list({ actorId: actor, targetId: 't0' })).rows.map((r) => r.reason)).toEqual(['r6', 'r3', 'r0']);
    expect((await audit.list({ actorId: actor, from: T0 + 1000, to: T0 + 2000 })).rows.map((r) => r.reason).sort()).toEqual(['r2', 'r3', 'r4', 'r5']);
    expect(JSON.parse((await audit.list({ actorId: actor, limit: 1 })).rows[0]!.details)).toEqual({ i: 6 });
  });

  it('dashboard: messages and registrations per local day, every day present, system records not counted', async () => {
    const now = Date.UTC(2026, 0, 15, 20); // 20:00 UTC on the 15th is 04:00 on the 16th in UTC+8
    const admin = await newUser('stats_admin', { role: 'admin', created_at: now - 2 * DAY });
    const other = await newUser('stats_other', { created_at: now });
    const conv = await friends(admin, other);
    const send = (id: string, createdAt: number, kind = 'text') =>
      conversations.appendMessage(message(conv, admin, id, { createdAt, kind, ...(kind === 'text' ? {} : { text: null, payload: '{}' }) }));
    await send('s1', Date.UTC(2026, 0, 15, 10)); // the 15th everywhere here
    await send('s2', Date.UTC(2026, 0, 15, 10));
    await send('s3', Date.UTC(2026, 0, 13, 10));
    await send('s4', Date.UTC(2026, 0, 13, 10), 'system');
    await send('s5', Date.UTC(2026, 0, 15, 18)); // the 15th in UTC, the 16th in UTC+8
    const platform = { db, now: () => now, presence: new MemoryPresenceStore(), log: pino({ level: 'silent' }) } as unknown as Platform;
    const service = new AdminStatsService(platform, new AdminPolicy(users), createAdminHooks());
    const utc = await service.stats({ userId: admin, sessionId: 'x' }, { days: 5, tzOffsetMin: 0 });
    expect(utc.messagesPerDay).toEqual([
      { day: '2026-01-11', count: 0 },
      { day: '2026-01-12', count: 0 },
      { day: '2026-01-13', count: 1 },
      { day: '2026-01-14', count: 0 },
      { day: '2026-01-15', count: 3 },
    ]);
    expect(utc.messagesToday).toBe(3);
    const east = await service.stats({ userId: admin, sessionId: 'x' }, { days: 5, tzOffsetMin: 480 });
    expect(east.messagesPerDay).toEqual([
      { day: '2026-01-12', count: 0 },
      { day: '2026-01-13', count: 1 },
      { day: '2026-01-14', count: 0 },
      { day: '2026-01-15', count: 2 },
      { day: '2026-01-16', count: 1 },
    ]);
    expect(utc.registrationsPerDay.at(-1)!.count).toBeGreaterThanOrEqual(1);
    expect(utc.registrationsPerDay.at(-3)!.count).toBeGreaterThanOrEqual(1);
    expect(utc.storage).toEqual({ available: false, usedBytes: null });
  });

  it('tombstones: not unread, not the preview; viewers include departed members whose range covers the seq', async () => {
    const a = await newUser('tomb_a');
    const b = await newUser('tomb_b');
    const conv = await friends(a, b);
    for (let i = 1; i <= 3; i++) await conversations.appendMessage(message(conv, a, `tomb-${i}`));
    expect(await inTransaction(db, (trx) => conversations.markRemoved(trx, conv, 3, T0 + 5))).toBe(true);
    expect(await inTransaction(db, (trx) => conversations.markRemoved(trx, conv, 3, T0 + 6))).toBe(false);
    await conversations.appendMessage(message(conv, a, 'tomb-r', { kind: 'redaction', text: null, payload: '{}', moveSenderCursor: false }));
    expect(await conversations.countUnread(conv, b, 0)).toBe(2);
    expect((await conversations.lastVisibleMessage(conv, 4))?.seq).toBe(3);
    const row = await conversations.findMessage(conv, 3);
    expect(row).toMatchObject({ text: null, payload: null, removed_at: T0 + 5 });
    expect((await conversations.members(conv)).find((m) => m.user_id === a)?.read_seq).toBe(3);
    expect((await conversations.viewersOf(db, conv, 3)).sort()).toEqual([a, b].sort());
  });

  it('lists: accounts by status, role and search (wildcards literal), groups with member counts and status', async () => {
    const tag = `ls${engine}`;
    const ids = [await newUser(`${tag}_one`), await newUser(`${tag}_two`, { role: 'admin' }), await newUser(`${tag}%x`)];
    await inTransaction(db, (trx) => adminUsers.setDisabled(trx, [ids[0]!], T0, T0));
    expect((await adminUsers.list({ q: tag })).total).toBe(3);
    expect((await adminUsers.list({ q: `${tag}%` })).rows.map((r) => r.id)).toEqual([ids[2]]);
    expect((await adminUsers.list({ q: tag.toUpperCase(), status: 'disabled' })).rows.map((r) => r.id)).toEqual([ids[0]]);
    expect((await adminUsers.list({ q: tag, role: 'admin' })).rows.map((r) => r.id)).toEqual([ids[1]]);
    expect((await adminUsers.list({ q: tag, pageSize: 2, page: 2 })).rows).toHaveLength(1);

    const groupsRepo = new GroupRepository(db);
    const gid = randomUUID();
    await groupsRepo.createGroup({ id: gid, name: `Grp ${tag}`, description: '', avatar: '', ownerId: ids[1]!, memberLimit: 10, memberIds: [ids[2]!], now: T0 });
    const adminGroups = new AdminGroupRepository(db);
    const listed = await adminGroups.list({ q: `grp ${tag}` });
    expect(listed.total).toBe(1);
    expect(Number(listed.rows[0]!.member_count)).toBe(2);
    expect((await adminGroups.list({ q: `grp ${tag}`, status: 'disabled' })).total).toBe(0);
    await groupsRepo.updateGroup(db, gid, { disabled_at: T0, disabled_reason: 'x' }, T0);
    expect((await adminGroups.list({ q: `grp ${tag}`, status: 'disabled' })).total).toBe(1);
    expect(await inTransaction(db, (trx) => groupsRepo.postingRefusal(trx, gid, ids[2]!))).toBe('GROUP_DISABLED');
    expect(await inTransaction(db, (trx) => groupsRepo.postingRefusal(trx, gid, ids[0]!))).toBe('NOT_MEMBER');
    expect((await adminGroups.members(gid, 10)).map((m) => m.role)).toEqual(['owner', 'member']);
  });

  it('anonymise: name freed (a new account may take it), sessions revoked, tokens and ties gone', async () => {
    const u = await newUser('anon_me');
    const f = await newUser('anon_friend');
    const asker = await newUser('anon_asker');
    await friends(u, f);
    await contacts.insertRequest({ id: randomUUID(), from_user_id: asker, to_user_id: u, note: '', created_at: T0, updated_at: T0 });
    await contacts.block(f, u, T0);
    const sessionId = randomUUID();
    await db.insertInto('sessions').values({ id: sessionId, user_id: u, device_name: 'd', user_agent: 'ua', ip: '1', created_at: T0, last_used_at: T0, expires_at: T0 + DAY, revoked_at: null, revoked_reason: null }).execute();
    await db.insertInto('refresh_tokens').values({ token_hash: `rt-${u}`, session_id: sessionId, created_at: T0, expires_at: T0 + DAY, used_at: null }).execute();
    const ties = await inTransaction(db, async (trx) => {
      await adminUsers.anonymise(trx, u, T0 + 9);
      return contacts.removeAllTiesOf(trx, u, T0 + 9);
    });
    expect(ties.friendIds).toEqual([f]);
    expect(ties.cancelled.map((r) => r.from_user_id)).toEqual([asker]);
    const row = await users.findById(u);
    expect(row).toMatchObject({ username: `deleted:${u}`, display_name: 'Deleted user', role: 'user', deleted_at: T0 + 9, disabled_at: T0 + 9 });
    expect(await newUser('anon_me')).toBeTruthy();
    expect(await db.selectFrom('refresh_tokens').select('token_hash').where('session_id', '=', sessionId).execute()).toEqual([]);
    expect((await db.selectFrom('sessions').select('revoked_reason').where('id', '=', sessionId).executeTakeFirst())?.revoked_reason).toBe('account_deleted');
    expect(await contacts.findFriendship(f, u)).toBeUndefined();
    expect(await contacts.blockState(f, u)).toEqual({ blockedThem: false, blockedByThem: false });
  });
});
