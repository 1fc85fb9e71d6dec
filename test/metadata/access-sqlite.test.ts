// The SQLite driver (a real file in a temp dir) against the AccessStore contract.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openSqliteStore } from '../../src/metadata/sqlite.js';
import type { SqlMetadataStore } from '../../src/metadata/sql-store.js';
import { accessStoreContract } from './access-contract.js';

async function tempDir(): Promise<string> {
  return mkdtemp(join(tmpdir(), 'registry-access-sqlite-test-'));
}

accessStoreContract('sqlite', async () => {
  const dir = await tempDir();
  const path = join(dir, 'registry.db');
  const opened: SqlMetadataStore[] = [await openSqliteStore(path)];
  return {
    store: opened[0]!.access(),
    async reopen() {
      const s = await openSqliteStore(path);
      opened.push(s);
      return s.access();
    },
    async cleanup() {
      for (const s of opened) await s.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
});

test('SqlMetadataStore.access() is memoised and survives a reopen of the file', async () => {
  const dir = await tempDir();
  const path = join(dir, 'registry.db');
  try {
    const first = await openSqliteStore(path);
    assert.equal(first.access(), first.access());
    await first.access().createUser({ username: 'bob', passwordHash: 'h', admin: true });
    await first.access().appendAudit({ actor: 'bob', action: 'login', source: null, repository: null, reference: null, digest: null, detail: { a: 1 } });
    await first.close();
    const second = await openSqliteStore(path);
    try {
      assert.deepEqual(await second.migrate(), []);
      assert.equal((await second.access().getUser('bob'))!.admin, true);
      assert.deepEqual((await second.access().queryAudit({ limit: 5 })).map((e) => e.detail), [{ a: 1 }]);
    } finally {
      await second.close();
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
