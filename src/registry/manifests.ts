// Manifests, tags, referrers and the catalog: what a push of a manifest checks, what a pull
// by tag or digest returns, and the listings with the spec's pagination.
import { RegistryError, RegistryErrors } from './errors.js';
import { digestOf, looksLikeDigest, parseDigest } from './digest.js';
import { checkName, checkTag } from './names.js';
import { parseManifest, requiredBlobs, type ParsedManifest } from './manifest.js';
import { MANIFEST_MEDIA_TYPES, MediaType, accepts, type ManifestMediaType } from './media-types.js';
import { MissingReferencesError, TagConflictError, type ManifestRecord, type MetadataStore, type NewManifest, type ReferrerRecord } from '../metadata/store.js';
import { noPolicies, type RegistryPolicies } from './policies.js';
import type { Identity } from '../auth/model.js';
import type { RequestInfo } from '../events/model.js';

/** Who asks, for events: the actor's name and, from the HTTP layer, the request. */
export interface Origin {
  actor: string;
  request?: RequestInfo;
}

export interface ManifestServiceOptions {
  deletesEnabled: boolean;
  /** Told of every stored manifest (scans, events), before the push is acknowledged; must not throw. */
  onPushed?: (event: { repository: string; digest: string; tag?: string; mediaType: string; size: number; actor: string; request?: RequestInfo }) => Promise<void>;
  /** Told of every manifest GET counted as a pull (not awaited); must not throw. */
  onPulled?: (event: { repository: string; digest: string; tag?: string; mediaType: string; size: number } & Origin) => void;
  /** Told of every tag or manifest a client deleted (not awaited); must not throw. */
  onDeleted?: (event: { repository: string; digest?: string; tag?: string } & Origin) => void;
  /** A manifest the pull-through cache stored (not a push: no push event, but worth a scan). */
  onCached?: (event: { repository: string; digest: string }) => Promise<void>;
}

export interface PushedManifest {
  digest: string;
  subject?: string;
}

export type Reference = { kind: 'tag'; tag: string } | { kind: 'digest'; digest: string };

export function parseReference(reference: string): Reference {
  if (looksLikeDigest(reference)) return { kind: 'digest', digest: parseDigest(reference).value };
  return { kind: 'tag', tag: checkTag(reference) };
}

export interface ListPage {
  items: string[];
  /** Set when more entries may follow: the `last` of the next page. */
  next?: string;
}

export interface ReferrersIndex {
  schemaVersion: 2;
  mediaType: typeof MediaType.OciIndex;
  manifests: ReferrerDescriptor[];
}

interface ReferrerDescriptor {
  mediaType: string;
  digest: string;
  size: number;
  artifactType?: string;
  annotations?: Record<string, string>;
}

export class ManifestService {
  constructor(
    private readonly metadata: MetadataStore,
    private readonly options: ManifestServiceOptions,
    private readonly policies: RegistryPolicies = noPolicies,
  ) {}

  /** `actor` is who pushes (recorded with the manifest); `request` is passed on to events. */
  async put(repository: string, reference: string, body: Buffer, contentType: string | undefined, actor = 'anonymous', request?: RequestInfo): Promise<PushedManifest> {
    checkName(repository);
    const ref = parseReference(reference);
    const algorithm = ref.kind === 'digest' ? parseDigest(ref.digest).algorithm : 'sha256';
    const digest = digestOf(algorithm, body).value;
    if (ref.kind === 'digest' && ref.digest !== digest) {
      throw new RegistryError('DIGEST_INVALID', 'manifest digest does not match the reference', { expected: ref.digest, actual: digest });
    }
    const manifest = parseManifest(body, contentType);
    await this.checkReferences(repository, manifest);
    const immutableTag = ref.kind === 'tag' ? await this.policies.checkTagPush(repository, ref.tag, digest) : undefined;
    await this.policies.checkRepositoryCreate(repository);
    // Checked again inside the store's transaction: a collection may have run meanwhile.
    await this.metadata.putManifest({
      ...manifestRow(repository, digest, manifest, body),
      ...(ref.kind === 'tag' ? { tag: ref.tag } : {}),
      verifyReferences: true,
      tagImmutable: immutableTag !== undefined,
    }).catch((err: unknown) => {
      if (err instanceof TagConflictError && immutableTag) throw immutableTag.conflict(err.currentDigest);
      if (!(err instanceof MissingReferencesError)) throw err;
      throw new RegistryErrors([
        ...err.blobs.map((digest) => new RegistryError('MANIFEST_BLOB_UNKNOWN', 'manifest references a blob unknown to the repository', { digest })),
        ...err.manifests.map((digest) => new RegistryError('MANIFEST_BLOB_UNKNOWN', 'index references a manifest unknown to the repository', { digest })),
      ]);
    });
    await this.policies.manifestPushed(repository, digest, actor);
    await this.options.onPushed?.({
      repository,
      digest,
      mediaType: manifest.mediaType,
      size: body.length,
      actor,
      ...(ref.kind === 'tag' ? { tag: ref.tag } : {}),
      ...(request ? { request } : {}),
    });
    return { digest, ...(manifest.subject ? { subject: manifest.subject.digest.value } : {}) };
  }

  /**
   * A manifest a pull-through cache fetched from its upstream (digest already verified), stored
   * as it is and optionally tagged. Its blobs and child manifests are not checked: they arrive
   * later, when clients ask for them (the cache fetches them on demand).
   */
  async putCached(repository: string, digest: string, body: Buffer, contentType: string, tag?: string): Promise<void> {
    checkName(repository);
    const manifest = parseManifest(body, contentType);
    await this.metadata.putManifest({ ...manifestRow(repository, digest, manifest, body), ...(tag !== undefined ? { tag } : {}), verifyReferences: false });
    await this.options.onCached?.({ repository, digest });
  }

  private async checkReferences(repository: string, manifest: ParsedManifest): Promise<void> {
    const blobs = requiredBlobs(manifest).map((d) => d.digest.value);
    const missingBlobs = blobs.length ? await this.metadata.missingBlobs(repository, blobs) : [];
    const children = manifest.manifests.map((d) => d.digest.value);
    const missingChildren = children.length ? await this.metadata.missingManifests(repository, children) : [];
    const errors = [
      ...missingBlobs.map((digest) => new RegistryError('MANIFEST_BLOB_UNKNOWN', 'manifest references a blob unknown to the repository', { digest })),
      // The spec answers a missing child manifest with MANIFEST_BLOB_UNKNOWN too ("manifest
      // references a manifest or blob unknown to registry").
      ...missingChildren.map((digest) => new RegistryError('MANIFEST_BLOB_UNKNOWN', 'index references a manifest unknown to the repository', { digest })),
    ];
    if (errors.length) throw new RegistryErrors(errors);
  }

  /**
   * The manifest a GET or HEAD returns. `accept` is the client's Accept list; when the client
   * clearly negotiates manifest types and ours is not among them, answer MANIFEST_UNKNOWN.
   * `identity` is who asks (the pull policy exempts some callers; anonymous by default).
   */
  async get(repository: string, reference: string, accept: string[], options: { countPull?: boolean; identity?: Identity; origin?: Origin } = {}): Promise<ManifestRecord> {
    checkName(repository);
    const ref = parseReference(reference);
    const record = ref.kind === 'tag' ? await this.metadata.getManifestByTag(repository, ref.tag) : await this.metadata.getManifest(repository, ref.digest);
    if (!record) throw new RegistryError('MANIFEST_UNKNOWN', undefined, ref.kind === 'tag' ? { tag: ref.tag } : { digest: ref.digest });
    const negotiates = accept.some((a) => (MANIFEST_MEDIA_TYPES as readonly string[]).includes(a));
    if (negotiates && !accepts(accept, record.mediaType as ManifestMediaType)) {
      throw new RegistryError('MANIFEST_UNKNOWN', `manifest is ${record.mediaType}, which the Accept header does not allow`, {
        mediaType: record.mediaType,
      });
    }
    await this.policies.checkPull(repository, record, options.identity ?? { kind: 'anonymous' });
    if (options.countPull) {
      this.policies.manifestPulled(repository, record.digest);
      this.options.onPulled?.({
        repository,
        digest: record.digest,
        mediaType: record.mediaType,
        size: record.content.length,
        ...(ref.kind === 'tag' ? { tag: ref.tag } : {}),
        ...(options.origin ?? { actor: 'anonymous' }),
      });
    }
    return record;
  }

  async delete(repository: string, reference: string, origin: Origin = { actor: 'anonymous' }): Promise<void> {
    if (!this.options.deletesEnabled) throw new RegistryError('UNSUPPORTED', 'deletes are disabled on this registry');
    checkName(repository);
    const ref = parseReference(reference);
    if (ref.kind === 'tag') await this.policies.checkTagDelete(repository, ref.tag);
    else await this.policies.checkManifestDelete(repository, ref.digest);
    const deleted = ref.kind === 'tag' ? await this.metadata.deleteTag(repository, ref.tag) : await this.metadata.deleteManifest(repository, ref.digest);
    if (!deleted) throw new RegistryError('MANIFEST_UNKNOWN', undefined, ref.kind === 'tag' ? { tag: ref.tag } : { digest: ref.digest });
    this.options.onDeleted?.({ repository, ...(ref.kind === 'tag' ? { tag: ref.tag } : { digest: ref.digest }), ...origin });
  }

  async listTags(repository: string, limit: number | undefined, last: string | undefined): Promise<ListPage> {
    checkName(repository);
    if (!(await this.metadata.repositoryExists(repository))) throw new RegistryError('NAME_UNKNOWN', undefined, { name: repository });
    return paginate((page) => this.metadata.listTags(repository, page), limit, last);
  }

  async listRepositories(limit: number | undefined, last: string | undefined): Promise<ListPage> {
    return paginate((page) => this.metadata.listRepositories(page), limit, last);
  }

  async referrers(repository: string, subject: string, artifactType: string | undefined): Promise<ReferrersIndex> {
    checkName(repository);
    const digest = parseDigest(subject).value;
    // No 404 here, even for an unknown repository: a client reads a 404 as "no referrers API"
    // and falls back to the tag schema. An unknown repository simply has no referrers.
    const rows = await this.metadata.listReferrers(repository, digest, artifactType);
    return { schemaVersion: 2, mediaType: MediaType.OciIndex, manifests: rows.map(toDescriptor) };
  }
}

/** The stored form of a parsed manifest: its fields and what it references. */
function manifestRow(repository: string, digest: string, manifest: ParsedManifest, body: Buffer): NewManifest {
  return {
    repository,
    digest,
    mediaType: manifest.mediaType,
    artifactType: manifest.artifactType ?? null,
    subjectDigest: manifest.subject?.digest.value ?? null,
    annotations: manifest.annotations ?? null,
    content: body,
    references: [
      ...requiredBlobs(manifest).map((d) => ({ digest: d.digest.value, kind: 'blob' as const })),
      ...manifest.manifests.map((d) => ({ digest: d.digest.value, kind: 'manifest' as const })),
    ],
  };
}

function toDescriptor(r: ReferrerRecord): ReferrerDescriptor {
  return {
    mediaType: r.mediaType,
    digest: r.digest,
    size: r.size,
    ...(r.artifactType !== null ? { artifactType: r.artifactType } : {}),
    ...(r.annotations !== null ? { annotations: r.annotations } : {}),
  };
}

/** Largest page one request returns; clients follow the Link header for the rest. */
export const MAX_PAGE = 10_000;

async function paginate(
  fetch: (page: { limit: number; after?: string }) => Promise<string[]>,
  limit: number | undefined,
  last: string | undefined,
): Promise<ListPage> {
  const size = Math.min(limit ?? MAX_PAGE, MAX_PAGE);
  if (size === 0) return { items: [] };
  const rows = await fetch({ limit: size + 1, ...(last !== undefined ? { after: last } : {}) });
  if (rows.length > size) {
    const items = rows.slice(0, size);
    return { items, next: items[items.length - 1]! };
  }
  return { items: rows };
}
