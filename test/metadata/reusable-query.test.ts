// reusableQuery: the compiled SQL is reused with each call's arguments, and a builder whose
// parameters are not exactly its arguments is refused instead of silently running wrong SQL.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import BetterSqlite3 from 'better-sqlite3';
import { Kysely, SqliteDialect } from 'kysely';
import { reusableQuery } from '../../src/metadata/reusable-query.js';
import type { Database } from '../../src/metadata/schema.js';

function memoryDb(): Kysely<Database> {
  const connection = new BetterSqlite3(':memory:');
  connection.exec("create table tags (repository text, name text, manifest_digest text); insert into tags values ('a', 'v1', 'd1'), ('a', 'v2', 'd2'), ('b', 'v1', 'd3')");
  return new Kysely<Database>({ dialect: new SqliteDialect({ database: connection }) });
}

test('each call runs with its own arguments', async () => {
  const db = memoryDb();
  const byTag = reusableQuery(
    () => db,
    (repository: string, tag: string) => db.selectFrom('tags').select('manifest_digest').where('repository', '=', repository).where('name', '=', tag),
  );
  assert.deepEqual(await byTag('a', 'v1'), [{ manifest_digest: 'd1' }]);
  assert.deepEqual(await byTag('a', 'v2'), [{ manifest_digest: 'd2' }]);
  assert.deepEqual(await byTag('b', 'v1'), [{ manifest_digest: 'd3' }]);
  assert.deepEqual(await byTag('b', 'v2'), []);
  await db.destroy();
});

test('a builder with parameters other than its arguments is refused', async () => {
  const db = memoryDb();
  const withConstant = reusableQuery(
    () => db,
    (repository: string) => db.selectFrom('tags').select('name').where('repository', '=', repository).where('name', '!=', 'v2'),
  );
  await assert.rejects(withConstant('a'), /not exactly its arguments/);
  const swapped = reusableQuery(
    () => db,
    (repository: string, tag: string) => db.selectFrom('tags').select('name').where('name', '=', tag).where('repository', '=', repository),
  );
  await assert.rejects(swapped('a', 'v1'), /not exactly its arguments/);
  await db.destroy();
});
