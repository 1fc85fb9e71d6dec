// Retention policies: which tags and untagged manifests of a namespace's repositories are
// removed on a schedule. Beside MetadataStore, on the same database, keyed by namespace name.

export interface RetentionRules {
  /** The newest N tags (by when the tag was last pushed) are always kept. */
  keepLatest?: number;
  /** Tags matching any of these globs are always kept. */
  keepTags?: string[];
  /** Only tags matching one of these globs may be removed (default: every tag). */
  removeTags?: string[];
  /** A tag is removed only when pushed more than this many days ago. */
  olderThanDays?: number;
  /** A tag is removed only when its manifest was not pulled (nor pushed) for this many days. */
  notPulledForDays?: number;
  /** Also remove manifests no tag points at (and no index or present subject keeps). */
  untagged?: boolean;
}

export interface RetentionRunSummary {
  at: string;
  dryRun: boolean;
  tagsRemoved: number;
  manifestsRemoved: number;
  tagsKept: number;
  repositories: number;
  trigger: 'schedule' | 'manual';
}

export interface RetentionPolicy {
  id: string;
  namespace: string;
  /** Glob over the repository path below the namespace; `*` for every repository. */
  repositories: string;
  rules: RetentionRules;
  enabled: boolean;
  createdBy: string;
  createdAt: Date;
  updatedAt: Date;
  lastRunAt: Date | null;
  lastRun: RetentionRunSummary | null;
}

export type NewRetentionPolicy = Pick<RetentionPolicy, 'namespace' | 'repositories' | 'rules' | 'enabled' | 'createdBy'>;
export type RetentionPolicyChanges = Partial<Pick<RetentionPolicy, 'repositories' | 'rules' | 'enabled'>>;

/** A tag and what retention decides on: when it was pushed and its manifest last pulled. */
export interface TaggedManifest {
  tag: string;
  digest: string;
  /** When the tag was last pushed or moved. */
  taggedAt: Date;
  lastPulledAt: Date | null;
}

/** A manifest of a repository with what keeps it alive when untagged. */
export interface ManifestNode {
  digest: string;
  size: number;
  createdAt: number;
  /** The manifest it refers to (referrers API), if any. */
  subject: string | null;
  /** Manifests it lists (an index). */
  children: string[];
}

export interface RetentionStore {
  /** Every policy, or a namespace's, oldest first. */
  listPolicies(namespace?: string): Promise<RetentionPolicy[]>;
  getPolicy(namespace: string, id: string): Promise<RetentionPolicy | undefined>;
  createPolicy(policy: NewRetentionPolicy): Promise<RetentionPolicy>;
  updatePolicy(namespace: string, id: string, changes: RetentionPolicyChanges): Promise<RetentionPolicy | undefined>;
  deletePolicy(namespace: string, id: string): Promise<RetentionPolicy | undefined>;
  /**
   * Take a scheduled run: true for exactly one caller (of all nodes) when the policy last ran
   * before `notSince`; records `now` as its last run.
   */
  claimRun(id: string, notSince: number, now: number): Promise<boolean>;
  recordRun(id: string, summary: RetentionRunSummary): Promise<void>;
  /** Repositories of the namespace in name order, keyset paged. */
  repositoriesIn(namespace: string, limit: number, after?: string): Promise<string[]>;
  /** Every tag of the repository with its push and pull times. */
  taggedManifests(repository: string): Promise<TaggedManifest[]>;
  /** Every manifest of the repository with its subject and the manifests it lists. */
  manifestGraph(repository: string): Promise<ManifestNode[]>;
}
