// The SQLite driver (a real file in a temp dir) against the MetadataStore contract, plus its
// own checks: migrations recorded once, data surviving a close and reopen.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openSqliteStore } from '../../src/metadata/sqlite.js';
import type { SqlMetadataStore } from '../../src/metadata/sql-store.js';
import { metadataStoreContract } from './metadata-contract.js';

async function tempDir(): Promise<string> {
  return mkdtemp(join(tmpdir(), 'registry-sqlite-test-'));
}

metadataStoreContract('sqlite', async () => {
  const dir = await tempDir();
  const path = join(dir, 'nested', 'registry.db');
  const opened: SqlMetadataStore[] = [await openSqliteStore(path)];
  return {
    store: opened[0]!,
    async reopen() {
      const s = await openSqliteStore(path);
      opened.push(s);
      return s;
    },
    async cleanup() {
      for (const s of opened) await s.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
});

describe('SQLite driver specifics', () => {
  test('migrations run once: a reopened file has nothing left to migrate and keeps its data', async () => {
    const dir = await tempDir();
    const path = join(dir, 'registry.db');
    try {
      const first = await openSqliteStore(path);
      // openSqliteStore migrated already: running again applies nothing.
      assert.deepEqual(await first.migrate(), []);
      await first.linkBlob('app', 'sha256:' + 'a'.repeat(64), 3);
      await first.close();

      const second = await openSqliteStore(path);
      try {
        assert.deepEqual(await second.migrate(), []);
        assert.deepEqual(await second.getBlobLink('app', 'sha256:' + 'a'.repeat(64)), { digest: 'sha256:' + 'a'.repeat(64), size: 3 });
      } finally {
        await second.close();
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('two stores open on one file at once both work', async () => {
    const dir = await tempDir();
    const path = join(dir, 'registry.db');
    const a = await openSqliteStore(path);
    const b = await openSqliteStore(path);
    try {
      await a.createUpload('from-a', 'app');
      await b.createUpload('from-b', 'app');
      assert.deepEqual((await a.listUploadIds()).sort(), ['from-a', 'from-b']);
      assert.equal(await a.claimUpload('from-b', 0, 'wa', 60_000), true);
      assert.equal(await b.claimUpload('from-b', 0, 'wb', 60_000), false, 'a claim made through one connection holds for the other');
    } finally {
      await a.close();
      await b.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
