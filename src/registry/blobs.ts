// Blobs and upload sessions: the push and pull of layers and configs. Bytes are hashed as
// they stream into the blob store; a blob becomes visible only after its digest is checked
// and its bytes are durable.
import { createHash, randomUUID, type Hash } from 'node:crypto';
import type { Readable } from "node:stream";
import type { BlobFileRange, BlobStore } from '../storage/blob-store.js';
import { QuotaExceededError, type MetadataStore, type UploadSessionRecord } from '../metadata/store.js';
import { RegistryError } from './errors.js';
import { fromHash, parseDigest, type Digest } from './digest.js';
import { checkName, isValidName } from './names.js';
import { KeyedLock } from './keyed-lock.js';
import type { ByteRange } from './ranges.js';
import { noPolicies, type RegistryPolicies, type StorageQuota } from './policies.js';

const UPLOAD_ID = /^[A-Za-z0-9-]{1,64}$/;
/** How long a chunk write may hold an upload without renewing its claim. */
const CLAIM_LEASE_MS = 60_000;
/** Longest a push waits for a collector that is deleting the same blob. */
const COLLECTOR_WAIT_MS = 30_000;

export interface BlobInfo {
  digest: Digest;
  size: number;
}

export interface ChunkRequest {
  body: Readable;
  /** Content-Range of the chunk, when the client sent one. */
  range?: ByteRange;
  /** Content-Length, when the client sent one. */
  length?: number;
}

export interface BlobServiceOptions {
  deletesEnabled: boolean;
  /** When set and the store can, pulls are answered with a redirect valid this long. */
  redirectExpirySeconds?: number;
}

/** A running sha256 over an upload's acknowledged bytes, kept between chunks. */
interface RunningHash {
  hash: Hash;
  size: number;
}

export class BlobService {
  private readonly hashes = new Map<string, RunningHash>();
  private readonly locks = new KeyedLock();

  constructor(
    private readonly blobs: BlobStore,
    private readonly metadata: MetadataStore,
    private readonly options: BlobServiceOptions,
    private readonly policies: RegistryPolicies = noPolicies,
  ) {}

  /** The blob as linked into `repository`; throws BLOB_UNKNOWN. */
  async stat(repository: string, digestValue: string): Promise<BlobInfo> {
    checkName(repository);
    const digest = parseDigest(digestValue);
    const link = await this.metadata.getBlobLink(repository, digest.value);
    if (!link) throw new RegistryError('BLOB_UNKNOWN', undefined, { digest: digest.value });
    return { digest, size: link.size };
  }

  /** Where to send the client instead of streaming, when redirects are configured. */
  async redirectUrl(blob: BlobInfo): Promise<string | undefined> {
    const expiry = this.options.redirectExpirySeconds;
    if (expiry === undefined || !this.blobs.presignedUrl) return undefined;
    return this.blobs.presignedUrl(blob.digest, expiry);
  }

  async open(blob: BlobInfo, range?: ByteRange): Promise<Readable> {
    return this.blobs.read(blob.digest, range);
  }

  /** The blob as an open local file, when the store keeps files (the caller closes it); else undefined. */
  async openFile(blob: BlobInfo, range?: ByteRange): Promise<BlobFileRange | undefined> {
    return this.blobs.openFile?.(blob.digest, range ?? { start: 0, end: blob.size - 1 });
  }

  async delete(repository: string, digestValue: string): Promise<void> {
    if (!this.options.deletesEnabled) throw new RegistryError('UNSUPPORTED', 'deletes are disabled on this registry');
    checkName(repository);
    const digest = parseDigest(digestValue);
    if (!(await this.metadata.unlinkBlob(repository, digest.value))) {
      throw new RegistryError('BLOB_UNKNOWN', undefined, { digest: digest.value });
    }
  }

  /**
   * Cross-repository mount: link a blob already in `from` into `repository`. Returns undefined
   * when the mount cannot be done (the caller then starts an ordinary upload, as the spec says).
   */
  async mount(repository: string, digestValue: string, from: string | undefined): Promise<BlobInfo | undefined> {
    checkName(repository);
    if (from === undefined || !isValidName(from)) return undefined;
    let digest: Digest;
    try {
      digest = parseDigest(digestValue);
    } catch {
      return undefined;
    }
    const link = await this.metadata.getBlobLink(from, digest.value);
    if (!link || !(await this.blobs.stat(digest))) return undefined;
    await this.policies.checkRepositoryCreate(repository);
    const quota = await this.policies.checkBlobLink(repository, digest.value, link.size);
    // Linked only while the blob is recorded and no collector is deleting it; else an upload.
    const linked = await this.metadata.linkStoredBlob(repository, digest.value, quota).catch(quotaError(quota, digest.value, link.size));
    if (!linked) return undefined;
    return { digest, size: linked.size };
  }

  async startUpload(repository: string): Promise<UploadSessionRecord> {
    checkName(repository);
    await this.policies.checkRepositoryCreate(repository);
    const id = newUploadId('');
    await this.blobs.createUpload(id);
    try {
      return await this.metadata.createUpload(id, repository);
    } catch (err) {
      await this.blobs.abortUpload(id).catch(() => undefined);
      throw err;
    }
  }

  /** A whole blob in one request (POST with ?digest=). */
  async putMonolithic(repository: string, digestValue: string, chunk: ChunkRequest): Promise<BlobInfo> {
    checkName(repository);
    const digest = parseDigest(digestValue);
    await this.policies.checkRepositoryCreate(repository);
    // Staged under an id the metadata store never sees: a crash leaves an orphan that the
    // start-up sweep removes.
    const id = newUploadId('m');
    await this.blobs.createUpload(id);
    try {
      const hash = createHash(digest.algorithm);
      const size = await this.blobs.appendUpload(id, 0, chunk.body, (c) => hash.update(c));
      if (chunk.length !== undefined && size !== chunk.length) throw new RegistryError('SIZE_INVALID');
      const actual = fromHash(digest.algorithm, hash);
      if (actual.value !== digest.value) {
        throw new RegistryError('DIGEST_INVALID', undefined, { expected: digest.value, actual: actual.value });
      }
      const quota = await this.policies.checkBlobLink(repository, digest.value, size);
      await this.commitAndLink(repository, id, size, digest, quota);
      return { digest, size };
    } catch (err) {
      await this.blobs.abortUpload(id).catch(() => undefined);
      throw err;
    }
  }

  async getUpload(repository: string, uploadId: string): Promise<UploadSessionRecord> {
    checkName(repository);
    if (!UPLOAD_ID.test(uploadId)) throw new RegistryError('BLOB_UPLOAD_UNKNOWN', undefined, { uuid: uploadId.slice(0, 64) });
    const session = await this.metadata.getUpload(repository, uploadId);
    if (!session) throw new RegistryError('BLOB_UPLOAD_UNKNOWN', undefined, { uuid: uploadId });
    return session;
  }

  /** PATCH: append one chunk. Out-of-order ranges are refused with 416 and the current Range. */
  async appendChunk(repository: string, uploadId: string, chunk: ChunkRequest): Promise<UploadSessionRecord> {
    return this.locks.run(uploadId, async () => {
      const session = await this.getUpload(repository, uploadId);
      return this.append(session, chunk);
    });
  }

  /** PUT: optional last chunk, then check the digest and make the blob visible. */
  async complete(repository: string, uploadId: string, digestValue: string | undefined, chunk: ChunkRequest | undefined): Promise<BlobInfo> {
    return this.locks.run(uploadId, async () => {
      let session = await this.getUpload(repository, uploadId);
      if (digestValue === undefined) throw new RegistryError('DIGEST_INVALID', 'the digest query parameter is required');
      const digest = parseDigest(digestValue);
      if (chunk) session = await this.append(session, chunk);
      const final = session;
      await this.withClaim(final, async () => {
        const actual = await this.digestOfUpload(final, digest.algorithm);
        if (actual.value !== digest.value) {
          throw new RegistryError('DIGEST_INVALID', undefined, { expected: digest.value, actual: actual.value });
        }
        const quota = await this.policies.checkBlobLink(repository, digest.value, final.size);
        await this.commitAndLink(repository, final.id, final.size, digest, quota);
        await this.metadata.deleteUpload(final.id);
        this.hashes.delete(final.id);
        return final.size;
      }, { endsSession: true });
      return { digest, size: final.size };
    });
  }

  async cancel(repository: string, uploadId: string): Promise<void> {
    await this.locks.run(uploadId, async () => {
      const session = await this.getUpload(repository, uploadId);
      await this.metadata.deleteUpload(session.id);
      await this.blobs.abortUpload(session.id);
      this.hashes.delete(session.id);
    });
  }

  /**
   * Start-up sweep: staged bytes with no session (monolithic pushes cut off by a crash) and
   * sessions with no staged bytes are removed. With no grace (the uploads belong to this
   * process alone), write claims left by requests a crash cut off are released, so their
   * sessions go on from the acknowledged offset at once instead of after the lease.
   */
  async recover(orphanGraceMs = 0): Promise<{ removedStaged: number; removedSessions: number }> {
    if (orphanGraceMs === 0) await this.metadata.releaseAllUploadClaims();
    const sessions = new Set(await this.metadata.listUploadIds());
    const staged = await this.blobs.listUploads();
    let removedStaged = 0;
    let removedSessions = 0;
    const cutoff = Date.now() - orphanGraceMs;
    for (const id of staged) {
      // In a cluster another node may be between staging and recording an upload right now.
      if (!sessions.has(id) && uploadIdTime(id) <= cutoff) {
        await this.blobs.abortUpload(id);
        removedStaged++;
      }
    }
    const stagedSet = new Set(staged);
    for (const id of sessions) {
      if (!stagedSet.has(id)) {
        await this.metadata.deleteUpload(id);
        removedSessions++;
      }
    }
    return { removedStaged, removedSessions };
  }

  /** Drop upload sessions nobody touched for `ttlMs`. */
  async purgeStaleUploads(ttlMs: number): Promise<number> {
    const stale = await this.metadata.listUploadsUpdatedBefore(new Date(Date.now() - ttlMs));
    for (const session of stale) {
      await this.locks.run(session.id, async () => {
        await this.metadata.deleteUpload(session.id);
        await this.blobs.abortUpload(session.id);
        this.hashes.delete(session.id);
      });
    }
    return stale.length;
  }

  private async append(session: UploadSessionRecord, chunk: ChunkRequest): Promise<UploadSessionRecord> {
    if (chunk.range) {
      const expectedLength = chunk.range.end - chunk.range.start + 1;
      if (chunk.range.start !== session.size || (chunk.length !== undefined && chunk.length !== expectedLength)) {
        throw rangeError(session);
      }
    }
    const newSize = await this.withClaim(session, async () => {
      // Hash while streaming when this process saw every earlier byte; otherwise (restart,
      // another node took the previous chunk) the digest is computed once at completion.
      const running = this.continuableHash(session);
      let size: number;
      try {
        size = await this.blobs.appendUpload(session.id, session.size, chunk.body, running ? (c) => running.hash.update(c) : () => undefined);
      } catch (err) {
        this.hashes.delete(session.id);
        throw err;
      }
      const declared = chunk.range ? chunk.range.end - chunk.range.start + 1 : chunk.length;
      if (declared !== undefined && size !== declared) {
        this.hashes.delete(session.id);
        throw new RegistryError('SIZE_INVALID', 'chunk length does not match Content-Range or Content-Length');
      }
      if (running) running.size = session.size + size;
      return session.size + size;
    });
    return { ...session, size: newSize, updatedAt: new Date() };
  }

  /**
   * Run `work` holding the upload's write claim in the metadata store, so no other request
   * (on this node or another) writes the upload meanwhile. `work` returns the new size.
   */
  private async withClaim(session: UploadSessionRecord, work: () => Promise<number>, options: { endsSession?: boolean } = {}): Promise<number> {
    const writer = randomUUID();
    if (!(await this.metadata.claimUpload(session.id, session.size, writer, CLAIM_LEASE_MS))) {
      const current = await this.metadata.getUpload(session.repository, session.id);
      if (!current) throw new RegistryError('BLOB_UPLOAD_UNKNOWN', undefined, { uuid: session.id });
      // Either the upload moved on, or another request is writing it: report where it stands.
      throw rangeError(current);
    }
    const renew = setInterval(() => {
      this.metadata.renewUploadClaim(session.id, writer, CLAIM_LEASE_MS).catch(() => undefined);
    }, CLAIM_LEASE_MS / 3);
    renew.unref();
    let newSize: number;
    try {
      newSize = await work();
    } catch (err) {
      await this.metadata.releaseUpload(session.id, writer).catch(() => undefined);
      throw err;
    } finally {
      clearInterval(renew);
    }
    // A completed upload's session row is gone: there is no claim left to release.
    if (options.endsSession) return newSize;
    if (!(await this.metadata.releaseUpload(session.id, writer, newSize))) {
      this.hashes.delete(session.id);
      throw new RegistryError('BLOB_UPLOAD_INVALID', 'the upload was modified concurrently');
    }
    return newSize;
  }

  /** The running sha256 when it covers exactly the acknowledged bytes, else undefined. */
  private continuableHash(session: UploadSessionRecord): RunningHash | undefined {
    const cached = this.hashes.get(session.id);
    if (cached && cached.size === session.size) return cached;
    this.hashes.delete(session.id);
    if (session.size !== 0) return undefined;
    const fresh = { hash: createHash('sha256'), size: 0 };
    this.hashes.set(session.id, fresh);
    return fresh;
  }

  private async hashStaged(session: UploadSessionRecord, algorithm: Digest['algorithm']): Promise<Hash> {
    const hash = createHash(algorithm);
    const stream = await this.blobs.readUpload(session.id, session.size);
    for await (const c of stream) hash.update(c as Buffer);
    return hash;
  }

  private async digestOfUpload(session: UploadSessionRecord, algorithm: Digest['algorithm']): Promise<Digest> {
    const running = this.hashes.get(session.id);
    if (algorithm === 'sha256' && running && running.size === session.size) return fromHash('sha256', running.hash.copy());
    return fromHash(algorithm, await this.hashStaged(session, algorithm));
  }

  /**
   * Make a verified upload the blob `digest` in `repository`, safe against a collection running
   * at the same time. The bytes are made durable first (kept when already stored), then linked,
   * waiting while a collector holds a claim on the blob (it is deleting the bytes). A collector
   * deletes bytes only of a blob it claimed while no repository linked it, so once the link is
   * made the bytes stay; they are checked then, since a collection may have deleted them just
   * before (the push then fails with a retryable error instead of linking missing bytes).
   */
  private async commitAndLink(repository: string, uploadId: string, size: number, digest: Digest, quota?: StorageQuota): Promise<void> {
    await this.commit(uploadId, size, digest);
    const deadline = Date.now() + COLLECTOR_WAIT_MS;
    const link = () => this.metadata.reserveBlobLink(repository, digest.value, size, quota).catch(quotaError(quota, digest.value, size));
    while ((await link()) === 'wait') {
      if (Date.now() > deadline) throw new RegistryError('UNAVAILABLE', 'the blob is being garbage collected; retry the push');
      await new Promise((res) => setTimeout(res, 25));
    }
    const stored = await this.blobs.stat(digest);
    if (!stored || stored.size !== size) {
      await this.metadata.unlinkBlob(repository, digest.value).catch(() => undefined);
      throw new RegistryError('UNAVAILABLE', 'the blob was garbage collected while it was stored; retry the push');
    }
  }

  /** Move staged bytes under their digest, or drop them when the blob is already stored. */
  private async commit(uploadId: string, size: number, digest: Digest): Promise<void> {
    const existing = await this.blobs.stat(digest);
    if (existing && existing.size === size) {
      await this.blobs.abortUpload(uploadId);
      return;
    }
    await this.blobs.commitUpload(uploadId, size, digest);
  }
}

/** Upload ids carry their creation time, so orphans can be told from uploads just starting. */
function newUploadId(kind: '' | 'm'): string {
  return `${kind}${Date.now().toString(36)}-${randomUUID()}`;
}

/** Creation time of an upload id (0 for ids without one, which count as old). */
export function uploadIdTime(id: string): number {
  const match = /^m?([0-9a-z]{6,10})-/.exec(id);
  return match ? parseInt(match[1]!, 36) : 0;
}

export function uploadRange(session: UploadSessionRecord): string {
  return `0-${Math.max(0, session.size - 1)}`;
}

function rangeError(session: UploadSessionRecord): RegistryError {
  return new RegistryError('BLOB_UPLOAD_INVALID', 'chunk out of order: Content-Range must start at the current upload offset', { offset: session.size }, {
    status: 416,
    headers: {
      Range: uploadRange(session),
      Location: `/v2/${session.repository}/blobs/uploads/${session.id}`,
      'Blob-Upload-Session-ID': session.id,
    },
  });
}


/** Turns the store's QuotaExceededError into the client's DENIED error naming limit and usage. */
function quotaError(quota: StorageQuota | undefined, digest: string, size: number): (err: unknown) => never {
  return (err: unknown) => {
    if (quota && err instanceof QuotaExceededError) throw quota.exceeded(err.usedBytes, size, digest);
    throw err;
  };
}
