import { sql, type Kysely } from 'kysely';
import { engineOf } from '../dialects.js';

/** Shards of the outbox: each is relayed by one node at a time, so a conversation's events keep their order. */
export const OUTBOX_SHARDS = 8;

/**
 * Cluster mode (issue 5). `outbox`: events written in the same transaction as the message they announce and
 * relayed to Kafka by the workers (docs/architecture.md "Cluster"); the id orders the events of one shard.
 * `outbox_leases`: which relay owns each shard until when. `outbox_relays`: the relays alive, so shards can be
 * spread evenly. `live_calls`: the call each user is in and the node that holds its state, shared by every node
 * (a user is in at most one call, whichever node their devices use).
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  const engine = engineOf(db);
  // An increasing id per row: AUTOINCREMENT (SQLite), AUTO_INCREMENT (MySQL), a sequence (PostgreSQL).
  let outbox = db.schema.createTable('outbox');
  outbox =
    engine === 'postgres'
      ? outbox.addColumn('id', 'bigserial', (c) => c.primaryKey())
      : outbox.addColumn('id', engine === 'sqlite' ? 'integer' : 'bigint', (c) => c.primaryKey().autoIncrement());
  await outbox
    .addColumn('shard', 'integer', (c) => c.notNull())
    .addColumn('event_key', 'varchar(140)', (c) => c.notNull())
    .addColumn('payload', 'text', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('outbox_shard_idx').on('outbox').columns(['shard', 'id']).execute();

  await db.schema
    .createTable('outbox_leases')
    .addColumn('shard', 'integer', (c) => c.primaryKey())
    .addColumn('owner', 'varchar(140)')
    .addColumn('expires_at', 'bigint', (c) => c.notNull().defaultTo(0))
    .execute();
  const shards = Array.from({ length: OUTBOX_SHARDS }, (_, shard) => sql`(${shard}, NULL, 0)`);
  await sql`INSERT INTO outbox_leases (shard, owner, expires_at) VALUES ${sql.join(shards)}`.execute(db);

  await db.schema
    .createTable('outbox_relays')
    .addColumn('relay_id', 'varchar(140)', (c) => c.primaryKey())
    .addColumn('seen_at', 'bigint', (c) => c.notNull())
    .execute();

  await db.schema
    .createTable('live_calls')
    .addColumn('user_id', 'varchar(64)', (c) => c.primaryKey())
    .addColumn('call_id', 'varchar(64)', (c) => c.notNull())
    .addColumn('owner', 'varchar(140)', (c) => c.notNull())
    .addColumn('expires_at', 'bigint', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('live_calls_call_idx').on('live_calls').column('call_id').execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  for (const table of ['live_calls', 'outbox_relays', 'outbox_leases', 'outbox']) await db.schema.dropTable(table).execute();
}
