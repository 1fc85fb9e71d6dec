// The scale-out metadata driver: PostgreSQL through a connection pool. Migrations run under a
// session advisory lock, so several nodes starting at once migrate exactly once.
import { Kysely, PostgresDialect, sql } from 'kysely';
import pg from 'pg';
import type { Database } from './schema.js';
import { SqlMetadataStore } from './sql-store.js';

/** Arbitrary constant naming the registry's migration lock. */
const MIGRATION_LOCK_KEY = 0x0c1_2e61;

export interface PostgresOptions {
  url: string;
  poolSize: number;
  connectTimeoutMs?: number;
  queryTimeoutMs?: number;
  /** Run migrations at open (the default); `registry migrate` runs them explicitly. */
  migrate?: boolean;
}

export async function openPostgresStore(options: PostgresOptions): Promise<SqlMetadataStore> {
  const pool = new pg.Pool({
    connectionString: options.url,
    max: options.poolSize,
    connectionTimeoutMillis: options.connectTimeoutMs ?? 5_000,
    idleTimeoutMillis: 30_000,
    // Fail fast instead of hanging when the server stops answering.
    query_timeout: options.queryTimeoutMs ?? 10_000,
    // A connection whose server vanished without a word (a partition) is found and dropped.
    keepAlive: true,
    keepAliveInitialDelayMillis: 10_000,
  });
  // A client losing its server must not crash the process: an idle one is replaced by the pool,
  // a checked-out one fails its query (and is discarded when released). Without a listener on
  // the client itself, a connection dropped while a transaction holds it between statements
  // is an unhandled 'error' event.
  pool.on('error', () => undefined);
  pool.on('connect', (client) => client.on('error', () => undefined));
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
  const store = new PostgresMetadataStore(db);
  if (options.migrate !== false) await store.migrate();
  return store;
}

class PostgresMetadataStore extends SqlMetadataStore {
  constructor(db: Kysely<Database>) {
    super(db, 'postgres');
  }

  override async migrate(): Promise<string[]> {
    return this.db.connection().execute(async (conn) => {
      await sql`select pg_advisory_lock(${MIGRATION_LOCK_KEY})`.execute(conn);
      try {
        return await this.migrateWith(conn);
      } finally {
        await sql`select pg_advisory_unlock(${MIGRATION_LOCK_KEY})`.execute(conn);
      }
    });
  }
}
