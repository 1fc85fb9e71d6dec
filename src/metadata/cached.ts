// A MetadataStore decorator that serves manifest lookups (by digest and by tag) from a shared
// cache and keeps it right: every write invalidates what it changes before it returns.
//
// Tags move, so a cached tag carries the repository's generation, which tag and manifest
// deletes bump; a cached tag is used only while the generation is unchanged. Manifests by
// digest are immutable until deleted, and a delete invalidates them.
import type { Cache } from '../cache/cache.js';
import type {
  BlobLink,
  LinkQuota,
  ManifestRecord,
  MetadataStore,
  NewManifest,
  Page,
  ReferrerRecord,
  UploadSessionRecord,
} from './store.js';

interface CachedHeader {
  repository: string;
  digest: string;
  mediaType: string;
  artifactType: string | null;
  subjectDigest: string | null;
  annotations: Record<string, string> | null;
  createdAt: number;
}

function encodeManifest(m: ManifestRecord): Buffer {
  const header: CachedHeader = {
    repository: m.repository,
    digest: m.digest,
    mediaType: m.mediaType,
    artifactType: m.artifactType,
    subjectDigest: m.subjectDigest,
    annotations: m.annotations,
    createdAt: m.createdAt.getTime(),
  };
  return Buffer.concat([Buffer.from(JSON.stringify(header) + '\n'), m.content]);
}

function decodeManifest(value: Buffer): ManifestRecord | undefined {
  const newline = value.indexOf(10);
  if (newline === -1) return undefined;
  try {
    const h = JSON.parse(value.subarray(0, newline).toString('utf8')) as CachedHeader;
    return { ...h, createdAt: new Date(h.createdAt), content: value.subarray(newline + 1) };
  } catch {
    return undefined;
  }
}

export class CachedMetadataStore implements MetadataStore {
  constructor(
    private readonly inner: MetadataStore,
    private readonly cache: Cache,
    private readonly ttlSeconds: number,
  ) {}

  private manifestKey(repository: string, digest: string): string {
    return `m:${repository}@${digest}`;
  }
  private tagKey(repository: string, tag: string): string {
    return `t:${repository}:${tag}`;
  }
  private generationKey(repository: string): string {
    return `g:${repository}`;
  }

  async getManifest(repository: string, digest: string): Promise<ManifestRecord | undefined> {
    const key = this.manifestKey(repository, digest);
    const [hit] = await this.cache.get([key]);
    const cached = hit && decodeManifest(hit);
    if (cached) return cached;
    const record = await this.inner.getManifest(repository, digest);
    if (record) await this.cache.fill(key, encodeManifest(record), this.ttlSeconds);
    return record;
  }

  async getManifestByTag(repository: string, tag: string): Promise<ManifestRecord | undefined> {
    const key = this.tagKey(repository, tag);
    const [generation, hit] = await this.cache.get([this.generationKey(repository), key]);
    const current = generation?.toString() ?? '0';
    if (hit) {
      const [gen, digest] = hit.toString().split('|');
      if (gen === current && digest) {
        const record = await this.getManifest(repository, digest);
        if (record) return record;
      }
    }
    const record = await this.inner.getManifestByTag(repository, tag);
    if (record) {
      // The generation read before the database: if a delete bumped it meanwhile, this entry is never used.
      await this.cache.fill(key, Buffer.from(`${current}|${record.digest}`), this.ttlSeconds);
      await this.cache.fill(this.manifestKey(repository, record.digest), encodeManifest(record), this.ttlSeconds);
    }
    return record;
  }

  // Writes invalidate before the database write as well as after: a process killed between its
  // commit and the invalidation after it must not leave the old answer in the shared cache (it
  // outlives the process). The tombstone written before also keeps readers in between from
  // filling the old answer back (fills never overwrite a tombstone).
  async putManifest(manifest: NewManifest): Promise<void> {
    const tagKeys = manifest.tag !== undefined ? [this.tagKey(manifest.repository, manifest.tag)] : [];
    await this.cache.invalidate(tagKeys);
    await this.inner.putManifest(manifest);
    await this.cache.invalidate(tagKeys);
  }

  async deleteManifest(repository: string, digest: string): Promise<boolean> {
    await this.forgetManifest(repository, digest);
    const deleted = await this.inner.deleteManifest(repository, digest);
    await this.forgetManifest(repository, digest);
    return deleted;
  }

  async deleteTag(repository: string, tag: string, expectedDigest?: string): Promise<boolean> {
    const forget = async () => {
      await this.cache.increment(this.generationKey(repository));
      await this.cache.invalidate([this.tagKey(repository, tag)]);
    };
    await forget();
    const deleted = await this.inner.deleteTag(repository, tag, expectedDigest);
    await forget();
    return deleted;
  }

  /** Drop a manifest deleted behind the store's back (garbage collection) from the cache. */
  async forgetManifest(repository: string, digest: string): Promise<void> {
    await this.cache.increment(this.generationKey(repository));
    await this.cache.invalidate([this.manifestKey(repository, digest)]);
  }

  // Everything else goes straight to the store.
  repositoryExists(repository: string): Promise<boolean> {
    return this.inner.repositoryExists(repository);
  }
  listRepositories(page: Page): Promise<string[]> {
    return this.inner.listRepositories(page);
  }
  linkBlob(repository: string, digest: string, size: number): Promise<void> {
    return this.inner.linkBlob(repository, digest, size);
  }
  getBlobLink(repository: string, digest: string): Promise<BlobLink | undefined> {
    return this.inner.getBlobLink(repository, digest);
  }
  unlinkBlob(repository: string, digest: string): Promise<boolean> {
    return this.inner.unlinkBlob(repository, digest);
  }
  findBlob(digest: string): Promise<BlobLink | undefined> {
    return this.inner.findBlob(digest);
  }
  missingBlobs(repository: string, digests: string[]): Promise<string[]> {
    return this.inner.missingBlobs(repository, digests);
  }
  createUpload(id: string, repository: string): Promise<UploadSessionRecord> {
    return this.inner.createUpload(id, repository);
  }
  getUpload(repository: string, id: string): Promise<UploadSessionRecord | undefined> {
    return this.inner.getUpload(repository, id);
  }
  claimUpload(id: string, expectedSize: number, writer: string, leaseMs: number): Promise<boolean> {
    return this.inner.claimUpload(id, expectedSize, writer, leaseMs);
  }
  renewUploadClaim(id: string, writer: string, leaseMs: number): Promise<boolean> {
    return this.inner.renewUploadClaim(id, writer, leaseMs);
  }
  releaseUpload(id: string, writer: string, size?: number): Promise<boolean> {
    return this.inner.releaseUpload(id, writer, size);
  }
  releaseAllUploadClaims(): Promise<number> {
    return this.inner.releaseAllUploadClaims();
  }
  deleteUpload(id: string): Promise<void> {
    return this.inner.deleteUpload(id);
  }
  listUploadIds(): Promise<string[]> {
    return this.inner.listUploadIds();
  }
  listUploadsUpdatedBefore(cutoff: Date): Promise<UploadSessionRecord[]> {
    return this.inner.listUploadsUpdatedBefore(cutoff);
  }
  missingManifests(repository: string, digests: string[]): Promise<string[]> {
    return this.inner.missingManifests(repository, digests);
  }
  listTags(repository: string, page: Page): Promise<string[]> {
    return this.inner.listTags(repository, page);
  }
  listReferrers(repository: string, subjectDigest: string, artifactType?: string): Promise<ReferrerRecord[]> {
    return this.inner.listReferrers(repository, subjectDigest, artifactType);
  }
  ping(): Promise<void> {
    return this.inner.ping();
  }
  reserveBlobLink(repository: string, digest: string, size: number, quota?: LinkQuota): Promise<'linked' | 'wait'> {
    return this.inner.reserveBlobLink(repository, digest, size, quota);
  }
  linkStoredBlob(repository: string, digest: string, quota?: LinkQuota): Promise<BlobLink | undefined> {
    return this.inner.linkStoredBlob(repository, digest, quota);
  }

  async close(): Promise<void> {
    await this.cache.close();
    await this.inner.close();
  }
}
