// The metadata half of backup and restore on real databases: the catalog both dialects
// report (every table carried, each with a primary key to page by, every column type known),
// and rows round-tripping SQLite -> PostgreSQL -> SQLite exactly: binary manifest content,
// bigints beyond 2^53, nulls, identity ids (and the sequence moved past them).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { sql } from 'kysely';
import { openSqliteStore } from '../../src/metadata/sqlite.js';
import { openPostgresStore } from '../../src/metadata/postgres.js';
import type { SqlMetadataStore } from '../../src/metadata/sql-store.js';
import { FilesystemBlobStore } from '../../src/storage/filesystem.js';
import { insertionOrder, readCatalog } from '../../src/backup/catalog.js';
import { runBackup, TRANSIENT_TABLES } from '../../src/backup/backup.js';
import { runRestore } from '../../src/backup/restore.js';
import { DirectoryTarget } from '../../src/backup/target.js';
import { makeTempDir } from '../helpers/registry.js';
import { freshPostgresDatabase } from '../helpers/services.js';

const ALL_BYTES = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
const BIG = '9007199254740993'; // 2^53 + 1: not a safe JavaScript number
const MANY = 700;

/** The quota's limit as exact text (better-sqlite3 reads integers beyond 2^53 rounded). */
const bigText = sql<string>`cast(limit_bytes as text)`.as('big');

async function seed(store: SqlMetadataStore): Promise<void> {
  const { db } = store.connection();
  await db.insertInto('repositories').values({ name: 'a/b', created_at: 1 }).execute();
  await db
    .insertInto('manifests')
    .values({ repository: 'a/b', digest: 'sha256:' + 'c'.repeat(64), media_type: 'x', artifact_type: null, subject_digest: null, annotations: null, size: 256, content: ALL_BYTES, created_at: 2 })
    .execute();
  await db.insertInto('tags').values({ repository: 'a/b', name: 'v1', manifest_digest: 'sha256:' + 'c'.repeat(64), updated_at: 3 }).execute();
  await db.insertInto('namespace_quotas').values({ namespace: 'a', limit_bytes: BIG as unknown as number, limit_repositories: null, updated_at: 4 }).execute();
  for (const actor of ['x', 'y', 'z']) await store.access().appendAudit({ actor, action: 'push', source: null, repository: 'a/b', reference: null, digest: null, detail: { n: 1 } });
  // Enough rows for several pages of the dump, keyed by an integer and by text.
  const keys = Array.from({ length: MANY }, (_, i) => `key-${String(i).padStart(4, '0')}`);
  await db.insertInto('settings').values(keys.map((key) => ({ key, value: `value of ${key}` }))).execute();
  await store.access().appendAuditBatch(keys.map((key) => ({ actor: 'many', action: 'pull', source: null, repository: 'a/b', reference: key, digest: null, detail: null })));
}

async function check(store: SqlMetadataStore): Promise<void> {
  const { db } = store.connection();
  const manifest = await db.selectFrom('manifests').select(['content', 'size']).executeTakeFirstOrThrow();
  assert.ok(Buffer.from(manifest.content).equals(ALL_BYTES), 'binary content byte-identical');
  assert.equal(Number(manifest.size), 256);
  const quota = await db.selectFrom('namespace_quotas').select([bigText, 'limit_repositories']).executeTakeFirstOrThrow();
  assert.equal(quota.big, BIG);
  assert.equal(quota.limit_repositories, null);
  assert.equal((await db.selectFrom('tags').select('name').executeTakeFirstOrThrow()).name, 'v1');
  // Ids came along, and a new event gets the next one (on PostgreSQL: the identity sequence moved).
  await store.access().appendAudit({ actor: 'w', action: 'push', source: null, repository: null, reference: null, digest: null, detail: null });
  const ids = (await db.selectFrom('audit').select(['id', 'actor']).orderBy('id').execute()).map((r) => `${Number(r.id)}:${r.actor}`);
  assert.equal(ids.length, MANY + 4);
  assert.deepEqual(ids.slice(0, 3), ['1:x', '2:y', '3:z']);
  assert.deepEqual(ids.slice(-2), [`${MANY + 3}:many`, `${MANY + 4}:w`]);
  const settings = await db.selectFrom('settings').select(['key', 'value']).where('key', 'like', 'key-%').orderBy('key').execute();
  assert.equal(settings.length, MANY);
  assert.deepEqual(settings[MANY - 1], { key: `key-0${MANY - 1}`, value: `value of key-0${MANY - 1}` });
}

describe('backup catalog and row round trip', { timeout: 120_000 }, () => {
  let work: string;
  const cleanups: (() => Promise<void>)[] = [];

  before(async () => {
    work = await makeTempDir('registry-backup-catalog-');
  });
  after(async () => {
    for (const c of cleanups.reverse()) await c();
    await rm(work, { recursive: true, force: true });
  });

  async function sqlite(name: string): Promise<SqlMetadataStore> {
    const store = await openSqliteStore(join(work, name, 'registry.db'));
    cleanups.push(() => store.close());
    return store;
  }

  async function postgres(migrate = true): Promise<SqlMetadataStore> {
    const db = await freshPostgresDatabase();
    const store = await openPostgresStore({ url: db.url, poolSize: 2, migrate });
    cleanups.push(async () => {
      await store.close();
      await db.drop();
    });
    return store;
  }

  async function blobStore(name: string): Promise<FilesystemBlobStore> {
    const blobs = new FilesystemBlobStore(join(work, name, 'data'));
    await blobs.init();
    return blobs;
  }

  test('both dialects: every table has a primary key and known column types; the named tables exist; parents come first', async () => {
    for (const store of [await sqlite('catalog'), await postgres()]) {
      const { db, dialect } = store.connection();
      const tables = await readCatalog(db, dialect);
      const names = tables.map((t) => t.name);
      for (const t of tables) assert.ok(t.primaryKey.length > 0, `${dialect}: ${t.name} has a primary key (backup pages by it)`);
      for (const t of [...TRANSIENT_TABLES, 'settings', 'blobs', 'manifests', 'audit']) assert.ok(names.includes(t), `${dialect}: ${t} exists`);
      assert.ok(!names.includes('kysely_migration'));
      const manifests = tables.find((t) => t.name === 'manifests')!;
      assert.equal(manifests.columns.find((c) => c.name === 'content')!.kind, 'bytes');
      assert.equal(manifests.columns.find((c) => c.name === 'size')!.kind, 'integer');
      assert.deepEqual(manifests.primaryKey, ['repository', 'digest']);
      const order = insertionOrder(tables).map((t) => t.name);
      assert.ok(order.indexOf('repositories') < order.indexOf('manifests'));
      assert.ok(order.indexOf('manifests') < order.indexOf('tags'));
      assert.ok(order.indexOf('blobs') < order.indexOf('repository_blobs'));
      if (dialect === 'postgres') {
        assert.deepEqual(tables.find((t) => t.name === 'audit')!.identity, ['id']);
        assert.deepEqual(tables.find((t) => t.name === 'vuln_imports')!.identity, ['id']);
      }
    }
  });

  test('rows round-trip SQLite -> PostgreSQL -> SQLite exactly', async () => {
    const source = await sqlite('source');
    await seed(source);
    const first = new DirectoryTarget(join(work, 'backup-1'));
    const b1 = await runBackup(source, await blobStore('source'), first);
    assert.equal(b1.tables.find((t) => t.name === 'audit')!.rows, MANY + 3);
    assert.equal(b1.tables.find((t) => t.name === 'settings')!.rows, MANY);
    assert.equal(b1.complete, true);

    const pg = await postgres(false);
    const r1 = await runRestore(pg, await blobStore('pg'), first);
    assert.deepEqual([r1.from, r1.to], ['sqlite', 'postgres']);
    await check(pg);

    const second = new DirectoryTarget(join(work, 'backup-2'));
    await runBackup(pg, await blobStore('pg'), second);
    const back = await sqlite('back');
    const r2 = await runRestore(back, await blobStore('back'), second);
    assert.deepEqual([r2.from, r2.to], ['postgres', 'sqlite']);
    const { db } = back.connection();
    assert.equal((await db.selectFrom('audit').select('id').execute()).length, MANY + 4, 'the event added on PostgreSQL came back too');
    const manifest = await db.selectFrom('manifests').select('content').executeTakeFirstOrThrow();
    assert.ok(Buffer.from(manifest.content).equals(ALL_BYTES));
    const quota = await db.selectFrom('namespace_quotas').select(bigText).executeTakeFirstOrThrow();
    assert.equal(quota.big, BIG);
  });
});
