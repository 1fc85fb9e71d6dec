// Composition root: opens the stores the configuration names, builds the domain services and
// the HTTP server, and owns start-up recovery and shutdown.
import { readFileSync } from 'node:fs';
import type { Server as HttpsServer } from 'node:https';
import { pino, type Logger } from 'pino';
import type { FastifyInstance } from 'fastify';
import type { Config } from './config/schema.js';
import { ConfigError } from './config/load.js';
import { exposureRefusals, exposureWarnings } from './config/exposure.js';
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
import { AuditForwarder } from './audit/forwarder.js';
import { DirectoryAccounts } from './auth/directory-accounts.js';
import { ExternalAccounts } from './auth/external-accounts.js';
import { CliSecrets } from './auth/cli-secrets.js';
import { OidcLogin } from './auth/oidc.js';
import type { OidcStore } from './metadata/oidc-store.js';
import { LdapDirectory } from './auth/ldap.js';
import { SecondFactor } from './auth/second-factor.js';
import type { IdentityStore } from './metadata/identity-store.js';
import { configuredSinks } from './audit/sinks.js';
import { AccessPolicy } from './auth/policy.js';
import { Authenticator, hashSecret } from './auth/authenticate.js';
import { TokenService } from './auth/tokens.js';
import { FallbackCounter, LoginThrottle, MemoryCounter } from './auth/throttle.js';
import { registerTokenEndpoint } from './http/token.js';
import { registerApi } from './http/api/index.js';
import { NamespacePolicies } from './registry/policies.js';
import { ScanService, type ArtifactPush } from './scan/service.js';
import { pushReferrerArtifact } from './scan/artifacts.js';
import { PromotionService } from './registry/promotion.js';
import { RetentionService } from './registry/retention.js';
import { GarbageCollector, type GcReport } from './registry/gc.js';
import { manifestForgetter } from './metadata/open.js';
import type { VulnStore } from './metadata/vuln-store.js';
import { Metrics } from './metrics/metrics.js';
import { metricsServer } from './http/metrics.js';
import { RateLimiter } from './auth/rate-limit.js';
import { identityLimit, rateLimitedGuard } from './http/rate-limit.js';
import type { Counter } from './auth/throttle.js';
import type { Server } from 'node:http';
import { SessionService } from './auth/sessions.js';
import type { SessionStore } from './metadata/session-store.js';
import { apiReader, openReader, registerBrowseRoutes } from './http/api/browse.js';
import { registerUi } from './http/ui.js';
import { hostname } from 'node:os';
import { randomUUID } from 'node:crypto';
import { EventBus } from './events/bus.js';
import { WebhookService } from './events/webhooks.js';
import { TargetPolicy, type Resolver } from './events/targets.js';
import { ReplicationService } from './replication/service.js';
import { ProxyCache } from './proxy/cache.js';

/** How long /readyz waits for each backend. */
const READY_TIMEOUT_MS = 2_000;
import type { SigningStore } from './metadata/signing-store.js';
import { SignatureService } from './signing/signatures.js';
import { PullPolicies, type FindingsSource } from './signing/pull-policy.js';

/** A collection run's settings, defaulting to the gc section of the configuration. */
export interface GcOverrides {
  dryRun?: boolean;
  reviewDelayMs?: number;
  deleteUntaggedManifests?: boolean;
  /** 0: list the blob store for unrecorded bytes whatever the last listing (default: gc.unrecordedScanIntervalMs). */
  unrecordedScanIntervalMs?: number;
}

/** Collaborators built elsewhere that the app plugs in. */
export interface AppOptions {
  /** Vulnerability findings for pull policies (default: the built-in scanner's results). */
  findings?: FindingsSource;
  /** How host names of outbound targets (webhooks, replication, proxy redirects) resolve; tests inject one. */
  resolver?: Resolver;
}

export interface App {
  config: Config;
  server: FastifyInstance;
  metadata: MetadataStore;
  access: AccessStore;
  auditor: Auditor;
  /** Sends audit events to the configured syslog / HTTP sinks (idle when none is configured). */
  auditForwarder: AuditForwarder;
  blobStore: BlobStore;
  blobs: BlobService;
  manifests: ManifestService;
  /** Immutable tags, quotas, manifest tracking (pull counts are flushed in batches). */
  policies: NamespacePolicies;
  /** Retention policies: run one by hand, or the due ones (also every retention.intervalMs). */
  retention: RetentionService;
  /** Copy or move images between repositories without moving bytes. */
  promotion: PromotionService;
  /** Image scans: queue, workers, results (workers run when scan.enabled). */
  scans: ScanService;
  /** The vulnerability database (`registry vulndb import` fills it; its version says when it changed). */
  vulns: VulnStore;
  /** Registry events (push, pull, delete, scan.finished, quota.exceeded, ...): emit and subscribe. */
  events: EventBus;
  /** Webhooks and their delivery queue (workers run when webhooks.enabled). */
  webhooks: WebhookService;
  /** Replication rules, their queued runs (workers run when replication.enabled) and history. */
  replication: ReplicationService;
  /** Prometheus metrics; other subsystems register theirs with metrics.counter() and its kin. */
  metrics: Metrics;
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
  /**
   * Apply a re-read configuration without dropping connections (SIGHUP): the log level and the
   * TLS certificate take effect at once (the certificate files are read again even when their
   * names did not change); other changed settings are listed as needing a restart.
   */
  reload(next: Config): { applied: string[]; restartRequired: string[] };
  /**
   * Listen on the configured host and port; resolves with the bound address (and that of
   * /metrics when metrics.port gives it a port of its own).
   */
  listen(): Promise<{ host: string; port: number; metricsPort?: number }>;
  /** Stop accepting, let running requests finish (up to the grace period), close stores. */
  close(): Promise<void>;
}

export async function createApp(config: Config, logger: Logger = pino({ level: config.log.level }), options: AppOptions = {}): Promise<App> {
  // Checked before anything is opened: an insecure exposure is a configuration error.
  const refusals = exposureRefusals(config);
  if (refusals.length > 0) throw new ConfigError(refusals.join('\n'));
  const warnings = exposureWarnings(config);
  if (warnings.length > 0) logger.warn({ warnings }, 'insecure settings');
  // Opened side by side: the S3 driver's modules load while the database connects and migrates.
  const [openingBlobs, openingMetadata] = await Promise.allSettled([openBlobStore(config), openMetadataStore(config, logger)]);
  if (openingBlobs.status === 'rejected' || openingMetadata.status === 'rejected') {
    if (openingMetadata.status === 'fulfilled') await openingMetadata.value.metadata.close().catch(() => undefined);
    throw openingMetadata.status === 'rejected' ? openingMetadata.reason : (openingBlobs as PromiseRejectedResult).reason;
  }
  const blobStore = openingBlobs.value;
  const { metadata, access, policies: policyStore, redis, gc: gcStore, retention: retentionStore, vulns, scans: scanStore, signing, sessions: sessionStore, browse, webhooks: webhookStore, auditOutbox, identity, replication: replicationStore, oidc: oidcStore } = openingMetadata.value;
  // Set up below, once metrics exist; the auditor only pokes it.
  let forwarder: AuditForwarder | undefined;
  const auditor = new Auditor(access, logger, () => forwarder?.poke());
  const events = new EventBus((err, event) => logger.warn({ err, event: event.kind, repository: event.repository }, 'could not queue an event'));
  const signatures = new SignatureService(metadata, blobStore, signing);
  // Findings come from the scanner's stored results (scanService is created further down).
  const findings: FindingsSource = options.findings ?? { findingsOf: (_repository, digest) => scanService.findingsOf(digest) };
  const pullPolicies = new PullPolicies(signing, signatures, { findings });
  const policies = new NamespacePolicies(
    policyStore,
    (err, what) => logger.error({ err }, what),
    pullPolicies,
    (q) => void events.emit({ kind: 'quota.exceeded', repository: q.repository, namespace: q.namespace, quota: q.quota, message: q.message, detail: q.detail, actor: '' }),
  );
  const blobs = new BlobService(blobStore, metadata, {
    deletesEnabled: config.deletes.enabled,
    ...(config.storage.driver === 's3' && config.storage.s3.redirect ? { redirectExpirySeconds: config.storage.s3.redirectExpirySeconds } : {}),
  }, policies);
  // Bound below: pushes queue scans of their images.
  let scans: ScanService | undefined;
  const manifests = new ManifestService(
    metadata,
    {
      deletesEnabled: config.deletes.enabled,
      // Queued before the push is acknowledged, so a crash right after cannot lose the scan or the event.
      onPushed: async (e) => {
        await Promise.all([
          scans?.enqueue(e.repository, e.digest, 'push').catch((err: unknown) => logger.warn({ err, digest: e.digest }, 'could not queue a scan')),
          events.emit({ kind: 'push', ...e }),
        ]);
      },
      onPulled: (e) => void events.emit({ kind: 'pull', ...e }),
      onDeleted: (e) => void events.emit({ kind: 'delete', ...e }),
      onCached: async (e) => void (await scans?.enqueue(e.repository, e.digest, 'push').catch((err: unknown) => logger.warn({ err, digest: e.digest }, 'could not queue a scan'))),
    },
    policies,
  );

  // The filesystem store belongs to this process alone; a shared store may hold uploads other
  // nodes are just starting, so only orphans older than uploads.orphanGraceMs are removed there.
  const recovered = await blobs.recover(config.storage.driver === 'filesystem' ? 0 : config.uploads.orphanGraceMs);
  if (recovered.removedStaged || recovered.removedSessions) logger.info(recovered, 'cleaned up after an unclean stop');

  const counter: Counter = redis ?? new MemoryCounter();
  // Failed logins are counted on this node alone while Redis is down (see FallbackCounter).
  const loginCounter: Counter = redis ? new FallbackCounter(redis, new MemoryCounter(), (err) => logger.warn({ err: (err as Error).message }, 'redis unavailable: failed logins counted on this node only')) : counter;
  const auth = config.auth.enabled ? await setUpAuth(config, access, identity, auditor, loginCounter, sessionStore, oidcStore) : undefined;

  const metrics = new Metrics(
    { uploadSessions: async () => (await metadata.listUploadIds()).length, usedBytesByNamespace: () => policyStore.usedBytesByNamespace() },
    { storageRefreshMs: config.metrics.storageRefreshMs, onError: (err, what) => logger.warn({ err }, `${what} failed`) },
  );
  const deliveries = metrics.counter({ name: 'webhook_deliveries_total', help: 'Webhook delivery attempts by outcome (delivered, retry, failed: given up)', labelNames: ['outcome'] });
  const deliverySeconds = metrics.histogram({ name: 'webhook_delivery_duration_seconds', help: 'Duration of webhook delivery attempts', buckets: [0.05, 0.1, 0.5, 1, 5, 10, 30] });
  const emitted = metrics.counter({ name: 'events_total', help: 'Registry events emitted, by kind', labelNames: ['kind'] });
  const webhooks = new WebhookService(webhookStore, new TargetPolicy(config.webhooks.allowedHosts, options.resolver), {
    deliver: config.webhooks.enabled,
    workers: config.webhooks.workers,
    timeoutMs: config.webhooks.timeoutMs,
    maxAttempts: config.webhooks.maxAttempts,
    retryBaseMs: config.webhooks.retryBaseMs,
    retryMaxMs: config.webhooks.retryMaxMs,
    pollMs: config.webhooks.pollMs,
    leaseMs: config.webhooks.leaseMs,
    logRetentionMs: config.webhooks.logRetentionMs,
    source: { addr: hostname(), instanceID: randomUUID() },
    logger,
    onAttempt: (outcome, durationMs) => {
      deliveries.labels(outcome).inc();
      deliverySeconds.observe(durationMs / 1000);
    },
  });
  events.subscribe(webhooks.record);
  const replication = new ReplicationService(replicationStore, { blobs, manifests, metadata }, {
    work: config.replication.enabled,
    pollMs: config.replication.pollMs,
    leaseMs: config.replication.leaseMs,
    maxAttempts: config.replication.maxAttempts,
    retryBaseMs: config.replication.retryBaseMs,
    retryMaxMs: config.replication.retryMaxMs,
    requestTimeoutMs: config.replication.requestTimeoutMs,
    requestRetries: config.replication.requestRetries,
    targets: new TargetPolicy(config.replication.allowedHosts, options.resolver, 'replication.allowedHosts'),
    logger,
    emit: (e) => void events.emit(e),
  });
  events.subscribe(replication.record);
  events.subscribe((e) => void emitted.labels(e.kind).inc());
  const separateMetricsPort = config.metrics.port !== undefined;
  const rateLimit = config.rateLimit.enabled
    ? {
        limiter: new RateLimiter(counter, config.rateLimit, (err) => logger.warn({ err }, 'rate limit counter unavailable; request let through')),
        onRefused: (kind: string) => metrics.rateLimited.labels(kind).inc(),
      }
    : undefined;
  const limitIdentity = rateLimit ? identityLimit(rateLimit.limiter, rateLimit.onRefused) : undefined;
  const guard = auth?.guard ?? openGuard;

  const proxy = config.proxy.upstreams.length ? new ProxyCache(config.proxy.upstreams, metadata, manifests, blobs, { allowPush: config.proxy.allowPush, logger, ...(options.resolver ? { resolver: options.resolver } : {}) }) : undefined;

  const server = buildServer(
    { blobs, manifests, manifestMaxBytes: config.limits.manifestMaxBytes, guard: limitIdentity ? rateLimitedGuard(guard, limitIdentity) : guard, auditor, ...(proxy ? { proxy } : {}) },
    {
      logger,
      headersTimeoutMs: config.http.headersTimeoutMs,
      bodyIdleTimeoutMs: config.http.bodyIdleTimeoutMs,
      keepAliveTimeoutMs: config.http.keepAliveTimeoutMs,
      ...(config.http.tls.certFile ? { tls: readTls(config) } : {}),
      ready: { metadata: () => metadata.ping(), blobStore: () => blobStore.ping() },
      readyTimeoutMs: READY_TIMEOUT_MS,
      ...(config.metrics.enabled ? { metrics: { metrics, serve: !separateMetricsPort } } : {}),
      ...(rateLimit ? { rateLimit } : {}),
    },
  );
  const metricsListener: Server | undefined = config.metrics.enabled && separateMetricsPort ? metricsServer(metrics) : undefined;

  const forwarded = metrics.counter({ name: 'audit_forwarded_events_total', help: 'Audit events delivered to a forwarding sink by this node', labelNames: ['sink'] });
  const forwardFailures = metrics.counter({ name: 'audit_forwarding_failures_total', help: 'Failed deliveries of a batch of audit events (retried later)', labelNames: ['sink'] });
  const forwardDropped = metrics.counter({ name: 'audit_forwarding_dropped_events_total', help: 'Undelivered audit events dropped because the backlog was full', labelNames: ['sink'] });
  const sinks = configuredSinks(config);
  if (sinks.length > 0) {
    metrics.gauge({
      name: 'audit_forwarding_backlog_events',
      help: 'Audit events waiting for a forwarding sink, on every node (read from the metadata store)',
      labelNames: ['sink'],
      async collect() {
        for (const sink of sinks) {
          const n = await auditOutbox.backlog(sink.name).catch(() => undefined);
          if (n !== undefined) this.set({ sink: sink.name }, n);
        }
      },
    });
  }
  forwarder = new AuditForwarder(auditOutbox, sinks, {
    ...config.auditForwarding,
    service: config.auth.service,
    logger,
    onDelivered: (sink, n) => forwarded.labels(sink).inc(n),
    onFailed: (sink) => forwardFailures.labels(sink).inc(),
    onDropped: (sink, n) => forwardDropped.labels(sink).inc(n),
  });
  forwarder.start();

  const forgetManifest = manifestForgetter(metadata);
  const scansFinished = metrics.counter({ name: 'scans_total', help: 'Image scans finished on this node (and re-matches after a database change), by result', labelNames: ['status'] });
  const scanFindings = metrics.counter({ name: 'scan_findings_total', help: 'Vulnerabilities those scans found, by severity', labelNames: ['severity'] });
  metrics.gauge({
    name: 'scan_queue_jobs',
    help: 'Scan jobs waiting or running, on every node (read from the metadata store)',
    labelNames: ['state'],
    async collect() {
      const stats = await scanStore.queueStats().catch(() => undefined);
      if (!stats) return;
      this.set({ state: 'queued' }, stats.queued);
      this.set({ state: 'running' }, stats.running);
    },
  });
  const scanService = new ScanService(scanStore, vulns, blobStore, metadata, {
    workers: config.scan.enabled ? config.scan.workers : 0,
    leaseMs: config.scan.leaseMs,
    pollMs: config.scan.pollMs,
    rematchCheckMs: config.scan.rematchCheckMs,
    maxLayerBytes: config.scan.maxLayerBytes,
    logger,
    ...(config.scan.sbom ? { pushArtifact: async (a: ArtifactPush) => void (await pushReferrerArtifact(blobs, manifests, a)) } : {}),
    ...(proxy ? { fetchLayer: (repository: string, digest: string) => proxy.cacheBlob(repository, digest) } : {}),
    onFinished: (e) => {
      void events.emit({ kind: 'scan.finished', repository: e.repository, digest: e.digest, status: e.status, summary: e.summary, actor: 'scanner' });
      scansFinished.labels(e.status).inc();
      for (const [severity, n] of Object.entries(e.summary.vulnerabilities)) if (n) scanFindings.labels(severity).inc(n);
    },
  });
  if (config.scan.enabled) {
    scans = scanService;
    scanService.start();
  }
  const promotion = new PromotionService(metadata, blobs, manifests, async (repository, record) => {
    const refusal = await pullPolicies.verdict(repository, record);
    if (refusal) throw refusal;
  });
  const retention = new RetentionService(retentionStore, metadata, gcStore, {
    untaggedGraceMs: config.retention.untaggedGraceMs,
    immutableRules: (namespace) => policyStore.listImmutableRules(namespace),
    audit: (event) => auditor.record(event),
    flushPulls: () => policies.flush(),
    ...(forgetManifest ? { onManifestDeleted: forgetManifest } : {}),
    onRemoved: (e) => void events.emit({ kind: 'delete', ...e, reason: 'retention' }),
  });
  webhooks.start();
  replication.start();

  const browseContext = { browse, metadata, manifests, blobs, policies, signatures, authEnabled: auth !== undefined };
  if (auth) {
    registerTokenEndpoint(server, auth.tokenEndpoint);
    const apiContext = {
      access,
      authenticator: auth.authenticator,
      secondFactor: auth.secondFactor,
      policy: auth.policy,
      auditor,
      policies,
      retention,
      scans: scanService,
      gc: {
        settings: { intervalMs: config.gc.intervalMs, reviewDelayMs: config.gc.reviewDelayMs, deleteUntaggedManifests: config.gc.deleteUntaggedManifests, unrecordedScanIntervalMs: config.gc.unrecordedScanIntervalMs },
        last: () => lastGc,
        run: (dryRun: boolean) => collectGarbage({ dryRun }),
      },
      promotion,
      signing,
      signatures,
      pullPolicies,
      webhooks,
      replication,
      ...(limitIdentity ? { limitIdentity } : {}),
      ...(auth.sessions ? { sessions: { service: auth.sessions, secureCookies: config.ui.secureCookies } } : {}),
      ...(auth.oidc && auth.cliSecrets ? { oidc: auth.oidc, cliSecrets: auth.cliSecrets } : {}),
    };
    registerApi(server, apiContext);
    registerBrowseRoutes(server, { ...browseContext, reader: apiReader(apiContext) });
  } else if (config.ui.enabled) {
    // Without access control anyone may read everything (as on /v2): the UI browses read-only.
    registerBrowseRoutes(server, { ...browseContext, reader: async () => openReader });
  }
  if (config.ui.enabled && !registerUi(server)) logger.warn('the web UI is not built (npm run build); / is not served');

  const purge = setInterval(() => {
    blobs.purgeStaleUploads(config.uploads.sessionTtlMs).then(
      (n) => n && logger.info({ removed: n }, 'purged stale upload sessions'),
      (err: unknown) => logger.warn({ err }, 'upload purge failed'),
    );
    auth?.sessions?.purgeExpired().catch((err: unknown) => logger.warn({ err }, 'session purge failed'));
    auth?.oidc?.purgeExpired().catch((err: unknown) => logger.warn({ err }, 'single sign-on purge failed'));
  }, config.uploads.purgeIntervalMs);
  purge.unref();

  const collector = new GarbageCollector(gcStore, blobStore);
  let lastGc: { at: Date; report: GcReport } | undefined;
  let collecting: Promise<GcReport> | undefined;
  const collectGarbage = (options: GcOverrides = {}): Promise<GcReport> => {
    const run = async () => {
      const report = await collector.run({
        reviewDelayMs: options.reviewDelayMs ?? config.gc.reviewDelayMs,
        deleteUntaggedManifests: options.deleteUntaggedManifests ?? config.gc.deleteUntaggedManifests,
        unrecordedScanIntervalMs: options.unrecordedScanIntervalMs ?? config.gc.unrecordedScanIntervalMs,
        dryRun: options.dryRun === true,
        purgeUploads: (ttl) => blobs.purgeStaleUploads(ttl),
        uploadTtlMs: config.uploads.sessionTtlMs,
        onManifestDeleted: async (repository, digest) => {
          await forgetManifest?.(repository, digest);
          void events.emit({ kind: 'delete', repository, digest, actor: 'gc', reason: 'gc' });
        },
      });
      metrics.recordGc(report);
      if (!report.dryRun) lastGc = { at: new Date(), report };
      return report;
    };
    if (options.dryRun || options.reviewDelayMs !== undefined || options.deleteUntaggedManifests !== undefined || options.unrecordedScanIntervalMs !== undefined) return run();
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
    auditForwarder: forwarder,
    blobStore,
    blobs,
    manifests,
    policies,
    retention,
    promotion,
    vulns,
    scans: scanService,
    events,
    webhooks,
    replication,
    metrics,
    signing,
    signatures,
    pullPolicies,
    collectGarbage,
    logger,
    reload(next: Config) {
      const changed = changedSettings(config, next);
      const applied: string[] = [];
      // A server started without TLS cannot start using it (nor stop) without a restart.
      if (config.http.tls.certFile && next.http.tls.certFile) {
        (server.server as unknown as HttpsServer).setSecureContext(readTls(next));
        config.http.tls = next.http.tls;
        applied.push('http.tls');
      }
      const levelChanged = changed.includes('log.level');
      if (levelChanged) applied.push('log.level');
      const restartRequired = changed.filter((path) => path !== 'log.level' && !(applied.includes('http.tls') && path.startsWith('http.tls.')));
      // Logged before a new level applies, so a quieter level does not hide the reload itself.
      logger.info({ applied, restartRequired }, 'configuration reloaded');
      // The running server keeps its settings, but the next start would refuse these.
      const refused = exposureRefusals(next);
      if (refused.length > 0) logger.warn({ refusals: refused }, 'the reloaded configuration would be refused at the next start');
      if (levelChanged) {
        logger.level = next.log.level;
        config.log.level = next.log.level;
      }
      return { applied, restartRequired };
    },
    async listen() {
      await server.listen({ host: config.http.host, port: config.http.port });
      const address = server.server.address();
      if (address === null || typeof address === 'string') throw new Error('server is not listening on TCP');
      if (!metricsListener) return { host: address.address, port: address.port };
      await new Promise<void>((resolve, reject) => {
        metricsListener.once('error', reject);
        metricsListener.listen(config.metrics.port, config.metrics.host ?? config.http.host, () => resolve());
      });
      const metricsAddress = metricsListener.address();
      return { host: address.address, port: address.port, ...(metricsAddress && typeof metricsAddress !== 'string' ? { metricsPort: metricsAddress.port } : {}) };
    },
    async close() {
      if (closed) return;
      closed = true;
      clearInterval(purge);
      if (gcTimer) clearInterval(gcTimer);
      if (retentionTimer) clearInterval(retentionTimer);
      await collecting?.catch(() => undefined);
      await scanService.stop();
      await retaining;
      const grace = setTimeout(() => server.server.closeAllConnections(), config.http.shutdownGraceMs);
      grace.unref();
      await server.close();
      clearTimeout(grace);
      await proxy?.close();
      if (metricsListener?.listening) {
        const stopped = new Promise((resolve) => metricsListener.close(resolve));
        metricsListener.closeAllConnections();
        await stopped;
      }
      await auditor.flush();
      await forwarder?.stop();
      await policies.flush();
      await replication.stop();
      await events.settle();
      await webhooks.stop();
      await metadata.close();
    },
  };
}

/** Access control: the first admin, the token signer, the throttle, the /v2 guard. */
async function setUpAuth(config: Config, access: AccessStore, identity: IdentityStore, auditor: Auditor, counter: Counter, sessionStore: SessionStore, oidcStore: OidcStore) {
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
  const directory = config.ldap.url
    ? new DirectoryAccounts(
        new LdapDirectory({ ...config.ldap, url: config.ldap.url, userBaseDn: config.ldap.userBaseDn! }),
        new ExternalAccounts(access, identity, auditor, { provider: 'ldap', adminGroups: config.ldap.adminGroups, roleRules: config.ldap.roleRules }),
      )
    : undefined;
  // CLI secrets work only while single sign-on is configured: removing the provider ends them.
  const cliSecrets = config.oidc.issuer ? new CliSecrets(oidcStore, access, auditor, { ttlDays: config.oidc.cliSecretTtlDays }) : undefined;
  const oidc =
    config.oidc.issuer && cliSecrets
      ? new OidcLogin(
          { ...config.oidc, issuer: config.oidc.issuer, clientId: config.oidc.clientId!, redirectUrl: config.oidc.redirectUrl! },
          oidcStore,
          new ExternalAccounts(access, identity, auditor, { provider: 'oidc', adminGroups: config.oidc.adminGroups, roleRules: config.oidc.roleRules, stableSubject: true }),
          cliSecrets,
          auditor,
        )
      : undefined;
  const secondFactor = new SecondFactor(identity, access, config.mfa);
  const authenticator = new Authenticator(access, tokens, throttle, auditor, directory ? { accounts: directory, cacheTtlMs: config.ldap.cacheTtlMs } : undefined, secondFactor, cliSecrets);
  const policy = new AccessPolicy(access);
  const sessions = config.ui.enabled ? new SessionService(sessionStore, access, authenticator, auditor, { ttlSeconds: config.ui.sessionTtlSeconds }, secondFactor) : undefined;
  return {
    authenticator,
    oidc,
    cliSecrets,
    secondFactor,
    policy,
    tokens,
    sessions,
    guard: tokenGuard({
      authenticator,
      policy,
      service: config.auth.service,
      basic: config.auth.basic,
      ...(config.auth.realm ? { realm: config.auth.realm } : {}),
      ...(sessions ? { sessions } : {}),
    }),
    tokenEndpoint: { authenticator, policy, tokens, auditor, service: config.auth.service },
  };
}

function readTls(config: Config): { cert: Buffer; key: Buffer } {
  return { cert: readFileSync(config.http.tls.certFile!), key: readFileSync(config.http.tls.keyFile!) };
}

/** Dotted paths of the settings whose values differ (secrets compared, never printed). */
export function changedSettings(a: unknown, b: unknown, prefix = ''): string[] {
  if (a !== null && b !== null && typeof a === 'object' && typeof b === 'object' && !Array.isArray(a) && !Array.isArray(b)) {
    const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
    return [...keys].sort().flatMap((k) => changedSettings((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k], prefix ? `${prefix}.${k}` : k));
  }
  return JSON.stringify(a) === JSON.stringify(b) ? [] : [prefix];
}
