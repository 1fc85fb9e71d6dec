// The SigningStore contract (signing keys, pull policies, indexes listing a manifest) on SQLite
// (a real file) and on PostgreSQL (a fresh database, when the test services are configured).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { openSqliteStore } from '../../src/metadata/sqlite.js';
import type { SqlMetadataStore } from '../../src/metadata/sql-store.js';
import { makeTempDir } from '../helpers/registry.js';
import { freshPostgresDatabase } from '../helpers/services.js';

interface Opened {
  store: SqlMetadataStore;
  cleanup(): Promise<void>;
}

const digest = (c: string) => `sha256:${c.repeat(64)}`;

function signingStoreContract(name: string, open: () => Promise<Opened>, skip: string | false = false): void {
  describe(`SigningStore on ${name}`, { skip }, () => {
    test('keys: added, listed per namespace in order, unique names per namespace, deleted only from their namespace', async () => {
      const { store, cleanup } = await open();
      try {
        const signing = store.signing();
        assert.deepEqual(await signing.listKeys('team'), []);
        const a = await signing.addKey({ namespace: 'team', name: 'release', publicKey: 'PEM-A', createdBy: 'olivia' });
        // Listed in creation order: keys created within one millisecond would tie.
        await new Promise((res) => setTimeout(res, 5));
        const b = await signing.addKey({ namespace: 'team', name: 'ci', publicKey: 'PEM-B', createdBy: 'admin' });
        await signing.addKey({ namespace: 'other', name: 'release', publicKey: 'PEM-C', createdBy: 'x' });
        await assert.rejects(signing.addKey({ namespace: 'team', name: 'release', publicKey: 'PEM-D', createdBy: 'x' }));
        const listed = await signing.listKeys('team');
        assert.deepEqual(listed.map((k) => [k.id, k.name, k.publicKey, k.createdBy]), [[a.id, 'release', 'PEM-A', 'olivia'], [b.id, 'ci', 'PEM-B', 'admin']]);
        assert.equal(listed[0]!.createdAt.getTime(), a.createdAt.getTime());
        assert.equal(await signing.deleteKey('other', a.id), undefined);
        assert.equal((await signing.deleteKey('team', a.id))?.name, 'release');
        assert.equal(await signing.deleteKey('team', a.id), undefined);
        assert.deepEqual((await signing.listKeys('team')).map((k) => k.name), ['ci']);
        assert.equal((await signing.listKeys('other')).length, 1);
      } finally {
        await cleanup();
      }
    });

    test('pull policies: absent until set, then replaced as a whole', async () => {
      const { store, cleanup } = await open();
      try {
        const signing = store.signing();
        assert.equal(await signing.getPullPolicy('team'), undefined);
        await signing.setPullPolicy({ namespace: 'team', requireSignature: true, blockSeverity: 'HIGH', allowAdvisories: ['CVE-2024-1', 'GHSA-x'], updatedBy: 'olivia' });
        const got = await signing.getPullPolicy('team');
        assert.deepEqual({ ...got, updatedAt: undefined }, { namespace: 'team', requireSignature: true, blockSeverity: 'HIGH', allowAdvisories: ['CVE-2024-1', 'GHSA-x'], updatedBy: 'olivia', updatedAt: undefined });
        await signing.setPullPolicy({ namespace: 'team', requireSignature: false, blockSeverity: null, allowAdvisories: [], updatedBy: 'admin' });
        const replaced = await signing.getPullPolicy('team');
        assert.equal(replaced?.requireSignature, false);
        assert.equal(replaced?.blockSeverity, null);
        assert.deepEqual(replaced?.allowAdvisories, []);
        assert.equal(replaced?.updatedBy, 'admin');
        assert.equal(await signing.getPullPolicy('other'), undefined);
      } finally {
        await cleanup();
      }
    });

    test('indexes listing a manifest, in its repository only', async () => {
      const { store, cleanup } = await open();
      try {
        const put = (repository: string, d: string, children: string[]) =>
          store.putManifest({
            repository,
            digest: d,
            mediaType: children.length ? 'application/vnd.oci.image.index.v1+json' : 'application/vnd.oci.image.manifest.v1+json',
            artifactType: null,
            subjectDigest: null,
            annotations: null,
            content: Buffer.from(d),
            references: children.map((c) => ({ digest: c, kind: 'manifest' as const })),
          });
        await put('team/app', digest('1'), []);
        await put('team/app', digest('2'), [digest('1')]);
        await put('team/app', digest('3'), [digest('1')]);
        await put('team/other', digest('1'), []);
        await put('team/other', digest('4'), [digest('1')]);
        assert.deepEqual(await store.signing().indexesListing('team/app', digest('1')), [digest('2'), digest('3')]);
        assert.deepEqual(await store.signing().indexesListing('team/app', digest('2')), []);
        assert.deepEqual(await store.signing().indexesListing('team/other', digest('1')), [digest('4')]);
      } finally {
        await cleanup();
      }
    });
  });
}

signingStoreContract('sqlite', async () => {
  const dir = await makeTempDir('registry-signing-store-');
  const store = await openSqliteStore(join(dir, 'registry.db'));
  return {
    store,
    async cleanup() {
      await store.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
});

signingStoreContract(
  'postgres',
  async () => {
    const { openPostgresStore } = await import('../../src/metadata/postgres.js');
    const db = await freshPostgresDatabase();
    const store = await openPostgresStore({ url: db.url, poolSize: 2 });
    return {
      store,
      async cleanup() {
        await store.close();
        await db.drop();
      },
    };
  },
  process.env['TEST_POSTGRES_URL'] ? false : 'TEST_POSTGRES_URL is not set (scripts/test.sh starts PostgreSQL)',
);
