// The vulnerability database: OSV advisories imported from a directory tree and from zip
// archives (as osv.dev publishes them), incremental re-imports, withdrawn advisories, and
// the database version, on SQLite and (with TEST_POSTGRES_URL) PostgreSQL.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openSqliteStore } from '../../src/metadata/sqlite.js';
import { openPostgresStore } from '../../src/metadata/postgres.js';
import type { SqlMetadataStore } from '../../src/metadata/sql-store.js';
import type { VulnStore } from '../../src/metadata/vuln-store.js';
import { importAdvisories } from '../../src/scan/vuln/import.js';
import { freshPostgresDatabase } from '../helpers/services.js';
import { advisory, writeZip, type Json } from '../helpers/osv.js';

interface Opened {
  store: VulnStore;
  cleanup(): Promise<void>;
}

function vulnDbSuite(name: string, open: () => Promise<Opened>): void {
  describe(`vulnerability database: ${name}`, () => {
    let dir: string;
    let db: Opened;
    before(async () => {
      dir = await mkdtemp(join(tmpdir(), 'registry-vulndb-test-'));
      db = await open();
    });
    after(async () => {
      await db?.cleanup();
      await rm(dir, { recursive: true, force: true });
    });

    const T1 = '2024-01-01T00:00:00Z';
    const T2 = '2024-06-01T00:00:00.000Z';

    test('a directory tree: advisories stored, looked up by family and name; bad files counted', async () => {
      const tree = join(dir, 'osv');
      await mkdir(join(tree, 'npm'), { recursive: true });
      await mkdir(join(tree, 'PyPI', 'nested'), { recursive: true });
      await writeFile(join(tree, 'npm', 'GHSA-aaaa.json'), JSON.stringify(advisory('GHSA-aaaa', T1, 'npm', 'lodash')));
      await writeFile(join(tree, 'PyPI', 'nested', 'PYSEC-1.json'), JSON.stringify(advisory('PYSEC-1', T1, 'PyPI', 'Django_REST.framework')));
      await writeFile(
        join(tree, 'DSA-1.json'),
        JSON.stringify({
          ...advisory('DSA-1', T1, 'Debian:12', 'openssl'),
          affected: [
            { package: { ecosystem: 'Debian:11', name: 'openssl' }, ranges: [] },
            { package: { ecosystem: 'Debian:12', name: 'openssl' }, ranges: [] },
            { package: { ecosystem: 'Debian:12', name: 'openssl' }, versions: ['1'] },
          ],
        }),
      );
      await writeFile(join(tree, 'README.md'), 'not an advisory');
      await writeFile(join(tree, 'broken.json'), '{"id": "X-1", ');
      await writeFile(join(tree, 'no-modified.json'), JSON.stringify({ id: 'X-2' }));

      const summary = await importAdvisories(db.store, [tree]);
      assert.deepEqual(
        { files: summary.files, added: summary.added, updated: summary.updated, removed: summary.removed, skipped: summary.skipped, invalid: summary.invalid },
        { files: 5, added: 3, updated: 0, removed: 0, skipped: 0, invalid: 2 },
      );
      assert.equal(summary.errors.length, 2);
      assert.match(summary.errors.join('\n'), /broken\.json: not JSON/);
      assert.match(summary.errors.join('\n'), /no-modified\.json: not an OSV advisory: modified/);
      assert.equal(summary.state.version, 1);
      assert.equal(summary.state.advisories, 3);
      assert.ok(summary.state.changedAt instanceof Date);

      const stored = await db.store.getAdvisory('GHSA-aaaa');
      assert.equal(stored!.modified.toISOString(), '2024-01-01T00:00:00.000Z');
      // The whole document is kept, fields the matcher does not read included.
      assert.deepEqual(JSON.parse(stored!.content), advisory('GHSA-aaaa', T1, 'npm', 'lodash'));
      assert.deepEqual((await db.store.findByPackages('npm', ['lodash', 'express'])).map((a) => a.id), ['GHSA-aaaa']);
      assert.deepEqual((await db.store.findByPackages('npm', ['express'])).map((a) => a.id), []);
      // PyPI names are stored PEP 503-normalised.
      assert.deepEqual((await db.store.findByPackages('PyPI', ['django-rest-framework'])).map((a) => a.id), ['PYSEC-1']);
      // One advisory per lookup however many of its entries name the package.
      assert.deepEqual((await db.store.findByPackages('Debian', ['openssl'])).map((a) => a.id), ['DSA-1']);
      assert.deepEqual((await db.store.findByPackages('Alpine', ['openssl'])).map((a) => a.id), []);
    });

    test('a zip archive: unchanged advisories skipped (the version stays), newer ones applied, withdrawn ones removed', async () => {
      const same = join(dir, 'same.zip');
      await writeZip(same, {
        'GHSA-aaaa.json': advisory('GHSA-aaaa', T1, 'npm', 'lodash'),
        'PYSEC-1.json': advisory('PYSEC-1', T1, 'PyPI', 'django-rest-framework'),
      });
      const before = await db.store.state();
      const unchanged = await importAdvisories(db.store, [same]);
      assert.deepEqual([unchanged.added, unchanged.updated, unchanged.removed, unchanged.skipped], [0, 0, 0, 2]);
      assert.equal(unchanged.state.version, before.version, 'nothing changed: same version');
      assert.equal(unchanged.state.changedAt!.getTime(), before.changedAt!.getTime());
      assert.ok(unchanged.state.lastImportAt!.getTime() >= before.lastImportAt!.getTime());

      const next = join(dir, 'next.zip');
      await writeZip(next, {
        'advisories/': '',
        // Newer: replaces the stored copy, and its package rows (now express, not lodash).
        'advisories/GHSA-aaaa.json': advisory('GHSA-aaaa', T2, 'npm', 'express'),
        // Older than the stored copy: skipped.
        'advisories/PYSEC-1.json': advisory('PYSEC-1', '2023-01-01T00:00:00Z', 'PyPI', 'other'),
        'advisories/DSA-1.json': { ...advisory('DSA-1', T2, 'Debian:12', 'openssl'), withdrawn: T2 },
        'advisories/GO-2024-1.json': advisory('GO-2024-1', T1, 'Go', 'golang.org/x/net'),
        'advisories/notes.txt': 'ignored',
        'advisories/bad.json': '[]',
      });
      const applied = await importAdvisories(db.store, [next]);
      assert.deepEqual(
        [applied.files, applied.added, applied.updated, applied.removed, applied.skipped, applied.invalid],
        [5, 1, 1, 1, 1, 1],
      );
      assert.match(applied.errors[0]!, /next\.zip:advisories\/bad\.json: not an OSV advisory/);
      assert.equal(applied.state.version, before.version + 1);
      assert.equal(applied.state.advisories, 3);
      assert.equal((await db.store.getAdvisory('GHSA-aaaa'))!.modified.toISOString(), T2);
      assert.deepEqual((await db.store.findByPackages('npm', ['lodash'])).map((a) => a.id), []);
      assert.deepEqual((await db.store.findByPackages('npm', ['express'])).map((a) => a.id), ['GHSA-aaaa']);
      assert.equal(await db.store.getAdvisory('DSA-1'), undefined);
      assert.deepEqual((await db.store.findByPackages('Debian', ['openssl'])).map((a) => a.id), []);
      assert.deepEqual((await db.store.findByPackages('PyPI', ['django-rest-framework'])).map((a) => a.id), ['PYSEC-1']);

      // Withdrawn and already gone: nothing to remove, the version stays.
      const again = await importAdvisories(db.store, [next]);
      assert.deepEqual([again.added, again.updated, again.removed, again.skipped], [0, 0, 0, 4]);
      assert.equal(again.state.version, applied.state.version);
    });

    test('1500 advisories in one archive: batches, duplicates, lookups over many names', async (t) => {
      const files: Record<string, Json> = {};
      const count = 1500;
      for (let i = 0; i < count; i++) files[`GHSA-bulk-${i}.json`] = advisory(`GHSA-bulk-${i}`, T1, 'npm', `pkg-${i}`);
      // The same id twice in one archive: the newer copy wins.
      files['zz-GHSA-bulk-7.json'] = advisory('GHSA-bulk-7', T2, 'npm', 'pkg-seven');
      const bulk = join(dir, 'bulk.zip');
      await writeZip(bulk, files);
      const started = process.hrtime.bigint();
      const summary = await importAdvisories(db.store, [bulk]);
      const ms = Number(process.hrtime.bigint() - started) / 1e6;
      t.diagnostic(`${name}: imported ${count + 1} advisories from a zip in ${ms.toFixed(0)} ms`);
      assert.equal(summary.invalid, 0);
      // The later copy came in a later batch: an update of the first.
      assert.deepEqual([summary.added, summary.updated, summary.skipped], [count, 1, 0]);
      assert.equal((await db.store.getAdvisory('GHSA-bulk-7'))!.modified.toISOString(), T2);
      const names = Array.from({ length: count }, (_, i) => `pkg-${i}`);
      const found = await db.store.findByPackages('npm', names);
      assert.equal(found.length, count - 1, 'every package but pkg-7 (renamed by its newer copy)');
    });

    test('two imports of the same new advisories at once both succeed', async () => {
      const files: Record<string, Json> = {};
      for (let i = 0; i < 300; i++) files[`PYSEC-race-${i}.json`] = advisory(`PYSEC-race-${i}`, T1, 'PyPI', `race-${i}`);
      const race = join(dir, 'race.zip');
      await writeZip(race, files);
      const [a, b] = await Promise.all([importAdvisories(db.store, [race]), importAdvisories(db.store, [race])]);
      assert.equal(a.invalid + b.invalid, 0);
      assert.ok(a.added + b.added >= 300);
      const found = await db.store.findByPackages('PyPI', Object.keys(files).map((_, i) => `race-${i}`));
      assert.equal(found.length, 300);
    });

    test('a file that is not a zip archive fails the import', async () => {
      const fake = join(dir, 'fake.zip');
      await writeFile(fake, 'not a zip');
      await assert.rejects(importAdvisories(db.store, [fake]));
      await assert.rejects(importAdvisories(db.store, [join(dir, 'missing')]), /ENOENT/);
    });
  });
}

vulnDbSuite('sqlite', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'registry-vulndb-sqlite-'));
  const store: SqlMetadataStore = await openSqliteStore(join(dir, 'registry.db'));
  return {
    store: store.vulns(),
    async cleanup() {
      await store.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
});

if (process.env['TEST_POSTGRES_URL']) {
  vulnDbSuite('postgres', async () => {
    const db = await freshPostgresDatabase();
    const store = await openPostgresStore({ url: db.url, poolSize: 4 });
    return {
      store: store.vulns(),
      async cleanup() {
        await store.close();
        await db.drop();
      },
    };
  });
}
