// The scale-out metadata driver: PostgreSQL through a connection pool. Migrations run under a
// session advisory lock, so several nodes starting at once migrate exactly once.
import { Kysely, PostgresDialect, sql, type PostgresPool, type PostgresPoolClient } from 'kysely';
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
  const store = new PostgresMetadataStore(postgresDatabase(options));
  if (options.migrate !== false) await store.migrate();
  return store;
}

/** The Kysely handle over a connection pool, as the store uses it (exported for its tests). */
export function postgresDatabase(options: Omit<PostgresOptions, 'migrate'>): Kysely<Database> {
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
  return new Kysely<Database>({ dialect: new PostgresDialect({ pool: closingOnTimeout(pool) }) });
}

/**
 * A connection whose query timed out on our side is closed at once, never reused. The server
 * may still run that query, and pg drops the statements queued behind it (a transaction's
 * ROLLBACK among them) when they time out in turn: back in the pool, such a connection would
 * sit inside an open transaction, where later writes are acknowledged but never committed.
 */
function closingOnTimeout(pool: pg.Pool): PostgresPool {
  return {
    async connect() {
      const client = await pool.connect();
      const query = (text: string, parameters: ReadonlyArray<unknown>) =>
        client.query(text, parameters as unknown[]).catch((err: unknown) => {
          if (err instanceof Error && err.message === 'Query read timeout') void client.end().catch(() => undefined);
          throw err;
        });
      // Only the (sql, parameters) form: the store never streams with cursors.
      return { query, release: () => client.release() } as unknown as PostgresPoolClient;
    },
    end: () => pool.end(),
  };
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
