// The stores a maintenance command (gc, scrub, retention, export) works on, and the domain
// services a command that pushes (import, mirror) goes through; opened from the configuration
// and closed when the command is done.
import { pino } from 'pino';
import type { Config } from '../config/schema.js';
import { openSqlStore } from '../metadata/open.js';
import type { MetadataStore } from '../metadata/store.js';
import type { SqlMetadataStore } from '../metadata/sql-store.js';
import { openBlobStore } from '../storage/open.js';
import type { BlobStore } from '../storage/blob-store.js';
import { BlobService } from '../registry/blobs.js';
import { ManifestService } from '../registry/manifests.js';
import { NamespacePolicies } from '../registry/policies.js';
import { ScanService } from '../scan/service.js';

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
    metadata = new CachedMetadataStore(store, new RedisCache(config.redis.url, pino({ level: 'silent' }), config.redis.keyPrefix, { connectTimeoutMs: config.redis.connectTimeoutMs, commandTimeoutMs: config.redis.commandTimeoutMs }), config.redis.cacheTtlSeconds);
  }
  try {
    return await fn(store, blobs, metadata);
  } finally {
    await metadata.close();
  }
}

export interface DomainServices {
  blobs: BlobService;
  manifests: ManifestService;
  metadata: MetadataStore;
}

/**
 * The domain services over the configured stores, as the server builds them: pushes made by a
 * command (import, mirror) meet the same quotas and immutable tags, and queue scans when
 * scanning is on. Pull counts and other batched writes are flushed before the stores close.
 */
export async function withServices<T>(config: Config, fn: (services: DomainServices, store: SqlMetadataStore) => Promise<T>): Promise<T> {
  return withStores(config, async (store, blobStore, metadata) => {
    const logger = pino({ level: 'silent' });
    const policies = new NamespacePolicies(store.policies());
    const scans = config.scan.enabled
      ? new ScanService(store.scans(), store.vulns(), blobStore, metadata, { workers: 0, leaseMs: config.scan.leaseMs, pollMs: config.scan.pollMs, rematchCheckMs: config.scan.rematchCheckMs, maxLayerBytes: config.scan.maxLayerBytes, logger })
      : undefined;
    const blobs = new BlobService(blobStore, metadata, { deletesEnabled: false }, policies);
    const manifests = new ManifestService(
      metadata,
      {
        deletesEnabled: false,
        onPushed: async (e) => {
          await scans?.enqueue(e.repository, e.digest, 'push').catch(() => undefined);
        },
      },
      policies,
    );
    try {
      return await fn({ blobs, manifests, metadata }, store);
    } finally {
      await policies.flush();
    }
  });
}
