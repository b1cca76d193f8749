import { randomUUID } from 'node:crypto';
import type { AuditAction, AuditQuery, AuditTargetType } from '@kkchat/protocol';
import type { Selectable } from 'kysely';
import { AppError } from '../../errors.js';
import type { Database } from '../../platform/db/database.js';
import type { AuditLogTable } from '../../platform/db/schema.js';
import type { Trx } from '../groups/groups.repository.js';

export type AuditRow = Selectable<AuditLogTable>;
export type AuditDetails = Record<string, string | number | boolean | null>;

/** One administrative action, as the code that performs it describes it. */
export interface AuditRecord {
  /** The admin; null for the `admin` command and the start-up bootstrap. */
  actorId: string | null;
  via: 'api' | 'cli' | 'env';
  action: AuditAction;
  targetType: AuditTargetType;
  targetId: string;
  reason: string;
  details?: AuditDetails;
}

const DEFAULT_PAGE = 50;

/**
 * The audit log. Append-only by construction: this class can insert and read, nothing else, and the API above it
 * only lists. `append` takes the transaction of the action it records, so the two commit or fail together.
 */
export class AuditRepository {
  constructor(
    private readonly db: Database,
    private readonly now: () => number,
  ) {}

  async append(trx: Trx, record: AuditRecord): Promise<void> {
    await trx
      .insertInto('audit_log')
      .values({
        id: randomUUID(),
        created_at: this.now(),
        actor_id: record.actorId,
        via: record.via,
        action: record.action,
        target_type: record.targetType,
        target_id: record.targetId,
        reason: record.reason,
        details: JSON.stringify(record.details ?? {}),
      })
      .execute();
  }

  /** Newest first, filtered; `nextCursor` continues after the last row returned (null at the end). */
  async list(query: AuditQuery): Promise<{ rows: AuditRow[]; nextCursor: string | null }> {
    const limit = query.limit ?? DEFAULT_PAGE;
    let select = this.db.selectFrom('audit_log').selectAll();
    if (query.actorId) select = select.where('actor_id', '=', query.actorId);
    if (query.action) select = select.where('action', '=', query.action);
    if (query.targetId) select = select.where('target_id', '=', query.targetId);
    if (query.from !== undefined) select = select.where('created_at', '>=', query.from);
    if (query.to !== undefined) select = select.where('created_at', '<=', query.to);
    if (query.cursor) {
      const { at, id } = decodeCursor(query.cursor);
      select = select.where((eb) => eb.or([eb('created_at', '<', at), eb.and([eb('created_at', '=', at), eb('id', '<', id)])]));
    }
    const rows = await select.orderBy('created_at', 'desc').orderBy('id', 'desc').limit(limit + 1).execute();
    const page = rows.slice(0, limit);
    const last = page.at(-1);
    return { rows: page, nextCursor: rows.length > limit && last ? encodeCursor(Number(last.created_at), last.id) : null };
  }
}

function encodeCursor(at: number, id: string): string {
  return Buffer.from(`${at}:${id}`, 'utf8').toString('base64url');
}

function decodeCursor(cursor: string): { at: number; id: string } {
  const text = Buffer.from(cursor, 'base64url').toString('utf8');
  const match = /^(\d{1,16}):([A-Za-z0-9-]{1,64})$/.exec(text);
  if (!match) throw new AppError('VALIDATION_FAILED', { fields: [{ field: 'cursor', message: 'is not a cursor this server issued' }] });
  return { at: Number(match[1]), id: match[2]! };
}
