// Replication rules and their runs. Beside MetadataStore, on the same database: a run is a job
// (queued, claimed with a lease by one node, retried with backoff) and, once finished, a line of
// the rule's history.

export type ReplicationDirection = 'push' | 'pull';
export type ReplicationTrigger = 'event' | 'schedule' | 'manual';
export type RunState = 'queued' | 'running' | 'done' | 'failed';

export interface ReplicationRule {
  id: string;
  /** Null: a system-wide rule (administrators). */
  namespace: string | null;
  direction: ReplicationDirection;
  /** The other registry: host[:port] or a URL. */
  remoteUrl: string;
  username: string | null;
  /** Stored as given (the other registry needs it); never shown. */
  password: string | null;
  /** Glob over repository names (here for push, at the remote for pull). */
  repositories: string;
  /** Glob over tags; null: every tag. */
  tags: string | null;
  /** Also copy signatures, SBOMs and other referrers. */
  referrers: boolean;
  trigger: ReplicationTrigger;
  /** For trigger `schedule`: how often. */
  intervalMs: number | null;
  enabled: boolean;
  lastScheduledAt: Date | null;
  createdBy: string;
  createdAt: Date;
  updatedAt: Date;
}

export type NewReplicationRule = Omit<ReplicationRule, 'id' | 'createdAt' | 'updatedAt' | 'lastScheduledAt'>;
export type ReplicationRuleChanges = Partial<Pick<ReplicationRule, 'remoteUrl' | 'username' | 'password' | 'repositories' | 'tags' | 'referrers' | 'trigger' | 'intervalMs' | 'enabled'>>;

export interface RunCounts {
  manifests: number;
  blobs: number;
  bytes: number;
}

export interface ReplicationRun extends RunCounts {
  id: string;
  ruleId: string;
  trigger: ReplicationTrigger;
  /** What an event-triggered run copies (`repo`, with `reference` a tag or digest); null: the whole rule. */
  repository: string | null;
  reference: string | null;
  state: RunState;
  attempts: number;
  createdAt: Date;
  notBefore: Date;
  startedAt: Date | null;
  finishedAt: Date | null;
  error: string | null;
}

export interface ReplicationStore {
  listRules(namespace: string | null): Promise<ReplicationRule[]>;
  /** Enabled rules of every scope (what events and the scheduler look at). */
  listEnabledRules(): Promise<ReplicationRule[]>;
  /** A rule by id; `namespace` undefined: in any scope. */
  getRule(id: string, namespace?: string | null): Promise<ReplicationRule | undefined>;
  createRule(rule: NewReplicationRule): Promise<ReplicationRule>;
  updateRule(namespace: string | null, id: string, changes: ReplicationRuleChanges): Promise<ReplicationRule | undefined>;
  deleteRule(namespace: string | null, id: string): Promise<ReplicationRule | undefined>;
  /** Remove a namespace's rules and their history (the namespace is deleted); how many. */
  deleteNamespaceRules(namespace: string): Promise<number>;
  /** Take the rule's schedule slot (false when another node took it since `previous` was read). */
  markScheduled(id: string, previous: Date | null, at: Date): Promise<boolean>;

  /** Queue a run, unless an identical one (same rule, repository, reference) is still queued. */
  enqueueRun(run: { ruleId: string; trigger: ReplicationTrigger; repository: string | null; reference: string | null }): Promise<ReplicationRun | undefined>;
  /** Record a run that is carried out right away by the caller (state running). */
  startRun(run: { ruleId: string; trigger: ReplicationTrigger; worker: string; leaseMs: number }): Promise<ReplicationRun>;
  claimRun(worker: string, leaseMs: number): Promise<ReplicationRun | undefined>;
  /** Extend a running run's lease (false: the run is no longer this worker's). */
  renewRun(id: string, worker: string, leaseMs: number): Promise<boolean>;
  finishRun(id: string, worker: string, state: 'done' | 'failed', counts: RunCounts, error: string | null): Promise<boolean>;
  /** Back to the queue until `retryAt`, with the error of this attempt. */
  retryRun(id: string, worker: string, counts: RunCounts, error: string, retryAt: number): Promise<void>;
  getRun(id: string): Promise<ReplicationRun | undefined>;
  /** A rule's runs, newest first. */
  listRuns(ruleId: string, limit: number): Promise<ReplicationRun[]>;
}
