// relaxedTransaction on SQLite: commits like any transaction, relaxes fsync only for its own
// commit (statements queued meanwhile run with synchronous = FULL), restores it on failure.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { Kysely, SqliteDialect, sql } from 'kysely';
import { relaxedTransaction } from '../../src/metadata/relaxed-commit.js';
import type { Database } from '../../src/metadata/schema.js';

const FULL = 2;

async function withDb(fn: (db: Kysely<Database>) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'registry-relaxed-test-'));
  const connection = new BetterSqlite3(join(dir, 'db.sqlite'));
  connection.pragma('journal_mode = WAL');
  connection.pragma('synchronous = FULL');
  connection.exec('create table t (v integer)');
  const db = new Kysely<Database>({ dialect: new SqliteDialect({ database: connection }) });
  try {
    await fn(db);
  } finally {
    await db.destroy();
    await rm(dir, { recursive: true, force: true });
  }
}

async function synchronous(db: Kysely<Database>): Promise<number> {
  const { rows } = await sql<{ synchronous: number }>`PRAGMA synchronous`.execute(db);
  return rows[0]!.synchronous;
}

async function values(db: Kysely<Database>): Promise<number[]> {
  const { rows } = await sql<{ v: number }>`select v from t order by v`.execute(db);
  return rows.map((r) => r.v);
}

test('commits its writes, relaxed inside, FULL again afterwards', async () => {
  await withDb(async (db) => {
    let inside = 0;
    await relaxedTransaction(db, 'sqlite', async (trx) => {
      await sql`insert into t (v) values (1)`.execute(trx);
      inside = await synchronous(trx);
    });
    assert.equal(inside, 1, 'NORMAL during the relaxed transaction');
    assert.deepEqual(await values(db), [1]);
    assert.equal(await synchronous(db), FULL);
  });
});

test('a statement issued meanwhile waits and runs with synchronous = FULL', async () => {
  await withDb(async (db) => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const relaxed = relaxedTransaction(db, 'sqlite', async (trx) => {
      await sql`insert into t (v) values (1)`.execute(trx);
      await gate;
    });
    await new Promise((r) => setImmediate(r));
    const concurrent = synchronous(db);
    release();
    await relaxed;
    assert.equal(await concurrent, FULL);
  });
});

test('a failing transaction rolls back and restores FULL', async () => {
  await withDb(async (db) => {
    await assert.rejects(
      relaxedTransaction(db, 'sqlite', async (trx) => {
        await sql`insert into t (v) values (7)`.execute(trx);
        throw new Error('boom');
      }),
      /boom/,
    );
    assert.deepEqual(await values(db), []);
    assert.equal(await synchronous(db), FULL);
  });
});
