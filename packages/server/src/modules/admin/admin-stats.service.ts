import { sql } from 'kysely';
import { type AdminStats, type AdminStatsQuery, type DayCount } from '@kkchat/protocol';
import type { Actor, Platform } from '../../context.js';
import { integerDivide } from '../../platform/db/dialects.js';
import { REDACTION_KIND } from '../conversations/conversations.repository.js';
import type { AdminHooks } from './admin.hooks.js';
import type { AdminPolicy } from './admin.policy.js';
import { countActiveAdmins } from './roles.js';

const DAY_MS = 86_400_000;
/** Records the server writes into timelines; not messages people sent. */
const NOT_USER_MESSAGES = ['system', REDACTION_KIND, 'call'];
/** A group counts as active with a message in this window. */
const ACTIVE_GROUP_WINDOW_MS = 7 * DAY_MS;

/**
 * The admin dashboard's figures (issue 7). Each series is one grouped range query over an index
 * (`messages(created_at)`, the users table), with days in the admin's time zone.
 */
export class AdminStatsService {
  constructor(
    private readonly platform: Platform,
    private readonly policy: AdminPolicy,
    private readonly hooks: AdminHooks,
  ) {}

  async stats(actor: Actor, query: AdminStatsQuery): Promise<AdminStats> {
    await this.policy.checkAdmin(actor);
    const days = query.days ?? 30;
    const offsetMs = (query.tzOffsetMin ?? 0) * 60_000;
    const now = this.platform.now();
    // Local midnight today, as a UTC instant, then the first day of the series.
    const todayStart = Math.floor((now + offsetMs) / DAY_MS) * DAY_MS - offsetMs;
    const start = todayStart - (days - 1) * DAY_MS;
    const [users, onlineNow, messagesPerDay, registrationsPerDay, groups, storage] = await Promise.all([
      this.userCounts(),
      this.platform.presence.countOnline(),
      this.perDay('messages', start, days, offsetMs),
      this.perDay('users', start, days, offsetMs),
      this.groupCounts(now),
      this.storage(),
    ]);
    return { generatedAt: now, users, onlineNow, messagesToday: messagesPerDay.at(-1)?.count ?? 0, messagesPerDay, registrationsPerDay, groups, storage };
  }

  private async userCounts(): Promise<AdminStats['users']> {
    const db = this.platform.db;
    const [registered, disabled, admins] = await Promise.all([
      db.selectFrom('users').select((eb) => eb.fn.countAll().as('n')).where('deleted_at', 'is', null).executeTakeFirst(),
      db
        .selectFrom('users')
        .select((eb) => eb.fn.countAll().as('n'))
        .where('deleted_at', 'is', null)
        .where('disabled_at', 'is not', null)
        .executeTakeFirst(),
      countActiveAdmins(db),
    ]);
    return { registered: Number(registered?.n ?? 0), disabled: Number(disabled?.n ?? 0), admins };
  }

  /** Rows per local day from `start` for `days` days, every day present (zero when nothing happened). */
  private async perDay(table: 'messages' | 'users', start: number, days: number, offsetMs: number): Promise<DayCount[]> {
    const db = this.platform.db;
    // The start is inlined as an integer literal (it is computed here, never input): bound as a parameter,
    // SQLite would take it as a real and the division would not truncate.
    const bucket = integerDivide(db, sql`created_at - ${sql.lit(Math.trunc(start))}`, DAY_MS);
    let query = db
      .selectFrom(table)
      .select([bucket.as('bucket'), (eb) => eb.fn.countAll().as('n')])
      .where('created_at', '>=', start)
      .groupBy(bucket);
    if (table === 'messages') query = query.where('kind', 'not in', NOT_USER_MESSAGES);
    const rows = await query.execute();
    const counts = new Map(rows.map((r) => [Number(r.bucket), Number(r.n)]));
    return Array.from({ length: days }, (_, i) => ({ day: localDay(start + i * DAY_MS, offsetMs), count: counts.get(i) ?? 0 }));
  }

  private async groupCounts(now: number): Promise<AdminStats['groups']> {
    const db = this.platform.db;
    const [total, disabled, active] = await Promise.all([
      db.selectFrom('groups').select((eb) => eb.fn.countAll().as('n')).where('dismissed_at', 'is', null).executeTakeFirst(),
      db
        .selectFrom('groups')
        .select((eb) => eb.fn.countAll().as('n'))
        .where('dismissed_at', 'is', null)
        .where('disabled_at', 'is not', null)
        .executeTakeFirst(),
      db
        .selectFrom('messages as m')
        .innerJoin('groups as g', 'g.conversation_id', 'm.conversation_id')
        .select((eb) => eb.fn.count('m.conversation_id').distinct().as('n'))
        .where('m.created_at', '>=', now - ACTIVE_GROUP_WINDOW_MS)
        .where('m.kind', 'not in', NOT_USER_MESSAGES)
        .where('g.dismissed_at', 'is', null)
        .where('g.disabled_at', 'is', null)
        .executeTakeFirst(),
    ]);
    return { total: Number(total?.n ?? 0), active: Number(active?.n ?? 0), disabled: Number(disabled?.n ?? 0) };
  }

  private async storage(): Promise<AdminStats['storage']> {
    if (!this.hooks.storageUsage) return { available: false, usedBytes: null };
    return { available: true, usedBytes: await this.hooks.storageUsage() };
  }
}

/** `YYYY-MM-DD` of the local day that starts at `dayStart` (a UTC instant). */
function localDay(dayStart: number, offsetMs: number): string {
  return new Date(dayStart + offsetMs).toISOString().slice(0, 10);
}
