import type { Kysely } from 'kysely';

/**
 * `conversations.state_version`: bumped in every transaction that changes what the per-process caches of a
 * conversation hold (a group's members, roles, mutes and settings; a one-to-one pair's friendship and blocks).
 * A send's storing transaction reads it back with the seq and refuses to commit against an older cached state,
 * so a stale cache on any node can never let a removed member post or a blocked user reach the blocker.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('conversations').addColumn('state_version', 'bigint', (c) => c.notNull().defaultTo(0)).execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('conversations').dropColumn('state_version').execute();
}
