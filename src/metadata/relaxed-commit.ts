// Transactions for batched statistics (pull counts, pull audit records) whose commit does not
// wait for the disk. On SQLite every commit runs on the event loop, and with synchronous = FULL
// it fsyncs the WAL: a few ms on a quiet disk, tens of ms on a busy one, during which no request
// is served (bench: manifest GET p99 at 64 connections, docs/performance.md). Such a commit can
// be lost on power loss or an OS crash, never on a registry crash, and never corrupts the
// database: the WAL is synced at the next durable commit or checkpoint.
import { sql, type Kysely, type Transaction } from 'kysely';
import type { Database } from './schema.js';
import type { SqlDialect } from './migrations/index.js';

export async function relaxedTransaction<T>(db: Kysely<Database>, dialect: SqlDialect, work: (trx: Transaction<Database>) => Promise<T>): Promise<T> {
  if (dialect === 'postgres') {
    return db.transaction().execute(async (trx) => {
      await sql`SET LOCAL synchronous_commit = off`.execute(trx);
      return work(trx);
    });
  }
  // The connection is held throughout, so no other statement runs (or commits) while the
  // setting is relaxed: pushes keep their fsync.
  return db.connection().execute(async (conn) => {
    await sql`PRAGMA synchronous = NORMAL`.execute(conn);
    try {
      return await conn.transaction().execute(work);
    } finally {
      await sql`PRAGMA synchronous = FULL`.execute(conn);
    }
  });
}
