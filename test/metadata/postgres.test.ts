// The PostgreSQL driver against the MetadataStore contract (a real server started by
// scripts/test.sh, a fresh database per test), plus several nodes migrating at once.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { openPostgresStore } from '../../src/metadata/postgres.js';
import { migrationProvider } from '../../src/metadata/migrations/index.js';
import type { SqlMetadataStore } from '../../src/metadata/sql-store.js';
import { metadataStoreContract } from './metadata-contract.js';
import pg from 'pg';
import { freshPostgresDatabase } from '../helpers/services.js';

metadataStoreContract('postgres', async () => {
  const db = await freshPostgresDatabase();
  const opened: SqlMetadataStore[] = [await openPostgresStore({ url: db.url, poolSize: 4 })];
  return {
    store: opened[0]!,
    async reopen() {
      const s = await openPostgresStore({ url: db.url, poolSize: 4 });
      opened.push(s);
      return s;
    },
    async cleanup() {
      for (const s of opened) await s.close();
      await db.drop();
    },
  };
});

describe('PostgreSQL driver specifics', () => {
  test('eight nodes starting at once migrate exactly once and all work', async () => {
    const db = await freshPostgresDatabase();
    const stores = await Promise.all(Array.from({ length: 8 }, () => openPostgresStore({ url: db.url, poolSize: 2, migrate: false })));
    try {
      const applied = await Promise.all(stores.map((s) => s.migrate()));
      const all = applied.flat();
      const expected = Object.keys(await migrationProvider('postgres').getMigrations()).sort();
      assert.ok(expected.includes('0001_initial') && expected.includes('0010_access_control'));
      assert.deepEqual([...all].sort(), expected, 'each migration applied by exactly one node');
      await stores[3]!.linkBlob('a/b', 'sha256:' + 'a'.repeat(64), 5);
      assert.deepEqual(await stores[6]!.getBlobLink('a/b', 'sha256:' + 'a'.repeat(64)), { digest: 'sha256:' + 'a'.repeat(64), size: 5 });
    } finally {
      for (const s of stores) await s.close();
      await db.drop();
    }
  });

  test('a push linking a blob waits for a collector that claims the unrecorded bytes at the same moment', async () => {
    // The collector's claim row is inserted while the push's transaction runs (held open here
    // until the push has started): the push must see the claim and wait, not clear it.
    const db = await freshPostgresDatabase();
    const store = await openPostgresStore({ url: db.url, poolSize: 2 });
    const collector = new pg.Client({ connectionString: db.url });
    await collector.connect();
    const digest = 'sha256:' + 'c'.repeat(64);
    try {
      await collector.query('begin');
      await collector.query('insert into blobs (digest, size, created_at, deleting, deleting_until) values ($1, 3, $2, $3, $4)', [digest, Date.now(), 'collector-token', Date.now() + 600_000]);
      const reserving = store.reserveBlobLink('team/app', digest, 3);
      await new Promise((r) => setTimeout(r, 300));
      await collector.query('commit');
      assert.equal(await reserving, 'wait');
      const claim = await collector.query('select deleting from blobs where digest = $1', [digest]);
      assert.equal(claim.rows[0]?.deleting, 'collector-token', 'the claim still holds');
      assert.equal(await store.getBlobLink('team/app', digest), undefined, 'nothing linked');
    } finally {
      await collector.end();
      await store.close();
      await db.drop();
    }
  });

  test('a stopped server is an error, not a hang', async () => {
    const url = new URL(process.env['TEST_POSTGRES_URL'] ?? 'postgres://postgres@127.0.0.1:1/x');
    url.port = '1'; // nothing listens there
    const started = Date.now();
    await assert.rejects(openPostgresStore({ url: url.toString(), poolSize: 1 }));
    assert.ok(Date.now() - started < 10_000, 'fails within the connect timeout');
  });
});
