// A PostgreSQL backend that stops answering in the middle of a transaction (its process frozen
// with SIGSTOP, as in a hung server): the transaction fails on the query timeout, and after the
// server answers again every acknowledged write is committed, seen from another connection.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { sql, type Kysely } from 'kysely';
import pg from 'pg';
import { postgresDatabase } from '../../src/metadata/postgres.js';
import type { Database } from '../../src/metadata/schema.js';
import { freshPostgresDatabase } from '../helpers/services.js';

const QUERY_TIMEOUT_MS = 400;

let database: { url: string; drop(): Promise<void> };
let db: Kysely<Database>;
let observer: pg.Client;
let frozen: number | undefined;

before(async () => {
  database = await freshPostgresDatabase();
  // One connection, so every statement of the test goes to the same server process.
  db = postgresDatabase({ url: database.url, poolSize: 1, queryTimeoutMs: QUERY_TIMEOUT_MS });
  await sql`create table notes (id integer primary key)`.execute(db);
  observer = new pg.Client({ connectionString: database.url });
  await observer.connect();
});

after(async () => {
  if (frozen) process.kill(frozen, 'SIGCONT');
  await observer?.end();
  await db?.destroy();
  await database?.drop();
});

test('a transaction cut off by a query timeout leaves no open transaction behind for later writes', async () => {
  const { rows } = await sql<{ pid: number }>`select pg_backend_pid() as pid`.execute(db);
  const backend = rows[0]!.pid;
  await assert.rejects(
    db.transaction().execute(async (trx) => {
      await sql`insert into notes (id) values (1)`.execute(trx);
      process.kill(backend, 'SIGSTOP');
      frozen = backend;
      await sql`insert into notes (id) values (2)`.execute(trx);
    }),
    // The statement's timeout, or the rollback's failure on the connection it closed.
    /Query read timeout|not queryable|Connection terminated/,
  );
  // The rollback queued behind the hung statement times out as well; then the server wakes up.
  await new Promise((r) => setTimeout(r, QUERY_TIMEOUT_MS * 3));
  process.kill(backend, 'SIGCONT');
  frozen = undefined;

  // An acknowledged write after the fault must be committed, not left in the dead transaction.
  await sql`insert into notes (id) values (3)`.execute(db);
  const seen = await observer.query<{ id: number }>('select id from notes order by id');
  assert.deepEqual(seen.rows.map((r) => r.id), [3], 'only the write made after the fault, committed');
  const stuck = await observer.query(`select 1 from pg_stat_activity where datname = current_database() and state like 'idle in transaction%'`);
  assert.equal(stuck.rowCount, 0, 'no connection left idle in a transaction');
});
