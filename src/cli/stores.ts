// The stores a maintenance command (gc, scrub, retention) works on, opened from the
// configuration and closed when the command is done.
import { pino } from 'pino';
import type { Config } from '../config/schema.js';
import { openSqlStore } from '../metadata/open.js';
import type { MetadataStore } from '../metadata/store.js';
import type { SqlMetadataStore } from '../metadata/sql-store.js';
import { openBlobStore } from '../storage/open.js';
import type { BlobStore } from '../storage/blob-store.js';

export async function withStores<T>(
  config: Config,
  fn: (store: SqlMetadataStore, blobs: BlobStore, metadata: MetadataStore) => Promise<T>,
  options: { migrate?: boolean } = {},
): Promise<T> {
  const blobs = await openBlobStore(config);
  const store = await openSqlStore(config, options);
  // With Redis configured, manifests the collection deletes are dropped from the shared cache.
  let metadata: MetadataStore = store;
  if (config.redis.url) {
    const [{ CachedMetadataStore }, { RedisCache }] = await Promise.all([import('../metadata/cached.js'), import('../cache/cache.js')]);
    metadata = new CachedMetadataStore(store, new RedisCache(config.redis.url, pino({ level: 'silent' }), config.redis.keyPrefix), config.redis.cacheTtlSeconds);
  }
  try {
    return await fn(store, blobs, metadata);
  } finally {
    await metadata.close();
  }
}
