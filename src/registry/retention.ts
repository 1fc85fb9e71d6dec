// Retention: which tags and untagged manifests a policy removes, and removing them.
//
// Per repository the policy matches: tags are ranked newest first (by when the tag was last
// pushed); keepTags and the newest keepLatest candidates stay; the other candidates (tags
// matching removeTags, or all) go when every age condition set holds. With `untagged`, the
// manifests then left without a tag, an index listing them or a present subject go too, once
// older than a grace period (a multi-arch push sends its platform manifests before the index).
// Immutable tags are never removed. Bytes are reclaimed by the next garbage collection.
import type { SqlGcStore } from '../metadata/sql-gc-store.js';
import type { MetadataStore } from '../metadata/store.js';
import type { ManifestNode, RetentionPolicy, RetentionRules, RetentionRunSummary, RetentionStore, TaggedManifest } from '../metadata/retention-store.js';
import type { ImmutableRule } from '../metadata/policy-store.js';
import type { AuditInput } from '../auth/audit.js';
import { globMatch, repositoryGlobMatch } from './glob.js';

const DAY_MS = 24 * 3600_000;
/** Repositories read per page while a policy runs. */
const PAGE = 200;
/** Items listed in a report (counts are always complete). */
export const REPORT_ITEMS = 1000;

export interface TagDecision {
  tag: string;
  digest: string;
  /** Why it goes, or why it stays. */
  reason: string;
}

export interface TagPlan {
  remove: TagDecision[];
  keep: TagDecision[];
  /** Kept only because an immutable-tag rule protects them (also in `keep`). */
  immutable: TagDecision[];
}

/** Whether the rules remove tags at all (a policy may only clean untagged manifests). */
export function removesTags(rules: RetentionRules): boolean {
  return rules.keepLatest !== undefined || rules.removeTags !== undefined || rules.olderThanDays !== undefined || rules.notPulledForDays !== undefined;
}

/** Decide each tag of a repository (pure: `now` and the immutable rules are given). */
export function planTags(tags: TaggedManifest[], rules: RetentionRules, now: number, immutableRules: ImmutableRule[] = []): TagPlan {
  const plan: TagPlan = { remove: [], keep: [], immutable: [] };
  const keep = (t: TaggedManifest, reason: string) => plan.keep.push({ tag: t.tag, digest: t.digest, reason });
  if (!removesTags(rules)) {
    for (const t of tags) keep(t, 'the policy removes no tags');
    return plan;
  }
  // Newest first; ties broken by name so that runs agree.
  const ranked = [...tags].sort((a, b) => b.taggedAt.getTime() - a.taggedAt.getTime() || (a.tag < b.tag ? -1 : a.tag > b.tag ? 1 : 0));
  let candidates = 0;
  for (const t of ranked) {
    const kept = rules.keepTags?.find((p) => globMatch(p, t.tag));
    if (kept !== undefined) {
      keep(t, `matches keepTags '${kept}'`);
      continue;
    }
    if (rules.removeTags && !rules.removeTags.some((p) => globMatch(p, t.tag))) {
      keep(t, 'matches no removeTags pattern');
      continue;
    }
    candidates++;
    if (rules.keepLatest !== undefined && candidates <= rules.keepLatest) {
      keep(t, `one of the newest ${rules.keepLatest}`);
      continue;
    }
    const reasons: string[] = [];
    if (rules.keepLatest !== undefined) reasons.push(`not one of the newest ${rules.keepLatest}`);
    if (rules.olderThanDays !== undefined) {
      const ageDays = (now - t.taggedAt.getTime()) / DAY_MS;
      if (ageDays <= rules.olderThanDays) {
        keep(t, `pushed within ${rules.olderThanDays} days`);
        continue;
      }
      reasons.push(`pushed ${Math.floor(ageDays)} days ago`);
    }
    if (rules.notPulledForDays !== undefined) {
      // Never pulled counts from the push.
      const lastUse = Math.max(t.taggedAt.getTime(), t.lastPulledAt?.getTime() ?? 0);
      const idleDays = (now - lastUse) / DAY_MS;
      if (idleDays <= rules.notPulledForDays) {
        keep(t, `pulled or pushed within ${rules.notPulledForDays} days`);
        continue;
      }
      reasons.push(t.lastPulledAt ? `not pulled for ${Math.floor(idleDays)} days` : 'never pulled');
    }
    const immutable = immutableRules.find((r) => globMatch(r.pattern, t.tag));
    if (immutable) {
      keep(t, `immutable (rule '${immutable.pattern}')`);
      plan.immutable.push(plan.keep[plan.keep.length - 1]!);
      continue;
    }
    plan.remove.push({ tag: t.tag, digest: t.digest, reason: reasons.join('; ') || 'matches removeTags' });
  }
  return plan;
}

/**
 * Manifests of the repository that are untagged once `remainingTags` are the only tags, in
 * an order that deletes an index before the manifests it lists and a subject before its
 * referrers. A manifest stays while a tag, a remaining index, or a remaining subject keeps it,
 * or while it is younger than `cutoff`.
 */
export function planUntagged(graph: ManifestNode[], taggedDigests: Set<string>, cutoff: number): ManifestNode[] {
  const byDigest = new Map(graph.map((m) => [m.digest, m]));
  const removed = new Set<string>();
  const order: ManifestNode[] = [];
  // Fixed point: each pass may free what a removed index listed or a removed subject kept.
  for (let changed = true; changed; ) {
    changed = false;
    const listed = new Set<string>();
    for (const m of graph) if (!removed.has(m.digest)) for (const c of m.children) listed.add(c);
    for (const m of graph) {
      if (removed.has(m.digest) || taggedDigests.has(m.digest) || listed.has(m.digest) || m.createdAt >= cutoff) continue;
      if (m.subject !== null && byDigest.has(m.subject) && !removed.has(m.subject)) continue;
      removed.add(m.digest);
      order.push(m);
      changed = true;
    }
  }
  return order;
}

export interface RemovedTag extends TagDecision {
  repository: string;
}

export interface RemovedManifest {
  repository: string;
  digest: string;
  size: number;
}

export interface RetentionReport {
  policy: string;
  namespace: string;
  dryRun: boolean;
  repositories: number;
  tagsRemoved: number;
  tagsKept: number;
  manifestsRemoved: number;
  /** Up to REPORT_ITEMS of each. */
  removedTags: RemovedTag[];
  removedManifests: RemovedManifest[];
  /** Tags an immutable rule kept although the policy would remove them. */
  immutableKept: RemovedTag[];
  durationMs: number;
}

export interface RetentionRunOptions {
  dryRun?: boolean;
  trigger?: RetentionRunSummary['trigger'];
  /** Who asked (audit log); scheduled runs are 'retention'. */
  actor?: string;
}

export interface RetentionServiceOptions {
  /** Untagged manifests younger than this stay (pushes in flight). */
  untaggedGraceMs: number;
  immutableRules: (namespace: string) => Promise<ImmutableRule[]>;
  audit: (event: AuditInput) => Promise<void>;
  /** Write pull counts still held in memory (so "not pulled for" sees the latest pulls). */
  flushPulls?: () => Promise<void>;
  /** A manifest was deleted behind the metadata store's back (shared cache). */
  onManifestDeleted?: (repository: string, digest: string) => Promise<void>;
  /** Told of every tag and manifest removed (events); must not throw. */
  onRemoved?: (removed: { repository: string; digest: string; tag?: string; actor: string }) => void;
}

export class RetentionService {
  constructor(
    readonly store: RetentionStore,
    private readonly metadata: MetadataStore,
    private readonly gc: SqlGcStore,
    private readonly options: RetentionServiceOptions,
  ) {}

  /** Run one policy over every repository of its namespace that it matches. */
  async run(policy: RetentionPolicy, options: RetentionRunOptions = {}): Promise<RetentionReport> {
    const started = Date.now();
    const dryRun = options.dryRun === true;
    const report: RetentionReport = {
      policy: policy.id,
      namespace: policy.namespace,
      dryRun,
      repositories: 0,
      tagsRemoved: 0,
      tagsKept: 0,
      manifestsRemoved: 0,
      removedTags: [],
      removedManifests: [],
      immutableKept: [],
      durationMs: 0,
    };
    const immutableRules = await this.options.immutableRules(policy.namespace);
    await this.options.flushPulls?.();
    let after: string | undefined;
    for (;;) {
      const page = await this.store.repositoriesIn(policy.namespace, PAGE, after);
      for (const repository of page) {
        if (!matchesRepository(policy, repository)) continue;
        report.repositories++;
        await this.runRepository(policy, repository, immutableRules, dryRun, options.actor ?? 'retention', report);
        await new Promise((res) => setImmediate(res));
      }
      if (page.length < PAGE) break;
      after = page[page.length - 1];
    }
    report.durationMs = Date.now() - started;
    const summary: RetentionRunSummary = {
      at: new Date(started).toISOString(),
      dryRun,
      tagsRemoved: report.tagsRemoved,
      manifestsRemoved: report.manifestsRemoved,
      tagsKept: report.tagsKept,
      repositories: report.repositories,
      trigger: options.trigger ?? 'manual',
    };
    if (!dryRun) await this.store.recordRun(policy.id, summary);
    return report;
  }

  private async runRepository(
    policy: RetentionPolicy,
    repository: string,
    immutableRules: ImmutableRule[],
    dryRun: boolean,
    actor: string,
    report: RetentionReport,
  ): Promise<void> {
    const now = Date.now();
    const tags = await this.store.taggedManifests(repository);
    const plan = planTags(tags, policy.rules, now, immutableRules);
    const detail = { policy: policy.id, trigger: 'retention' };
    const remaining = new Map<string, number>();
    for (const k of plan.keep) remaining.set(k.digest, (remaining.get(k.digest) ?? 0) + 1);
    for (const k of plan.immutable) if (report.immutableKept.length < REPORT_ITEMS) report.immutableKept.push({ repository, ...k });
    report.tagsKept += plan.keep.length;
    for (const t of plan.remove) {
      // Only while the tag still points where the plan saw it: a push may have moved it since.
      const removed = dryRun || (await this.metadata.deleteTag(repository, t.tag, t.digest));
      if (!removed) {
        remaining.set(t.digest, (remaining.get(t.digest) ?? 0) + 1);
        report.tagsKept++;
        continue;
      }
      report.tagsRemoved++;
      if (report.removedTags.length < REPORT_ITEMS) report.removedTags.push({ repository, ...t });
      if (!dryRun) {
        await this.options.audit({ actor, action: 'delete', repository, reference: t.tag, digest: t.digest, detail: { ...detail, reason: t.reason } });
        this.options.onRemoved?.({ repository, digest: t.digest, tag: t.tag, actor });
      }
    }
    if (!policy.rules.untagged) return;

    const cutoff = now - this.options.untaggedGraceMs;
    const graph = await this.store.manifestGraph(repository);
    const tagged = new Set(remaining.keys());
    if (!dryRun) {
      // Tags pushed since the plan was made keep their manifests too.
      for (const t of await this.store.taggedManifests(repository)) tagged.add(t.digest);
    }
    for (const m of planUntagged(graph, tagged, cutoff)) {
      // The store re-checks tags and index references in the statement that deletes.
      const removed = dryRun || (await this.gc.deleteManifestIfCollectable({ repository, digest: m.digest }, cutoff));
      if (!removed) continue;
      if (!dryRun) {
        await this.options.onManifestDeleted?.(repository, m.digest);
        await this.options.audit({ actor, action: 'delete', repository, reference: m.digest, digest: m.digest, detail: { ...detail, reason: 'untagged' } });
        this.options.onRemoved?.({ repository, digest: m.digest, actor });
      }
      report.manifestsRemoved++;
      if (report.removedManifests.length < REPORT_ITEMS) report.removedManifests.push({ repository, digest: m.digest, size: m.size });
    }
  }

  /**
   * Run every enabled policy due on this schedule. Each policy runs on one node only: the node
   * that claims it first (a conditional update of its last run time).
   */
  async runDue(intervalMs: number): Promise<RetentionReport[]> {
    const reports: RetentionReport[] = [];
    const now = Date.now();
    for (const policy of await this.store.listPolicies()) {
      if (!policy.enabled) continue;
      // A little slack, so a timer that fires a moment early does not skip a whole interval.
      if (!(await this.store.claimRun(policy.id, now - intervalMs * 0.9, now))) continue;
      reports.push(await this.run(policy, { trigger: 'schedule' }));
    }
    return reports;
  }
}

/** Whether the policy's repository glob matches the repository (the part below the namespace). */
export function matchesRepository(policy: Pick<RetentionPolicy, 'namespace' | 'repositories'>, repository: string): boolean {
  return policy.repositories === '*' || repositoryGlobMatch(policy.repositories, policy.namespace, repository);
}
