// Opens the metadata store the configuration names and brings its schema up to date.
import type { Config } from '../config/schema.js';
import { sqlitePath } from '../config/load.js';
import { openSqliteStore } from './sqlite.js';
import type { SqlMetadataStore } from './sql-store.js';
import type { MetadataStore } from './store.js';
import type { Logger } from 'pino';
import type { AccessStore } from './access-store.js';
import type { RedisCache } from '../cache/cache.js';
import type { PolicyStore } from './policy-store.js';
import type { SqlGcStore } from './sql-gc-store.js';
import type { RetentionStore } from './retention-store.js';
import type { ScanStore } from './scan-store.js';
import type { VulnStore } from './vuln-store.js';
import type { SigningStore } from './signing-store.js';
import type { SessionStore } from './session-store.js';
import type { BrowseStore } from './browse-store.js';
import type { WebhookStore } from './webhook-store.js';
import type { AuditOutbox } from './audit-outbox.js';
import type { IdentityStore } from './identity-store.js';
import type { OidcStore } from './oidc-store.js';
import { configuredSinks } from '../audit/sinks.js';
import type { ReplicationStore } from './replication-store.js';

export async function openSqlStore(config: Config, options: { migrate?: boolean } = {}): Promise<SqlMetadataStore> {
  // Drivers other than SQLite (and the Redis cache) are loaded only when configured: pg,
  // ioredis and the AWS SDK together add about 25 MB of RSS to a registry that uses none.
  if (config.metadata.driver === 'postgres') {
    const { openPostgresStore } = await import('./postgres.js');
    const postgres = config.metadata.postgres;
    return openPostgresStore({
      url: postgres.url!,
      poolSize: postgres.poolSize,
      connectTimeoutMs: postgres.connectTimeoutMs,
      queryTimeoutMs: postgres.queryTimeoutMs,
      migrate: options.migrate !== false,
    });
  }
  return openSqliteStore(sqlitePath(config), options.migrate !== false);
}

export interface OpenedMetadata {
  metadata: MetadataStore;
  access: AccessStore;
  /** Immutable tags, quotas, manifest tracking (never cached: enforcement reads the database). */
  policies: PolicyStore;
  /** The Redis connection, when one is configured (also used for shared counters). */
  redis?: RedisCache;
  /** Garbage collection and scrub queries (always on the database itself, never cached). */
  gc: SqlGcStore;
  retention: RetentionStore;
  scans: ScanStore;
  /** The vulnerability database (OSV advisories and their imports), on the database itself. */
  vulns: VulnStore;
  /** Signing keys and pull policies (on the database itself; the pull check caches briefly). */
  signing: SigningStore;
  /** Web UI login sessions (on the database, shared by every node). */
  sessions: SessionStore;
  /** Repository listings for the web UI. */
  browse: BrowseStore;
  /** Webhooks and their delivery queue, on the database itself. */
  webhooks: WebhookStore;
  /** Audit events waiting for the configured forwarding sinks. */
  auditOutbox: AuditOutbox;
  /** Directory (LDAP) accounts and second factors. */
  identity: IdentityStore;
  /** Replication rules and runs, on the database itself. */
  replication: ReplicationStore;
  /** Single sign-on flows, command-line logins and CLI secrets. */
  oidc: OidcStore;
}

/** The metadata store (behind the Redis cache when one is configured) and the access store. */
export async function openMetadataStore(config: Config, logger: Logger): Promise<OpenedMetadata> {
  const store = await openSqlStore(config);
  if (store.newerMigrations.length > 0) {
    logger.warn({ migrations: store.newerMigrations }, 'the database has migrations of a newer release (a rolling upgrade?): serving on the expanded schema');
  }
  const auditOutbox = store.auditOutbox(configuredSinks(config).map((s) => s.name));
  const stores = { auditOutbox, identity: store.identity(), access: store.access(), policies: store.policies(), gc: store.gc(), retention: store.retention(), vulns: store.vulns(), scans: store.scans(), signing: store.signing(), sessions: store.sessions(), browse: store.browse(), webhooks: store.webhooks(), replication: store.replication(), oidc: store.oidc() };
  if (!config.redis.url) return { metadata: store, ...stores };
  const [{ CachedMetadataStore }, { RedisCache }] = await Promise.all([import('./cached.js'), import('../cache/cache.js')]);
  const redis = new RedisCache(config.redis.url, logger, config.redis.keyPrefix, { connectTimeoutMs: config.redis.connectTimeoutMs, commandTimeoutMs: config.redis.commandTimeoutMs });
  return { metadata: new CachedMetadataStore(store, redis, config.redis.cacheTtlSeconds), redis, ...stores };
}

/** How to drop a manifest the collector deleted from the shared cache (none without Redis). */
export function manifestForgetter(metadata: MetadataStore): ((repository: string, digest: string) => Promise<void>) | undefined {
  const forget = (metadata as { forgetManifest?: (repository: string, digest: string) => Promise<void> }).forgetManifest;
  return forget ? forget.bind(metadata) : undefined;
}
