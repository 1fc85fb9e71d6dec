// Blobs and upload sessions: the push and pull of layers and configs. Bytes are hashed as
// they stream into the blob store; a blob becomes visible only after its digest is checked
// and its bytes are durable.
import { createHash, randomUUID, type Hash } from 'node:crypto';
import type { Readable } from "node:stream";
import type { BlobStore } from '../storage/blob-store.js';
import type { MetadataStore, UploadSessionRecord } from '../metadata/store.js';
import { RegistryError } from './errors.js';
import { fromHash, parseDigest, type Digest } from './digest.js';
import { checkName, isValidName } from './names.js';
import { KeyedLock } from './keyed-lock.js';
import type { ByteRange } from './ranges.js';

const UPLOAD_ID = /^[A-Za-z0-9-]{1,64}$/;

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
  ) {}

  /** The blob as linked into `repository`; throws BLOB_UNKNOWN. */
  async stat(repository: string, digestValue: string): Promise<BlobInfo> {
    checkName(repository);
    const digest = parseDigest(digestValue);
    const link = await this.metadata.getBlobLink(repository, digest.value);
    if (!link) throw new RegistryError('BLOB_UNKNOWN', undefined, { digest: digest.value });
    return { digest, size: link.size };
  }

  async open(blob: BlobInfo, range?: ByteRange): Promise<Readable> {
    return this.blobs.read(blob.digest, range);
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
    await this.metadata.linkBlob(repository, digest.value, link.size);
    return { digest, size: link.size };
  }

  async startUpload(repository: string): Promise<UploadSessionRecord> {
    checkName(repository);
    const id = randomUUID();
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
    // Staged under an id the metadata store never sees: a crash leaves an orphan that the
    // start-up sweep removes.
    const id = `m-${randomUUID()}`;
    await this.blobs.createUpload(id);
    try {
      const hash = createHash(digest.algorithm);
      const size = await this.blobs.appendUpload(id, 0, chunk.body, (c) => hash.update(c));
      if (chunk.length !== undefined && size !== chunk.length) throw new RegistryError('SIZE_INVALID');
      const actual = fromHash(digest.algorithm, hash);
      if (actual.value !== digest.value) {
        throw new RegistryError('DIGEST_INVALID', undefined, { expected: digest.value, actual: actual.value });
      }
      await this.commit(id, size, digest);
      await this.metadata.linkBlob(repository, digest.value, size);
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
      const actual = await this.digestOfUpload(session, digest.algorithm);
      if (actual.value !== digest.value) {
        throw new RegistryError('DIGEST_INVALID', undefined, { expected: digest.value, actual: actual.value });
      }
      await this.commit(session.id, session.size, digest);
      await this.metadata.linkBlob(repository, digest.value, session.size);
      await this.metadata.deleteUpload(session.id);
      this.hashes.delete(session.id);
      return { digest, size: session.size };
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
   * sessions with no staged bytes are removed.
   */
  async recover(): Promise<{ removedStaged: number; removedSessions: number }> {
    const sessions = new Set(await this.metadata.listUploadIds());
    const staged = await this.blobs.listUploads();
    let removedStaged = 0;
    let removedSessions = 0;
    for (const id of staged) {
      if (!sessions.has(id)) {
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
    const running = await this.runningHash(session);
    let size: number;
    try {
      size = await this.blobs.appendUpload(session.id, session.size, chunk.body, (c) => running.hash.update(c));
    } catch (err) {
      this.hashes.delete(session.id);
      throw err;
    }
    const declared = chunk.range ? chunk.range.end - chunk.range.start + 1 : chunk.length;
    if (declared !== undefined && size !== declared) {
      this.hashes.delete(session.id);
      throw new RegistryError('SIZE_INVALID', 'chunk length does not match Content-Range or Content-Length');
    }
    const newSize = session.size + size;
    if (size > 0 && !(await this.metadata.setUploadSize(session.id, session.size, newSize))) {
      // Another node moved this upload meanwhile; our bytes may be stale.
      this.hashes.delete(session.id);
      throw new RegistryError('BLOB_UPLOAD_INVALID', 'the upload was modified concurrently');
    }
    running.size = newSize;
    return { ...session, size: newSize, updatedAt: new Date() };
  }

  /** The sha256 of the bytes acknowledged so far, rebuilt from storage after a restart. */
  private async runningHash(session: UploadSessionRecord): Promise<RunningHash> {
    const cached = this.hashes.get(session.id);
    if (cached && cached.size === session.size) return cached;
    const hash = await this.hashStaged(session, 'sha256');
    const running = { hash, size: session.size };
    this.hashes.set(session.id, running);
    return running;
  }

  private async hashStaged(session: UploadSessionRecord, algorithm: Digest['algorithm']): Promise<Hash> {
    const hash = createHash(algorithm);
    const stream = await this.blobs.readUpload(session.id, session.size);
    for await (const c of stream) hash.update(c as Buffer);
    return hash;
  }

  private async digestOfUpload(session: UploadSessionRecord, algorithm: Digest['algorithm']): Promise<Digest> {
    if (algorithm === 'sha256') {
      const running = await this.runningHash(session);
      return fromHash('sha256', running.hash.copy());
    }
    return fromHash(algorithm, await this.hashStaged(session, algorithm));
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

