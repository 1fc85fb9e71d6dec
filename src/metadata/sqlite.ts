// The embedded metadata driver: one SQLite file, WAL journal, fsync on every commit so an
// acknowledged push survives a crash.
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { Kysely, SqliteDialect } from 'kysely';
import type { Database } from './schema.js';
import { SqlMetadataStore } from './sql-store.js';

export async function openSqliteStore(path: string, migrate = true): Promise<SqlMetadataStore> {
  mkdirSync(dirname(path), { recursive: true });
  const connection = new BetterSqlite3(path);
  connection.pragma('journal_mode = WAL');
  connection.pragma('synchronous = FULL');
  connection.pragma('foreign_keys = ON');
  connection.pragma('busy_timeout = 5000');
  const db = new Kysely<Database>({ dialect: new SqliteDialect({ database: connection }) });
  const store = new SqlMetadataStore(db, 'sqlite');
  if (migrate) await store.migrate();
  return store;
}
