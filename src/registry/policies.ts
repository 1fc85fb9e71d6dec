// Namespace policies the domain enforces: immutable tags, storage and repository quotas, the
// tracking of who pushed a manifest and how often it is pulled, and (through a PullCheck) the
// pull policy. ManifestService and
// BlobService see only the RegistryPolicies interface; NamespacePolicies implements it on a
// PolicyStore (rules and quotas are kept per namespace name, with or without access control).
import { RegistryError } from './errors.js';
import { globMatch } from './glob.js';
import { namespaceOf } from './names.js';
import type { ImmutableRule, PolicyStore, PullBatchEntry } from '../metadata/policy-store.js';
import type { LinkQuota, ManifestRecord } from '../metadata/store.js';
import type { Identity } from '../auth/model.js';

export interface RegistryPolicies {
  /**
   * Before pointing `tag` at `digest`: refuses to move an immutable tag (same digest is fine).
   * For an immutable tag, returns the error to raise should the store find the tag moved by a
   * concurrent push after this check (the store re-checks inside its transaction).
   */
  checkTagPush(repository: string, tag: string, digest: string): Promise<ImmutableTagGuard | undefined>;
  /** Before deleting a tag. */
  checkTagDelete(repository: string, tag: string): Promise<void>;
  /** Before deleting a manifest by digest: refused while an immutable tag points at it. */
  checkManifestDelete(repository: string, digest: string): Promise<void>;
  /**
   * Before a blob of `size` bytes is linked into the repository (upload, monolithic push,
   * mount). With a storage quota, returns it, to be checked again inside the linking transaction.
   */
  checkBlobLink(repository: string, digest: string, size: number): Promise<StorageQuota | undefined>;
  /** Before anything that may create the repository. */
  checkRepositoryCreate(repository: string): Promise<void>;
  /** After a manifest push. */
  manifestPushed(repository: string, digest: string, actor: string): Promise<void>;
  /** A manifest was pulled (GET): counted in memory, written in batches. */
  manifestPulled(repository: string, digest: string): void;
  /** Before a manifest GET or HEAD answers: the namespace's pull policy (signatures, vulnerabilities). */
  checkPull(repository: string, manifest: ManifestRecord, identity: Identity): Promise<void>;
}

/** The pull policy as NamespacePolicies consults it (src/signing implements it). */
export interface PullCheck {
  /** Throws DENIED when `identity` may not have the manifest under the namespace's pull policy. */
  checkPull(repository: string, manifest: ManifestRecord, identity: Identity): Promise<void>;
  /** Forget decisions about the repository (something was pushed into it). */
  forget(repository: string): void;
}

/** A push refused by a quota (for events). */
export interface QuotaRefusal {
  namespace: string;
  repository: string;
  quota: 'storage' | 'repositories';
  message: string;
  detail: Record<string, unknown>;
}

export interface StorageQuota extends LinkQuota {
  /** The error for a link the store found over the limit, given the usage it saw. */
  exceeded(usedBytes: number, blobSize: number, digest: string): RegistryError;
}

export interface ImmutableTagGuard {
  conflict(currentDigest: string): RegistryError;
}

/** No rules, no quotas, no tracking. */
export const noPolicies: RegistryPolicies = {
  checkTagPush: async () => undefined,
  checkTagDelete: async () => undefined,
  checkManifestDelete: async () => undefined,
  checkBlobLink: async () => undefined,
  checkRepositoryCreate: async () => undefined,
  manifestPushed: async () => undefined,
  manifestPulled: () => undefined,
  checkPull: async () => undefined,
};

/** Tag-name glob patterns: tag characters plus `*` and `?`. */
export const TAG_PATTERN = /^[A-Za-z0-9_.*?-]{1,128}$/;

export { globMatch } from './glob.js';

/** Pull counts are written at most this long after the pull. */
const PULL_FLUSH_MS = 1000;
/** Or as soon as this many manifests have pending pulls. */
const PULL_FLUSH_MAX = 1000;

export class NamespacePolicies implements RegistryPolicies {
  private pending = new Map<string, PullBatchEntry>();
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> = Promise.resolve();

  constructor(
    readonly store: PolicyStore,
    private readonly onError: (err: unknown, what: string) => void = () => undefined,
    private readonly pulls?: PullCheck,
    /** Told of every refusal by a quota, before the error is thrown; must not throw. */
    private readonly onQuotaExceeded: (refusal: QuotaRefusal) => void = () => undefined,
  ) {}

  async checkPull(repository: string, manifest: ManifestRecord, identity: Identity): Promise<void> {
    await this.pulls?.checkPull(repository, manifest, identity);
  }

  private refuse(repository: string, quota: QuotaRefusal['quota'], message: string, detail: Record<string, unknown>): RegistryError {
    const namespace = namespaceOf(repository);
    this.onQuotaExceeded({ namespace, repository, quota, message, detail });
    return new RegistryError('DENIED', message, detail);
  }

  /** The first rule of the repository's namespace that matches the tag. */
  async immutableRule(repository: string, tag: string): Promise<ImmutableRule | undefined> {
    const rules = await this.store.listImmutableRules(namespaceOf(repository));
    return rules.find((r) => globMatch(r.pattern, tag));
  }

  async checkTagPush(repository: string, tag: string, digest: string): Promise<ImmutableTagGuard | undefined> {
    const rule = await this.immutableRule(repository, tag);
    if (!rule) return undefined;
    const guard = { conflict: (current: string) => immutable(tag, rule, { repository, tag, digest: current }) };
    const current = await this.store.tagDigest(repository, tag);
    if (current === undefined || current === digest) return guard;
    throw guard.conflict(current);
  }

  async checkTagDelete(repository: string, tag: string): Promise<void> {
    const rule = await this.immutableRule(repository, tag);
    if (!rule) return;
    const current = await this.store.tagDigest(repository, tag);
    if (current === undefined) return;
    throw immutable(tag, rule, { repository, tag, digest: current });
  }

  async checkManifestDelete(repository: string, digest: string): Promise<void> {
    const rules = await this.store.listImmutableRules(namespaceOf(repository));
    if (rules.length === 0) return;
    for (const tag of await this.store.tagsOf(repository, digest)) {
      const rule = rules.find((r) => globMatch(r.pattern, tag));
      if (rule) throw immutable(tag, rule, { repository, tag, digest });
    }
  }

  async checkBlobLink(repository: string, digest: string, size: number): Promise<StorageQuota | undefined> {
    const namespace = namespaceOf(repository);
    const quota = await this.store.getQuota(namespace);
    if (!quota || quota.limitBytes === null) return undefined;
    const limitBytes = quota.limitBytes;
    const storage: StorageQuota = {
      namespace,
      limitBytes,
      exceeded: (usedBytes, blobSize, blob) =>
        this.refuse(repository, 'storage', `storage quota of namespace ${namespace} exceeded: limit ${limitBytes} bytes, used ${usedBytes} bytes, this blob needs ${blobSize} more`, {
          namespace,
          limitBytes,
          usedBytes,
          blobSize,
          digest: blob,
        }),
    };
    // Each blob counts once per namespace: linking one it already holds adds nothing.
    if (await this.store.blobInNamespace(namespace, digest)) return storage;
    const usedBytes = await this.store.usedBytes(namespace);
    if (usedBytes + size <= limitBytes) return storage;
    throw storage.exceeded(usedBytes, size, digest);
  }

  async checkRepositoryCreate(repository: string): Promise<void> {
    const namespace = namespaceOf(repository);
    const quota = await this.store.getQuota(namespace);
    if (!quota || quota.limitRepositories === null) return;
    if (await this.store.repositoryExists(repository)) return;
    const repositories = await this.store.repositoryCount(namespace);
    if (repositories < quota.limitRepositories) return;
    throw this.refuse(repository, 'repositories', `repository quota of namespace ${namespace} reached: limit ${quota.limitRepositories} repositories, ${repositories} in use`, {
      namespace,
      limitRepositories: quota.limitRepositories,
      repositories,
      repository,
    });
  }

  async manifestPushed(repository: string, digest: string, actor: string): Promise<void> {
    // A signature may just have arrived: pull decisions about the repository are redone.
    this.pulls?.forget(repository);
    try {
      await this.store.recordPush(repository, digest, actor, new Date());
    } catch (err) {
      // The push happened; losing its tracking row must not fail it.
      this.onError(err, 'could not record a manifest push');
    }
  }

  manifestPulled(repository: string, digest: string): void {
    const key = `${repository}@${digest}`;
    const entry = this.pending.get(key);
    const now = new Date();
    if (entry) {
      entry.count++;
      entry.lastPulledAt = now;
    } else {
      this.pending.set(key, { repository, digest, count: 1, lastPulledAt: now });
    }
    if (this.pending.size >= PULL_FLUSH_MAX) void this.flush();
    else if (!this.timer) {
      this.timer = setTimeout(() => void this.flush(), PULL_FLUSH_MS);
      this.timer.unref();
    }
  }

  /** Write the pulls counted so far (one batch at a time). */
  flush(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    const batch = [...this.pending.values()];
    this.pending = new Map();
    this.flushing = this.flushing.then(async () => {
      if (batch.length === 0) return;
      try {
        await this.store.recordPulls(batch);
      } catch (err) {
        this.onError(err, 'could not record manifest pulls');
      }
    });
    return this.flushing;
  }
}

function immutable(tag: string, rule: ImmutableRule, detail: Record<string, string>): RegistryError {
  return new RegistryError('DENIED', `tag ${tag} is immutable (rule '${rule.pattern}' of namespace ${rule.namespace})`, {
    ...detail,
    rule: { id: rule.id, pattern: rule.pattern, namespace: rule.namespace },
  });
}
