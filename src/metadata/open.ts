// Opens the metadata store the configuration names and brings its schema up to date.
import type { Config } from '../config/schema.js';
import { sqlitePath } from '../config/load.js';
import { openPostgresStore } from './postgres.js';
import { openSqliteStore } from './sqlite.js';
import type { SqlMetadataStore } from './sql-store.js';

export async function openMetadataStore(config: Config): Promise<SqlMetadataStore> {
  if (config.metadata.driver === 'postgres') {
    return openPostgresStore({ url: config.metadata.postgres.url!, poolSize: config.metadata.postgres.poolSize });
  }
  return openSqliteStore(sqlitePath(config));
}
