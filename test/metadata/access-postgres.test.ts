// The PostgreSQL driver against the AccessStore contract: a real server (TEST_POSTGRES_URL,
// started by scripts/test.sh), a fresh database per test.
import { openPostgresStore } from '../../src/metadata/postgres.js';
import type { SqlMetadataStore } from '../../src/metadata/sql-store.js';
import { accessStoreContract } from './access-contract.js';
import { freshPostgresDatabase } from '../helpers/services.js';

accessStoreContract('postgres', async () => {
  const db = await freshPostgresDatabase();
  const opened: SqlMetadataStore[] = [await openPostgresStore({ url: db.url, poolSize: 4 })];
  return {
    store: opened[0]!.access(),
    async reopen() {
      const s = await openPostgresStore({ url: db.url, poolSize: 4 });
      opened.push(s);
      return s.access();
    },
    async cleanup() {
      for (const s of opened) await s.close();
      await db.drop();
    },
  };
});
