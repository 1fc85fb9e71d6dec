// The Redis cache in front of the metadata store: the whole MetadataStore contract still holds
// through it, and two nodes sharing one database and one Redis never see a stale tag or a
// deleted manifest. Real Redis (started by scripts/test.sh), real PostgreSQL.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { pino } from 'pino';
import { Redis } from 'ioredis';
import { CachedMetadataStore } from '../../src/metadata/cached.js';
import { RedisCache } from '../../src/cache/cache.js';
import { openPostgresStore } from '../../src/metadata/postgres.js';
import type { SqlMetadataStore } from '../../src/metadata/sql-store.js';
import type { NewManifest } from '../../src/metadata/store.js';
import { metadataStoreContract } from './metadata-contract.js';
import { freshPostgresDatabase, requireEnv } from '../helpers/services.js';

const silent = pino({ level: 'silent' });

function cacheFor(prefix: string, url = requireEnv('TEST_REDIS_URL')): RedisCache {
  return new RedisCache(url, silent, prefix);
}

metadataStoreContract('postgres behind the Redis cache', async () => {
  const db = await freshPostgresDatabase();
  const prefix = `test-${randomBytes(4).toString('hex')}:`;
  const opened: CachedMetadataStore[] = [new CachedMetadataStore(await openPostgresStore({ url: db.url, poolSize: 3 }), cacheFor(prefix), 60)];
  return {
    store: opened[0]!,
    async reopen() {
      const s = new CachedMetadataStore(await openPostgresStore({ url: db.url, poolSize: 3 }), cacheFor(prefix), 60);
      opened.push(s);
      return s;
    },
    async cleanup() {
      for (const s of opened) await s.close();
      await db.drop();
    },
  };
});

function manifest(repository: string, n: number, tag?: string): NewManifest {
  const content = Buffer.from(JSON.stringify({ schemaVersion: 2, n }));
  return {
    repository,
    digest: `sha256:${n.toString(16).padStart(64, '0')}`,
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    artifactType: null,
    subjectDigest: null,
    annotations: null,
    content,
    references: [],
    ...(tag ? { tag } : {}),
  };
}

describe('two nodes sharing PostgreSQL and Redis', () => {
  let drop: () => Promise<void>;
  let inner: SqlMetadataStore[];
  let nodeA: CachedMetadataStore;
  let nodeB: CachedMetadataStore;
  let redis: Redis;
  const prefix = `two-${randomBytes(4).toString('hex')}:`;

  before(async () => {
    const db = await freshPostgresDatabase();
    drop = db.drop;
    inner = [await openPostgresStore({ url: db.url, poolSize: 3 }), await openPostgresStore({ url: db.url, poolSize: 3 })];
    nodeA = new CachedMetadataStore(inner[0]!, cacheFor(prefix), 300);
    nodeB = new CachedMetadataStore(inner[1]!, cacheFor(prefix), 300);
    redis = new Redis(requireEnv('TEST_REDIS_URL'));
  });

  after(async () => {
    await nodeA.close();
    await nodeB.close();
    redis.disconnect();
    await drop();
  });

  test('lookups are served from Redis once cached', async () => {
    await nodeA.putManifest(manifest('cache/hit', 1, 'v1'));
    // A cache still connecting skips its fills (it never delays a lookup): allow it a moment.
    // (The push left a tombstone on the tag key; a real entry reads `<generation>|<digest>`.)
    const cachedTag = async () => /^\d+\|/.test((await redis.get(`${prefix}t:cache/hit:v1`)) ?? '');
    for (let i = 0; i < 80 && !(await cachedTag()); i++) {
      assert.equal((await nodeB.getManifestByTag('cache/hit', 'v1'))?.digest, manifest('cache/hit', 1).digest);
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.ok(await cachedTag(), 'the tag is cached');
    assert.ok(await redis.exists(`${prefix}m:cache/hit@${manifest('cache/hit', 1).digest}`), 'the manifest is cached');
    const cached = await nodeB.getManifest('cache/hit', manifest('cache/hit', 1).digest);
    assert.ok(cached?.content.equals(manifest('cache/hit', 1).content), 'cached bytes are the manifest bytes');
  });

  test('a tag moved on one node is seen moved on the other at once', async () => {
    await nodeA.putManifest(manifest('cache/retag', 2, 'latest'));
    assert.equal((await nodeB.getManifestByTag('cache/retag', 'latest'))?.digest, manifest('cache/retag', 2).digest);
    await nodeA.putManifest(manifest('cache/retag', 3, 'latest'));
    assert.equal((await nodeB.getManifestByTag('cache/retag', 'latest'))?.digest, manifest('cache/retag', 3).digest);
  });

  test('a deleted tag or manifest is gone on the other node at once, even when re-pushed by digest', async () => {
    await nodeA.putManifest(manifest('cache/del', 4, 'gone'));
    assert.ok(await nodeB.getManifestByTag('cache/del', 'gone'));
    assert.ok(await nodeA.deleteTag('cache/del', 'gone'));
    assert.equal(await nodeB.getManifestByTag('cache/del', 'gone'), undefined);

    await nodeA.putManifest(manifest('cache/del', 5, 'again'));
    assert.ok(await nodeB.getManifestByTag('cache/del', 'again'));
    assert.ok(await nodeA.deleteManifest('cache/del', manifest('cache/del', 5).digest));
    assert.equal(await nodeB.getManifest('cache/del', manifest('cache/del', 5).digest), undefined);
    assert.equal(await nodeB.getManifestByTag('cache/del', 'again'), undefined);
    // The same manifest pushed again by digest only: the deleted tag must not come back.
    await nodeA.putManifest(manifest('cache/del', 5));
    assert.equal(await nodeB.getManifestByTag('cache/del', 'again'), undefined);
  });

  test('a node killed between its commit and the invalidation after it leaves no stale answer', async () => {
    await nodeA.putManifest(manifest('cache/killed', 8, 'doomed'));
    const digest = manifest('cache/killed', 8).digest;
    // Both lookups cached (a cache still connecting skips fills: allow it a moment).
    for (let i = 0; i < 80 && !(await redis.exists(`${prefix}m:cache/killed@${digest}`)); i++) {
      assert.ok(await nodeB.getManifestByTag('cache/killed', 'doomed'));
      await new Promise((r) => setTimeout(r, 50));
    }
    // A node whose process dies right after the database committed its delete.
    // (Its cache is connected: a process's cache is, long before it deletes anything.)
    const caches: RedisCache[] = [];
    const connectedCache = async () => {
      const cache = cacheFor(prefix);
      caches.push(cache);
      const probe = `probe-${randomBytes(4).toString('hex')}`;
      for (let i = 0; i < 100 && !(await redis.exists(`${prefix}${probe}`)); i++) {
        await cache.fill(probe, Buffer.from('1'), 5);
        await new Promise((r) => setTimeout(r, 20));
      }
      return cache;
    };
    const dying = async (deleteOf: 'manifest' | 'tag') =>
      new CachedMetadataStore(
        new Proxy(inner[0]!, {
          get(target, name) {
            if (name === 'deleteManifest' && deleteOf === 'manifest') return async (r: string, d: string) => { await target.deleteManifest(r, d); throw new Error('killed'); };
            if (name === 'deleteTag' && deleteOf === 'tag') return async (r: string, t: string) => { await target.deleteTag(r, t); throw new Error('killed'); };
            const value = Reflect.get(target, name) as unknown;
            return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
          },
        }),
        await connectedCache(),
        300,
      );
    const killedOnTag = await dying('tag');
    await assert.rejects(killedOnTag.deleteTag('cache/killed', 'doomed'), /killed/);
    assert.equal(await nodeB.getManifestByTag('cache/killed', 'doomed'), undefined, 'the deleted tag is not served from the cache');
    const killedOnManifest = await dying('manifest');
    await assert.rejects(killedOnManifest.deleteManifest('cache/killed', digest), /killed/);
    assert.equal(await nodeB.getManifest('cache/killed', digest), undefined, 'the deleted manifest is not served from the cache');
    // (Not the stores' close: it would close the database pool they share with node A.)
    for (const cache of caches) await cache.close();
  });

  test('a fill racing with an invalidation cannot bring the old value back', async () => {
    await nodeA.putManifest(manifest('cache/race', 6, 't'));
    await nodeA.putManifest(manifest('cache/race', 7, 't'));
    // A slow reader that fetched the old digest before the retag now tries to fill the cache.
    const slowReader = cacheFor(prefix);
    try {
      await slowReader.fill('t:cache/race:t', Buffer.from(`0|${manifest('cache/race', 6).digest}`), 300);
    } finally {
      await slowReader.close();
    }
    assert.equal((await nodeB.getManifestByTag('cache/race', 't'))?.digest, manifest('cache/race', 7).digest);
  });
});

describe('without a reachable Redis', () => {
  test('every lookup falls through to the database, quickly', async () => {
    const db = await freshPostgresDatabase();
    const store = new CachedMetadataStore(await openPostgresStore({ url: db.url, poolSize: 2 }), cacheFor('dead:', 'redis://127.0.0.1:1'), 60);
    try {
      const started = Date.now();
      await store.putManifest(manifest('nocache/x', 8, 'v'));
      assert.equal((await store.getManifestByTag('nocache/x', 'v'))?.digest, manifest('nocache/x', 8).digest);
      assert.ok(await store.deleteTag('nocache/x', 'v'));
      assert.equal(await store.getManifestByTag('nocache/x', 'v'), undefined);
      assert.ok(Date.now() - started < 5_000, `took ${Date.now() - started} ms`);
    } finally {
      await store.close();
      await db.drop();
    }
  });
});

describe('shared counters', () => {
  test('hits from several clients count in one window and reset in the next', async () => {
    const a = cacheFor(`count-${randomBytes(4).toString('hex')}:`);
    const key = `login:${randomBytes(4).toString('hex')}`;
    try {
      const counts = await Promise.all(Array.from({ length: 10 }, () => a.hit(key, 60_000)));
      assert.deepEqual([...counts].sort((x, y) => x - y), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
      const short = `short:${randomBytes(4).toString('hex')}`;
      assert.equal(await a.hit(short, 300), 1);
      await new Promise((r) => setTimeout(r, 650));
      assert.equal(await a.hit(short, 300), 1, 'a new window starts from one');
    } finally {
      await a.close();
    }
  });
});
