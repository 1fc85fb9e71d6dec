// Composition root: opens the stores the configuration names, builds the domain services and
// the HTTP server, and owns start-up recovery and shutdown.
import { pino, type Logger } from 'pino';
import type { FastifyInstance } from 'fastify';
import type { Config } from './config/schema.js';
import { openBlobStore } from './storage/open.js';
import { openMetadataStore } from './metadata/open.js';
import type { MetadataStore } from './metadata/store.js';
import type { BlobStore } from './storage/blob-store.js';
import { BlobService } from './registry/blobs.js';
import { ManifestService } from './registry/manifests.js';
import { buildServer } from './http/server.js';

const ORPHAN_GRACE_MS = 3600_000;

export interface App {
  config: Config;
  server: FastifyInstance;
  metadata: MetadataStore;
  blobStore: BlobStore;
  blobs: BlobService;
  manifests: ManifestService;
  logger: Logger;
  /** Listen on the configured host and port; resolves with the bound address. */
  listen(): Promise<{ host: string; port: number }>;
  /** Stop accepting, let running requests finish (up to the grace period), close stores. */
  close(): Promise<void>;
}

export async function createApp(config: Config, logger: Logger = pino({ level: config.log.level })): Promise<App> {
  const blobStore = await openBlobStore(config);
  const metadata = await openMetadataStore(config, logger);
  const blobs = new BlobService(blobStore, metadata, {
    deletesEnabled: config.deletes.enabled,
    ...(config.storage.driver === 's3' && config.storage.s3.redirect ? { redirectExpirySeconds: config.storage.s3.redirectExpirySeconds } : {}),
  });
  const manifests = new ManifestService(metadata, { deletesEnabled: config.deletes.enabled });

  // The filesystem store belongs to this process alone; a shared store may hold uploads other
  // nodes are just starting, so only old orphans are removed there.
  const recovered = await blobs.recover(config.storage.driver === 'filesystem' ? 0 : ORPHAN_GRACE_MS);
  if (recovered.removedStaged || recovered.removedSessions) logger.info(recovered, 'cleaned up after an unclean stop');

  const server = buildServer(
    { blobs, manifests, manifestMaxBytes: config.limits.manifestMaxBytes },
    {
      logger,
      headersTimeoutMs: config.http.headersTimeoutMs,
      keepAliveTimeoutMs: config.http.keepAliveTimeoutMs,
      ready: async () => {
        await Promise.all([metadata.ping(), blobStore.ping()]);
      },
    },
  );

  const purge = setInterval(() => {
    blobs.purgeStaleUploads(config.uploads.sessionTtlMs).then(
      (n) => n && logger.info({ removed: n }, 'purged stale upload sessions'),
      (err: unknown) => logger.warn({ err }, 'upload purge failed'),
    );
  }, config.uploads.purgeIntervalMs);
  purge.unref();

  let closed = false;
  return {
    config,
    server,
    metadata,
    blobStore,
    blobs,
    manifests,
    logger,
    async listen() {
      await server.listen({ host: config.http.host, port: config.http.port });
      const address = server.server.address();
      if (address === null || typeof address === 'string') throw new Error('server is not listening on TCP');
      return { host: address.address, port: address.port };
    },
    async close() {
      if (closed) return;
      closed = true;
      clearInterval(purge);
      const grace = setTimeout(() => server.server.closeAllConnections(), config.http.shutdownGraceMs);
      grace.unref();
      await server.close();
      clearTimeout(grace);
      await metadata.close();
    },
  };
}
