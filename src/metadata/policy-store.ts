// Namespace policies and manifest tracking: immutable-tag rules, quotas and their usage, and
// who pushed a manifest when and how often it was pulled. Beside MetadataStore and on the same
// database; keyed by namespace name, so it works whether or not access control is on.

export interface ImmutableRule {
  id: string;
  namespace: string;
  /** Glob over tag names: `*` any run of characters, `?` exactly one. */
  pattern: string;
  createdBy: string;
  createdAt: Date;
}

export interface NamespaceQuota {
  namespace: string;
  /** null: no limit. */
  limitBytes: number | null;
  limitRepositories: number | null;
}

export interface ManifestStats {
  digest: string;
  pushedAt: Date | null;
  pushedBy: string | null;
  lastPulledAt: Date | null;
  pullCount: number;
}

export interface TagStats extends ManifestStats {
  tag: string;
}

/** Pulls of one manifest accumulated in memory since the last flush. */
export interface PullBatchEntry {
  repository: string;
  digest: string;
  count: number;
  lastPulledAt: Date;
}

export interface PolicyStore {
  listImmutableRules(namespace: string): Promise<ImmutableRule[]>;
  /** Throws when the namespace has the pattern already. */
  addImmutableRule(rule: Pick<ImmutableRule, 'namespace' | 'pattern' | 'createdBy'>): Promise<ImmutableRule>;
  deleteImmutableRule(namespace: string, id: string): Promise<ImmutableRule | undefined>;

  getQuota(namespace: string): Promise<NamespaceQuota | undefined>;
  setQuota(quota: NamespaceQuota): Promise<void>;
  /** Sum of the sizes of the distinct blobs linked into any repository of the namespace. */
  usedBytes(namespace: string): Promise<number>;
  /** usedBytes of every namespace holding blobs, in one query (for metrics). */
  usedBytesByNamespace(): Promise<Map<string, number>>;
  repositoryCount(namespace: string): Promise<number>;
  /** Whether any repository of the namespace links the blob. */
  blobInNamespace(namespace: string, digest: string): Promise<boolean>;
  repositoryExists(repository: string): Promise<boolean>;

  /** The digest the tag points at, read from the database (never a cache). */
  tagDigest(repository: string, tag: string): Promise<string | undefined>;
  /** Tags of the repository pointing at the manifest. */
  tagsOf(repository: string, digest: string): Promise<string[]>;

  recordPush(repository: string, digest: string, actor: string, at: Date): Promise<void>;
  /** Add a batch of pulls (several manifests, one transaction). Pulls of deleted manifests are dropped. */
  recordPulls(pulls: PullBatchEntry[]): Promise<void>;
  /** Tags in lexical order with their manifest's tracking data. */
  listTagStats(repository: string, page: { limit: number; after?: string }): Promise<TagStats[]>;
}
