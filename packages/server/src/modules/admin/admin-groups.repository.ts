import { sql } from 'kysely';
import { ADMIN_LIMITS, type AdminGroupListQuery } from '@kkchat/protocol';
import type { Database } from '../../platform/db/database.js';
import { escapeLike } from '../users/users.repository.js';

/** All SQL of the admin API about groups and conversations. */
export class AdminGroupRepository {
  constructor(private readonly db: Database) {}

  private base() {
    return this.db
      .selectFrom('groups as g')
      .innerJoin('conversations as c', 'c.id', 'g.conversation_id')
      .select([
        'g.conversation_id',
        'g.name',
        'g.description',
        'g.owner_id',
        'g.created_at',
        'g.disabled_at',
        'g.disabled_reason',
        'g.dismissed_at',
        'c.updated_at',
        'c.last_seq',
      ])
      .select((eb) =>
        eb
          .selectFrom('conversation_members as m')
          .select((inner) => inner.fn.countAll().as('n'))
          .whereRef('m.conversation_id', '=', 'g.conversation_id')
          .where('m.left_at', 'is', null)
          .as('member_count'),
      );
  }

  /** One page of groups, most recently active first, with the total matching the filters. */
  async list(query: AdminGroupListQuery) {
    const pageSize = query.pageSize ?? ADMIN_LIMITS.pageSizeDefault;
    const page = query.page ?? 1;
    let filtered = this.db.selectFrom('groups as g');
    switch (query.status) {
      case 'active':
        filtered = filtered.where('g.disabled_at', 'is', null).where('g.dismissed_at', 'is', null);
        break;
      case 'disabled':
        filtered = filtered.where('g.disabled_at', 'is not', null).where('g.dismissed_at', 'is', null);
        break;
      case 'dismissed':
        filtered = filtered.where('g.dismissed_at', 'is not', null);
        break;
      default:
        break;
    }
    const pattern = query.q ? `%${escapeLike(query.q.toLowerCase())}%` : null;
    if (pattern) filtered = filtered.where(sql<boolean>`lower(g.name) LIKE ${pattern} ESCAPE '!'`);
    const ids = filtered.select('g.conversation_id');
    const [rows, count] = await Promise.all([
      this.base()
        .where('g.conversation_id', 'in', ids)
        .orderBy('c.updated_at', 'desc')
        .orderBy('g.conversation_id')
        .limit(pageSize)
        .offset((page - 1) * pageSize)
        .execute(),
      filtered.select((eb) => eb.fn.countAll().as('n')).executeTakeFirst(),
    ]);
    return { rows, total: Number(count?.n ?? 0) };
  }

  find(conversationId: string) {
    return this.base().where('g.conversation_id', '=', conversationId).executeTakeFirst();
  }

  /** Current members, owner and admins first, then by joining time; at most `limit`. */
  members(conversationId: string, limit: number) {
    return this.db
      .selectFrom('conversation_members')
      .select(['user_id', 'role', 'joined_at'])
      .where('conversation_id', '=', conversationId)
      .where('left_at', 'is', null)
      .orderBy(sql`case role when 'owner' then 0 when 'admin' then 1 else 2 end`)
      .orderBy('joined_at')
      .limit(limit)
      .execute();
  }

  /** The newest `limit` messages below `before`, oldest first, and whether older ones exist. */
  async page(conversationId: string, before: number, limit: number) {
    const rows = await this.db
      .selectFrom('messages')
      .selectAll()
      .where('conversation_id', '=', conversationId)
      .where('seq', '<', before)
      .orderBy('seq', 'desc')
      .limit(limit + 1)
      .execute();
    return { rows: rows.slice(0, limit).reverse(), hasMore: rows.length > limit };
  }
}

export type AdminGroupRow = NonNullable<Awaited<ReturnType<AdminGroupRepository['find']>>>;
