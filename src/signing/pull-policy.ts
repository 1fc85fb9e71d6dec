// Pull policies per namespace, enforced on manifest GET and HEAD: an image may be refused for
// lacking a valid cosign signature, or for vulnerability findings at or above a severity.
// Only images are checked (indexes, and image manifests with a filesystem layer and no
// subject): signatures, SBOMs and other artifacts always pass, so clients can fetch them.
// Administrators and robots with the `scan` action are exempt. Decisions are cached for a few
// seconds per (repository, digest): a hot image costs no queries per pull, and a new
// signature or policy takes effect within that time on every node (at once on this one).
import { isImageLayer } from '../registry/image-content.js';
import { RegistryError } from '../registry/errors.js';
import { namespaceOf } from '../registry/names.js';
import { isIndexMediaType } from '../registry/media-types.js';
import type { PullCheck } from '../registry/policies.js';
import type { ManifestRecord } from '../metadata/store.js';
import { SEVERITIES, type PullPolicy, type Severity, type SigningStore } from '../metadata/signing-store.js';
import type { Identity } from '../auth/model.js';
import type { SignatureService } from './signatures.js';

/** One vulnerability found in an image, as the scanner reports it. */
export interface Finding {
  id: string;
  aliases: string[];
  severity: Severity | 'UNKNOWN';
  package: string;
}

/** Where findings come from (the scanner). undefined: not scanned yet, which never blocks. */
export interface FindingsSource {
  findingsOf(repository: string, digest: string): Promise<Finding[] | undefined>;
}

/** Until a scanner is plugged in, nothing has been scanned. */
export const unscanned: FindingsSource = { findingsOf: async () => undefined };

export interface PullPolicyOptions {
  findings?: FindingsSource;
  /** How long a decision is reused (default 3 s). */
  cacheMs?: number;
  /** Decisions kept at most (default 10 000; the oldest go first). */
  cacheEntries?: number;
}

/** Findings listed in a refusal's message (all of them go into its detail). */
const MESSAGE_FINDINGS = 10;

interface CachedDecision {
  until: number;
  refusal: Promise<RegistryError | undefined>;
}

/** Whether the caller is exempt: administrators, and robots with the scanner's `scan` action. */
export function exemptFromPullPolicy(identity: Identity): boolean {
  if (identity.kind === 'user') return identity.admin;
  if (identity.kind === 'robot') return identity.actions.includes('scan');
  return false;
}

/** Whether a pull policy applies to the manifest: an index, or an image (a tar layer, no subject). */
export function isPolicedImage(manifest: Pick<ManifestRecord, 'mediaType' | 'subjectDigest' | 'content'>): boolean {
  if (manifest.subjectDigest !== null) return false;
  if (isIndexMediaType(manifest.mediaType)) return true;
  try {
    const layers = (JSON.parse(manifest.content.toString('utf8')) as { layers?: unknown }).layers;
    return Array.isArray(layers) && layers.some((l) => isImageLayer((l as { mediaType?: unknown } | null)?.mediaType));
  } catch {
    return false;
  }
}

/** Findings that block under the policy: at or above its severity and not allow-listed. */
export function blockingFindings(policy: Pick<PullPolicy, 'blockSeverity' | 'allowAdvisories'>, findings: Finding[]): Finding[] {
  if (policy.blockSeverity === null) return [];
  const threshold = SEVERITIES.indexOf(policy.blockSeverity);
  const allowed = new Set(policy.allowAdvisories);
  return findings.filter((f) => {
    const rank = SEVERITIES.indexOf(f.severity as Severity);
    if (rank === -1 || rank > threshold) return false;
    return !allowed.has(f.id) && !f.aliases.some((a) => allowed.has(a));
  });
}

export class PullPolicies implements PullCheck {
  private decisions = new Map<string, CachedDecision>();
  private readonly findings: FindingsSource;
  private readonly cacheMs: number;
  private readonly cacheEntries: number;

  constructor(
    private readonly store: SigningStore,
    private readonly signatures: SignatureService,
    options: PullPolicyOptions = {},
  ) {
    this.findings = options.findings ?? unscanned;
    this.cacheMs = options.cacheMs ?? 3000;
    this.cacheEntries = options.cacheEntries ?? 10_000;
  }

  async checkPull(repository: string, manifest: ManifestRecord, identity: Identity): Promise<void> {
    if (exemptFromPullPolicy(identity)) return;
    const key = `${repository}@${manifest.digest}`;
    const now = Date.now();
    let cached = this.decisions.get(key);
    if (!cached || cached.until <= now) {
      cached = { until: now + this.cacheMs, refusal: this.decide(repository, manifest) };
      this.decisions.delete(key);
      this.decisions.set(key, cached);
      if (this.decisions.size > this.cacheEntries) this.decisions.delete(this.decisions.keys().next().value!);
      // A failed decision is not kept: the next pull tries again.
      const entry = cached;
      entry.refusal.catch(() => {
        if (this.decisions.get(key) === entry) this.decisions.delete(key);
      });
    }
    const refusal = await cached.refusal;
    if (refusal) throw refusal;
  }

  /** The namespace policy's verdict on the image in `repository`, for everyone (no exemption, no cache): promotion gates on it. */
  verdict(repository: string, manifest: ManifestRecord): Promise<RegistryError | undefined> {
    return this.decide(repository, manifest);
  }

  /** Drop cached decisions of a repository (after a push into it), or all (after a policy or key change). */
  forget(repository?: string): void {
    if (repository === undefined) {
      this.decisions.clear();
      return;
    }
    const prefix = `${repository}@`;
    for (const key of this.decisions.keys()) if (key.startsWith(prefix)) this.decisions.delete(key);
  }

  private async decide(repository: string, manifest: ManifestRecord): Promise<RegistryError | undefined> {
    const namespace = namespaceOf(repository);
    const policy = await this.store.getPullPolicy(namespace);
    if (!policy || (!policy.requireSignature && policy.blockSeverity === null)) return undefined;
    if (!isPolicedImage(manifest)) return undefined;
    const image = `${repository}@${manifest.digest}`;
    if (policy.requireSignature && !(await this.signed(repository, manifest))) {
      return new RegistryError('DENIED', `image ${image} has no valid signature (namespace ${namespace} requires one)`, {
        repository,
        digest: manifest.digest,
        namespace,
        requireSignature: true,
      });
    }
    if (policy.blockSeverity === null) return undefined;
    let findings: Finding[] | undefined;
    try {
      findings = await this.findings.findingsOf(repository, manifest.digest);
    } catch {
      // The policy cannot be judged: refuse for now (not cached), without the scanner's internals.
      throw new RegistryError('UNAVAILABLE', `vulnerability findings of image ${image} could not be read; try again`, { repository, digest: manifest.digest });
    }
    const blocking = findings ? blockingFindings(policy, findings) : [];
    if (blocking.length === 0) return undefined;
    const listed = blocking.slice(0, MESSAGE_FINDINGS).map((f) => `${f.id} (${f.package})`);
    if (blocking.length > MESSAGE_FINDINGS) listed.push(`and ${blocking.length - MESSAGE_FINDINGS} more`);
    return new RegistryError('DENIED', `image ${image} has vulnerabilities at or above ${policy.blockSeverity}: ${listed.join(', ')}`, {
      repository,
      digest: manifest.digest,
      namespace,
      blockSeverity: policy.blockSeverity,
      advisories: [...new Set(blocking.map((f) => f.id))],
      findings: blocking.map((f) => ({ id: f.id, severity: f.severity, package: f.package })),
    });
  }

  /** Signed itself, or (a platform manifest) listed by a signed index of the repository. */
  private async signed(repository: string, manifest: ManifestRecord): Promise<boolean> {
    if (await this.signatures.hasValidSignature(repository, manifest.digest)) return true;
    if (isIndexMediaType(manifest.mediaType)) return false;
    for (const index of await this.store.indexesListing(repository, manifest.digest)) {
      if (await this.signatures.hasValidSignature(repository, index)) return true;
    }
    return false;
  }
}
