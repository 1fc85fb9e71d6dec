// Replication: rules that push images of this registry to another one, or pull them from it,
// run on push events (a persistent job per pushed tag or referrer), on a schedule, or by hand.
// Runs are jobs in the metadata database: one node claims each (with a lease), a failed run is
// retried with exponential backoff up to maxAttempts, and every finished run stays as history
// (with what it copied) and is announced as a `replication.done` event.
import { hostname } from 'node:os';
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { DistributionClient } from '../distribution-client/client.js';
import type { BlobService } from '../registry/blobs.js';
import type { ManifestService } from '../registry/manifests.js';
import type { MetadataStore } from '../metadata/store.js';
import type { ReplicationRule, ReplicationRun, ReplicationStore, ReplicationTrigger, RunCounts } from '../metadata/replication-store.js';
import type { RegistryEvent, StampedEvent } from '../events/model.js';
import type { ProgressReporter } from '../transfer/content.js';
import { globMatcher } from '../registry/glob.js';
import { mirrorRepositories } from '../transfer/mirror.js';
import type { MirroredReference } from '../transfer/mirror.js';
import { pushRepositories } from './push.js';
import { registryBaseUrl } from '../distribution-client/registry-url.js';
import { TargetPolicy, TargetRefused } from '../events/targets.js';

const REPOSITORY_PAGE = 1000;

export interface ReplicationOptions {
  /** Carry out queued runs and schedules on this node. */
  work: boolean;
  pollMs: number;
  leaseMs: number;
  maxAttempts: number;
  retryBaseMs: number;
  retryMaxMs: number;
  /** Per request to the peer: timeout, and retries of 5xx/connection errors (the client's own). */
  requestTimeoutMs: number;
  requestRetries: number;
  logger: Logger;
  /** Where a namespace's rules may point (replication.allowedHosts); none: nowhere. System-wide rules are not limited. */
  targets?: TargetPolicy;
  /** Where `replication.done` goes (the event bus). */
  emit?: (event: RegistryEvent) => void;
}

export interface ReplicationServices {
  blobs: BlobService;
  manifests: ManifestService;
  metadata: MetadataStore;
}

/** What one run of a rule did (or, dry, would do). */
export interface RuleReport extends RunCounts {
  direction: 'push' | 'pull';
  dryRun: boolean;
  /** Blobs the other side had already (or mounted from another repository). */
  blobsPresent: number;
  repositories: { repository: string; references: MirroredReference[] }[];
  failures: number;
}

/** The part of a rule a run copies: a repository (and a tag or digest in it), or all the rule covers. */
export interface RunTarget {
  repository: string;
  reference?: string;
}

const hasGlob = (pattern: string) => /[*?]/.test(pattern);

/** Whether a rule covers a repository: its scope (namespace) and its repository glob. */
export function ruleCovers(rule: Pick<ReplicationRule, 'namespace' | 'repositories'>, repository: string): boolean {
  if (rule.namespace !== null && !repository.startsWith(`${rule.namespace}/`)) return false;
  return globMatcher(rule.repositories)(repository);
}

function firstError(report: RuleReport): string | undefined {
  for (const r of report.repositories) for (const ref of r.references) if (ref.status === 'failed') return `${r.repository}:${ref.reference}: ${ref.error ?? 'failed'}`;
  return undefined;
}

export class ReplicationService {
  private readonly worker = `${hostname()}:${randomUUID().slice(0, 8)}`;
  private timer: NodeJS.Timeout | undefined;
  private busy: Promise<void> | undefined;
  private again = false;
  private stopped = false;

  constructor(
    readonly store: ReplicationStore,
    private readonly services: ReplicationServices,
    private readonly options: ReplicationOptions,
  ) {}

  /** Event listener: queue a job for each push rule (trigger `event`) a pushed tag or referrer falls under. */
  readonly record = async (event: StampedEvent): Promise<void> => {
    if (event.kind !== 'push') return;
    const rules = (await this.store.listEnabledRules()).filter((r) => r.direction === 'push' && r.trigger === 'event' && ruleCovers(r, event.repository));
    let queued = 0;
    for (const rule of rules) {
      let reference: string | undefined;
      if (event.tag !== undefined) {
        if (rule.tags === null || globMatcher(rule.tags)(event.tag)) reference = event.tag;
      } else if (rule.referrers) {
        // Pushed by digest: a referrer (signature, SBOM) goes after its subject; children of an index come with it.
        const record = await this.services.metadata.getManifest(event.repository, event.digest);
        if (record?.subjectDigest) reference = event.digest;
      }
      if (reference === undefined) continue;
      if (await this.store.enqueueRun({ ruleId: rule.id, trigger: 'event', repository: event.repository, reference })) queued++;
    }
    if (queued) this.wake();
  };

  /**
   * Refuses (TargetRefused) a remote a namespace's rule may not point at: namespace owners must
   * not make this registry reach internal services (SSRF), so their remotes are on
   * replication.allowedHosts. Checked when a rule is saved (no DNS) and before each run (resolved).
   */
  checkRemote(namespace: string | null, remote: string): void {
    if (namespace !== null) this.namespaceTargets().check(registryBaseUrl(remote).href);
  }

  private namespaceTargets(): TargetPolicy {
    return this.options.targets ?? new TargetPolicy([], undefined, 'replication.allowedHosts');
  }

  /** Queue a run of the whole rule (the API's "run now"); a worker carries it out. */
  async enqueue(rule: ReplicationRule, trigger: ReplicationTrigger): Promise<ReplicationRun | undefined> {
    const run = await this.store.enqueueRun({ ruleId: rule.id, trigger, repository: null, reference: null });
    this.wake();
    return run;
  }

  /**
   * Run a rule now, in this process (`registry replicate`), recorded in its history unless dry.
   * Failures are in the report (and the run's state), not thrown.
   */
  async runNow(rule: ReplicationRule, options: { dryRun?: boolean; onProgress?: ProgressReporter } = {}): Promise<{ run?: ReplicationRun; report: RuleReport }> {
    if (options.dryRun) return { report: await this.execute(rule, undefined, true, options.onProgress) };
    const run = await this.store.startRun({ ruleId: rule.id, trigger: 'manual', worker: this.worker, leaseMs: this.options.leaseMs });
    let report: RuleReport;
    const stopRenewing = this.keepLease(run.id);
    try {
      report = await this.execute(rule, undefined, false, options.onProgress);
    } catch (err) {
      report = { direction: rule.direction, dryRun: false, manifests: 0, blobs: 0, bytes: 0, blobsPresent: 0, repositories: [{ repository: rule.repositories, references: [{ reference: '(list)', status: 'failed', error: messageOf(err) }] }], failures: 1 };
    } finally {
      stopRenewing();
    }
    const error = firstError(report) ?? null;
    await this.store.finishRun(run.id, this.worker, error ? 'failed' : 'done', report, error);
    this.announce(rule, run, error ? 'failed' : 'done');
    return { run: (await this.store.getRun(run.id)) ?? run, report };
  }

  /** Copy what the rule covers (or just `target`) in the rule's direction. */
  async execute(rule: ReplicationRule, target: RunTarget | undefined, dryRun: boolean, onProgress?: ProgressReporter): Promise<RuleReport> {
    const targets = rule.namespace !== null ? this.namespaceTargets() : undefined;
    if (targets) {
      try {
        await targets.resolveTarget(registryBaseUrl(rule.remoteUrl).href);
      } catch (err) {
        if (err instanceof TargetRefused) throw new Error(`remote not allowed: ${err.message}`);
        throw err;
      }
    }
    const client = new DistributionClient(rule.remoteUrl, {
      // The remote's answers lead elsewhere too (redirects, its token realm, upload locations):
      // each URL is held to the same list, and each connection goes to an address the list
      // allows, resolved when it is opened (a name cannot rebind to another after the check).
      ...(targets ? { checkTarget: async (url: URL) => void (await targets.resolveTarget(url.href)), connectTo: (host: string) => targets.addressOf(host) } : {}),
      ...(rule.username !== null ? { credentials: { username: rule.username, password: rule.password ?? '' } } : {}),
      timeoutMs: this.options.requestTimeoutMs,
      retries: this.options.requestRetries,
      userAgent: 'oci-registry-replication',
    });
    try {
      return await this.executeWith(client, rule, target, dryRun, onProgress);
    } finally {
      await client.close();
    }
  }

  private async executeWith(client: DistributionClient, rule: ReplicationRule, target: RunTarget | undefined, dryRun: boolean, onProgress?: ProgressReporter): Promise<RuleReport> {
    const single = target && (target.reference === undefined ? target.repository : target.reference.includes(':') ? `${target.repository}@${target.reference}` : `${target.repository}:${target.reference}`);
    const base = { dryRun, blobsPresent: 0 };
    if (rule.direction === 'push') {
      const repositories = single ? [single] : await this.localRepositories(rule);
      const r = await pushRepositories(client, this.services, { repositories, ...(rule.tags !== null ? { tags: rule.tags } : {}), referrers: rule.referrers, dryRun }, onProgress);
      return { ...base, direction: 'push', manifests: r.manifestsCopied, blobs: r.blobsSent, bytes: r.bytesSent, blobsPresent: r.blobsPresent, repositories: r.repositories, failures: r.failures };
    }
    const repositories = single ? [single] : hasGlob(rule.repositories) ? (await client.listRepositories()).filter((name) => ruleCovers(rule, name)).sort() : [rule.repositories];
    if (dryRun) {
      const matches = rule.tags !== null ? globMatcher(rule.tags) : () => true;
      const listed = [];
      for (const repository of repositories) listed.push({ repository, references: (await client.listTags(repository)).filter(matches).map((reference) => ({ reference, status: 'unchanged' as const })) });
      return { ...base, direction: 'pull', manifests: 0, blobs: 0, bytes: 0, repositories: listed, failures: 0 };
    }
    const r = await mirrorRepositories(client, this.services, { repositories, ...(rule.tags !== null ? { tags: rule.tags } : {}), referrers: rule.referrers }, onProgress);
    return { ...base, direction: 'pull', manifests: r.manifestsCopied, blobs: r.blobsFetched, bytes: r.bytesFetched, blobsPresent: r.blobsPresent, repositories: r.repositories, failures: r.failures };
  }

  private async localRepositories(rule: ReplicationRule): Promise<string[]> {
    const names: string[] = [];
    for (;;) {
      const page = await this.services.metadata.listRepositories({ limit: REPOSITORY_PAGE, ...(names.length ? { after: names[names.length - 1]! } : {}) });
      names.push(...page);
      if (page.length < REPOSITORY_PAGE) break;
    }
    return names.filter((name) => ruleCovers(rule, name));
  }

  // ---- workers ----

  start(): void {
    if (!this.options.work) return;
    this.stopped = false;
    this.tick();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.busy;
  }

  /** Look for work now (a job was queued on this node). */
  wake(): void {
    if (!this.options.work || this.stopped) return;
    if (this.busy) this.again = true;
    else {
      clearTimeout(this.timer);
      this.tick();
    }
  }

  private tick(): void {
    if (this.stopped || this.busy) return;
    this.again = false;
    this.busy = this.work()
      .catch((err: unknown) => this.options.logger.warn({ err }, 'replication worker failed'))
      .finally(() => {
        this.busy = undefined;
        if (this.stopped) return;
        this.timer = setTimeout(() => this.tick(), this.again ? 0 : this.options.pollMs);
        this.timer.unref();
      });
  }

  private async work(): Promise<void> {
    await this.queueScheduled();
    while (!this.stopped) {
      const run = await this.store.claimRun(this.worker, this.options.leaseMs);
      if (!run) return;
      await this.carryOut(run);
    }
  }

  /** Queue a run of each scheduled rule whose interval has passed (one node takes each slot). */
  private async queueScheduled(): Promise<void> {
    const now = Date.now();
    for (const rule of await this.store.listEnabledRules()) {
      if (rule.trigger !== 'schedule' || rule.intervalMs === null) continue;
      if (rule.lastScheduledAt !== null && rule.lastScheduledAt.getTime() + rule.intervalMs > now) continue;
      if (await this.store.markScheduled(rule.id, rule.lastScheduledAt, new Date(now))) await this.store.enqueueRun({ ruleId: rule.id, trigger: 'schedule', repository: null, reference: null });
    }
  }

  private async carryOut(run: ReplicationRun): Promise<void> {
    const rule = await this.store.getRule(run.ruleId);
    const none = { manifests: 0, blobs: 0, bytes: 0 };
    if (!rule) {
      await this.store.finishRun(run.id, this.worker, 'failed', none, 'the rule was removed');
      return;
    }
    let counts: RunCounts = none;
    let error: string | undefined;
    const stopRenewing = this.keepLease(run.id);
    try {
      const report = await this.execute(rule, run.repository !== null ? { repository: run.repository, ...(run.reference !== null ? { reference: run.reference } : {}) } : undefined, false);
      counts = report;
      error = firstError(report);
    } catch (err) {
      error = messageOf(err);
    } finally {
      stopRenewing();
    }
    if (error === undefined) {
      await this.store.finishRun(run.id, this.worker, 'done', counts, null);
      this.announce(rule, run, 'done');
    } else if (run.attempts + 1 >= this.options.maxAttempts) {
      await this.store.finishRun(run.id, this.worker, 'failed', counts, error);
      this.announce(rule, run, 'failed');
      this.options.logger.warn({ rule: rule.id, run: run.id, error }, 'replication run failed; giving up');
    } else {
      const delay = Math.min(this.options.retryMaxMs, this.options.retryBaseMs * 2 ** run.attempts);
      await this.store.retryRun(run.id, this.worker, counts, error, Date.now() + delay);
      this.options.logger.info({ rule: rule.id, run: run.id, attempt: run.attempts + 1, retryInMs: delay, error }, 'replication run failed; will retry');
    }
  }

  /**
   * Renew the run's lease while it is carried out, so a run longer than the lease is not taken
   * over (and copied a second time) by another node. Returns the function that stops renewing.
   */
  private keepLease(runId: string): () => void {
    const timer = setInterval(() => {
      this.store.renewRun(runId, this.worker, this.options.leaseMs).catch((err: unknown) => this.options.logger.warn({ err, run: runId }, 'could not renew the replication run lease'));
    }, Math.max(10, this.options.leaseMs / 3));
    timer.unref();
    return () => clearInterval(timer);
  }

  private announce(rule: ReplicationRule, run: ReplicationRun, status: 'done' | 'failed'): void {
    const reference = run.reference ?? undefined;
    this.options.emit?.({
      kind: 'replication.done',
      repository: run.repository ?? rule.repositories,
      ...(reference?.includes(':') ? { digest: reference } : reference !== undefined ? { tag: reference } : {}),
      peer: rule.remoteUrl,
      status,
      actor: 'replication',
    });
  }
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
