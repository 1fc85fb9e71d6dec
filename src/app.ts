// Composition root: opens the stores the configuration names, builds the domain services and
// the HTTP server, and owns start-up recovery and shutdown.
import { readFileSync } from 'node:fs';
import type { Server as HttpsServer } from 'node:https';
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
import type { AccessStore } from './metadata/access-store.js';
import { openGuard, tokenGuard } from './http/guard.js';
import { Auditor } from './auth/audit.js';
import { AccessPolicy } from './auth/policy.js';
import { Authenticator, hashSecret } from './auth/authenticate.js';
import { TokenService } from './auth/tokens.js';
import { LoginThrottle, MemoryCounter } from './auth/throttle.js';
import { registerTokenEndpoint } from './http/token.js';
import { registerApi } from './http/api/index.js';
import { NamespacePolicies } from './registry/policies.js';
import { RetentionService } from './registry/retention.js';
import { GarbageCollector, type GcReport } from './registry/gc.js';
import { manifestForgetter } from './metadata/open.js';
import type { VulnStore } from './metadata/vuln-store.js';
import type { SigningStore } from './metadata/signing-store.js';
import { SignatureService } from './signing/signatures.js';
import { PullPolicies, type FindingsSource } from './signing/pull-policy.js';

const ORPHAN_GRACE_MS = 3600_000;

/** A collection run's settings, defaulting to the gc section of the configuration. */
export interface GcOverrides {
  dryRun?: boolean;
  reviewDelayMs?: number;
  deleteUntaggedManifests?: boolean;
}

/** Collaborators built elsewhere that the app plugs in. */
export interface AppOptions {
  /** Vulnerability findings for pull policies (default: nothing scanned yet, which never blocks). */
  findings?: FindingsSource;
}

export interface App {
  config: Config;
  server: FastifyInstance;
  metadata: MetadataStore;
  access: AccessStore;
  auditor: Auditor;
  blobStore: BlobStore;
  blobs: BlobService;
  manifests: ManifestService;
  /** Immutable tags, quotas, manifest tracking (pull counts are flushed in batches). */
  policies: NamespacePolicies;
  /** Retention policies: run one by hand, or the due ones (also every retention.intervalMs). */
  retention: RetentionService;
  /** The vulnerability database (`registry vulndb import` fills it; its version says when it changed). */
  vulns: VulnStore;
  /** Signing keys and pull policies per namespace. */
  signing: SigningStore;
  /** Finds and verifies the signatures of a manifest. */
  signatures: SignatureService;
  /** Enforces pull policies on manifest GET/HEAD (decisions cached a few seconds). */
  pullPolicies: PullPolicies;
  /** Online garbage collection (also run every gc.intervalMs when that is set). */
  collectGarbage(options?: GcOverrides): Promise<GcReport>;
  logger: Logger;
  /** Read the TLS certificate and key again (SIGHUP); new connections use them. */
  reloadTls(): void;
  /** Listen on the configured host and port; resolves with the bound address. */
  listen(): Promise<{ host: string; port: number }>;
  /** Stop accepting, let running requests finish (up to the grace period), close stores. */
  close(): Promise<void>;
}

export async function createApp(config: Config, logger: Logger = pino({ level: config.log.level }), options: AppOptions = {}): Promise<App> {
  const blobStore = await openBlobStore(config);
  const { metadata, access, policies: policyStore, redis, gc: gcStore, retention: retentionStore, vulns, signing } = await openMetadataStore(config, logger);
  const auditor = new Auditor(access, logger);
  const signatures = new SignatureService(metadata, blobStore, signing);
  const pullPolicies = new PullPolicies(signing, signatures, options.findings ? { findings: options.findings } : {});
  const policies = new NamespacePolicies(policyStore, (err, what) => logger.error({ err }, what), pullPolicies);
  const blobs = new BlobService(blobStore, metadata, {
    deletesEnabled: config.deletes.enabled,
    ...(config.storage.driver === 's3' && config.storage.s3.redirect ? { redirectExpirySeconds: config.storage.s3.redirectExpirySeconds } : {}),
  }, policies);
  const manifests = new ManifestService(metadata, { deletesEnabled: config.deletes.enabled }, policies);

  // The filesystem store belongs to this process alone; a shared store may hold uploads other
  // nodes are just starting, so only old orphans are removed there.
  const recovered = await blobs.recover(config.storage.driver === 'filesystem' ? 0 : ORPHAN_GRACE_MS);
  if (recovered.removedStaged || recovered.removedSessions) logger.info(recovered, 'cleaned up after an unclean stop');

  const auth = config.auth.enabled ? await setUpAuth(config, access, auditor, redis ?? new MemoryCounter()) : undefined;

  const server = buildServer(
    { blobs, manifests, manifestMaxBytes: config.limits.manifestMaxBytes, guard: auth?.guard ?? openGuard, auditor },
    {
      logger,
      headersTimeoutMs: config.http.headersTimeoutMs,
      keepAliveTimeoutMs: config.http.keepAliveTimeoutMs,
      ...(config.http.tls.certFile ? { tls: readTls(config) } : {}),
      ready: async () => {
        await Promise.all([metadata.ping(), blobStore.ping()]);
      },
    },
  );

  const forgetManifest = manifestForgetter(metadata);
  const retention = new RetentionService(retentionStore, metadata, gcStore, {
    untaggedGraceMs: config.retention.untaggedGraceMs,
    immutableRules: (namespace) => policyStore.listImmutableRules(namespace),
    audit: (event) => auditor.record(event),
    flushPulls: () => policies.flush(),
    ...(forgetManifest ? { onManifestDeleted: forgetManifest } : {}),
  });

  if (auth) {
    registerTokenEndpoint(server, auth.tokenEndpoint);
    registerApi(server, { access, authenticator: auth.authenticator, policy: auth.policy, auditor, policies, retention, signing, signatures, pullPolicies });
  }

  const purge = setInterval(() => {
    blobs.purgeStaleUploads(config.uploads.sessionTtlMs).then(
      (n) => n && logger.info({ removed: n }, 'purged stale upload sessions'),
      (err: unknown) => logger.warn({ err }, 'upload purge failed'),
    );
  }, config.uploads.purgeIntervalMs);
  purge.unref();

  const collector = new GarbageCollector(gcStore, blobStore);
  let collecting: Promise<GcReport> | undefined;
  const collectGarbage = (options: GcOverrides = {}): Promise<GcReport> => {
    const run = () =>
      collector.run({
        reviewDelayMs: options.reviewDelayMs ?? config.gc.reviewDelayMs,
        deleteUntaggedManifests: options.deleteUntaggedManifests ?? config.gc.deleteUntaggedManifests,
        dryRun: options.dryRun === true,
        purgeUploads: (ttl) => blobs.purgeStaleUploads(ttl),
        uploadTtlMs: config.uploads.sessionTtlMs,
        ...(forgetManifest ? { onManifestDeleted: forgetManifest } : {}),
      });
    if (options.dryRun || options.reviewDelayMs !== undefined || options.deleteUntaggedManifests !== undefined) return run();
    // One collection at a time per process; other nodes may run theirs (deletes are idempotent).
    collecting ??= run().finally(() => {
        collecting = undefined;
      });
    return collecting;
  };
  const gcTimer =
    config.gc.intervalMs > 0
      ? setInterval(() => {
          if (collecting) return;
          collectGarbage().then(
            (report) => (report.blobsDeleted || report.manifestsDeleted) && logger.info({ gc: report }, 'garbage collected'),
            (err: unknown) => logger.warn({ err }, 'garbage collection failed'),
          );
        }, config.gc.intervalMs)
      : undefined;
  gcTimer?.unref();

  let retaining: Promise<unknown> | undefined;
  const retentionTimer =
    config.retention.intervalMs > 0
      ? setInterval(() => {
          if (retaining) return;
          retaining = retention
            .runDue(config.retention.intervalMs)
            .then(
              (reports) => {
                for (const r of reports) if (r.tagsRemoved || r.manifestsRemoved) logger.info({ retention: { ...r, removedTags: undefined, removedManifests: undefined } }, 'retention policy applied');
              },
              (err: unknown) => logger.warn({ err }, 'retention run failed'),
            )
            .finally(() => {
              retaining = undefined;
            });
        }, Math.min(config.retention.intervalMs, 60_000))
      : undefined;
  retentionTimer?.unref();

  let closed = false;
  return {
    config,
    server,
    metadata,
    access,
    auditor,
    blobStore,
    blobs,
    manifests,
    policies,
    retention,
    vulns,
    signing,
    signatures,
    pullPolicies,
    collectGarbage,
    logger,
    reloadTls() {
      if (!config.http.tls.certFile) return;
      (server.server as unknown as HttpsServer).setSecureContext(readTls(config));
      logger.info({ certFile: config.http.tls.certFile }, 'TLS certificate reloaded');
    },
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
      if (gcTimer) clearInterval(gcTimer);
      if (retentionTimer) clearInterval(retentionTimer);
      await collecting?.catch(() => undefined);
      await retaining;
      const grace = setTimeout(() => server.server.closeAllConnections(), config.http.shutdownGraceMs);
      grace.unref();
      await server.close();
      clearTimeout(grace);
      await auditor.flush();
      await policies.flush();
      await metadata.close();
    },
  };
}

/** Access control: the first admin, the token signer, the throttle, the /v2 guard. */
async function setUpAuth(config: Config, access: AccessStore, auditor: Auditor, counter: ConstructorParameters<typeof LoginThrottle>[0]) {
  const { initialAdminUsername: username, initialAdminPassword: password } = config.auth;
  if (username && password && (await access.countAdmins()) === 0) {
    try {
      await access.createUser({ username, passwordHash: await hashSecret(password), admin: true });
      await auditor.record({ actor: 'system', action: 'user.create', detail: { username, admin: true, from: 'initial admin setting' } });
    } catch {
      // Another node created it first.
    }
  }
  const tokens = await TokenService.open(access, {
    issuer: config.auth.issuer,
    service: config.auth.service,
    ttlSeconds: config.auth.tokenTtlSeconds,
    refreshTtlSeconds: config.auth.refreshTtlSeconds,
  });
  const throttle = new LoginThrottle(counter, {
    windowSeconds: config.auth.throttleWindowSeconds,
    slowAfter: config.auth.throttleSlowAfter,
    refuseAfter: config.auth.throttleRefuseAfter,
  });
  const authenticator = new Authenticator(access, tokens, throttle, auditor);
  const policy = new AccessPolicy(access);
  return {
    authenticator,
    policy,
    tokens,
    guard: tokenGuard({ authenticator, policy, service: config.auth.service, basic: config.auth.basic, ...(config.auth.realm ? { realm: config.auth.realm } : {}) }),
    tokenEndpoint: { authenticator, policy, tokens, auditor, service: config.auth.service },
  };
}

function readTls(config: Config): { cert: Buffer; key: Buffer } {
  return { cert: readFileSync(config.http.tls.certFile!), key: readFileSync(config.http.tls.keyFile!) };
}
