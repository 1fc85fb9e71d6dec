// Blob store on the local filesystem. Committed blobs live at blobs/<alg>/<2 hex>/<hex>,
// one file per digest however many repositories link it. Uploads are staged in
// uploads/<id>, fsynced, then renamed into place so no reader ever sees a partial blob.
import { access, mkdir, open, readdir, rename, rm, stat, type FileHandle } from 'node:fs/promises';
import { constants as fsConstants } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import type { Digest } from '../registry/digest.js';
import { RegistryError } from '../registry/errors.js';
import type { BlobFileRange, BlobStat, BlobStore, StoredBlob } from './blob-store.js';

const UPLOAD_ID = /^[A-Za-z0-9_-]{1,128}$/;

function isNotFound(err: unknown): boolean {
  return (err as NodeJS.ErrnoException | undefined)?.code === 'ENOENT';
}

async function fsyncDirectory(dir: string): Promise<void> {
  const handle = await open(dir, fsConstants.O_RDONLY);
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Bytes gathered into one positioned write: fewer threadpool round trips than one per socket chunk. */
const WRITE_BATCH = 1024 * 1024;
/** Start write-back this often, so the fsync that ends an upload finds little left to flush. */
const FLUSH_EVERY = 8 * 1024 * 1024;

/**
 * Writes an upload's bytes in batches at increasing positions, one batch in flight while the
 * next is received and hashed, and asks the kernel to write back every FLUSH_EVERY bytes (a 16 MiB PATCH gets two)
 * without waiting for it. At most two batches are held. Errors of writes in flight are kept
 * and thrown by the next add() or by finish(), never left unhandled.
 */
class StagedWriter {
  position = 0;
  private batch: Buffer[] = [];
  private batchBytes = 0;
  private inFlight: Promise<void> = Promise.resolve();
  private flushing: Promise<void> | undefined;
  private sinceFlush = 0;
  private error: unknown;

  constructor(private readonly handle: FileHandle) {}

  async add(chunk: Buffer): Promise<void> {
    this.batch.push(chunk);
    this.batchBytes += chunk.length;
    if (this.batchBytes >= WRITE_BATCH) await this.issue();
  }

  /** Write what is left and wait for every write (and background flush) to finish. */
  async finish(): Promise<void> {
    await this.issue();
    await this.settle();
    if (this.error !== undefined) throw this.error;
  }

  /** Wait for writes and flushes in flight; never throws. */
  async settle(): Promise<void> {
    await this.inFlight;
    await this.flushing;
  }

  private async issue(): Promise<void> {
    await this.inFlight;
    if (this.error !== undefined) throw this.error;
    if (this.batchBytes === 0) return;
    const buffers = this.batch;
    const at = this.position;
    const length = this.batchBytes;
    this.batch = [];
    this.batchBytes = 0;
    this.position += length;
    this.inFlight = this.writeAll(buffers, at).then(
      () => this.afterWrite(length),
      (err: unknown) => {
        this.error ??= err;
      },
    );
  }

  private async writeAll(buffers: Buffer[], position: number): Promise<void> {
    let rest = buffers;
    let at = position;
    while (rest.length > 0) {
      const { bytesWritten } = await this.handle.writev(rest, at);
      at += bytesWritten;
      let skip = bytesWritten;
      while (rest.length > 0 && skip >= rest[0]!.length) skip -= rest.shift()!.length;
      if (skip > 0) rest[0] = rest[0]!.subarray(skip);
    }
  }

  private afterWrite(length: number): void {
    this.sinceFlush += length;
    if (this.sinceFlush < FLUSH_EVERY || this.flushing) return;
    this.sinceFlush = 0;
    this.flushing = this.handle.datasync().then(
      () => {
        this.flushing = undefined;
      },
      (err: unknown) => {
        this.flushing = undefined;
        this.error ??= err;
      },
    );
  }
}

export class FilesystemBlobStore implements BlobStore {
  private readonly blobsDir: string;
  private readonly uploadsDir: string;

  constructor(root: string) {
    this.blobsDir = join(root, 'blobs');
    this.uploadsDir = join(root, 'uploads');
  }

  async init(): Promise<void> {
    await mkdir(this.blobsDir, { recursive: true });
    await mkdir(this.uploadsDir, { recursive: true });
  }

  private blobPath(digest: Digest): string {
    return join(this.blobsDir, digest.algorithm, digest.hex.slice(0, 2), digest.hex);
  }

  private uploadPath(uploadId: string): string {
    // Ids are made by the registry, but never let one build a path elsewhere.
    if (!UPLOAD_ID.test(uploadId)) throw new RegistryError('BLOB_UPLOAD_UNKNOWN');
    return join(this.uploadsDir, uploadId);
  }

  async stat(digest: Digest): Promise<BlobStat | undefined> {
    try {
      const s = await stat(this.blobPath(digest));
      return { size: s.size };
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }

  async read(digest: Digest, range?: { start: number; end: number }): Promise<Readable> {
    const file = await this.openFile(digest, range);
    if (file.end < file.start) {
      await file.handle.close();
      return Readable.from([]);
    }
    return file.handle.createReadStream({ start: file.start, end: file.end, highWaterMark: 1024 * 1024, autoClose: true });
  }

  async openFile(digest: Digest, range?: { start: number; end: number }): Promise<BlobFileRange> {
    let handle: FileHandle;
    try {
      handle = await open(this.blobPath(digest), 'r');
    } catch (err) {
      if (isNotFound(err)) throw new RegistryError('BLOB_UNKNOWN', undefined, { digest: digest.value });
      throw err;
    }
    if (range) return { handle, start: range.start, end: range.end };
    try {
      const { size } = await handle.stat();
      return { handle, start: 0, end: size - 1 };
    } catch (err) {
      await handle.close();
      throw err;
    }
  }

  async delete(digest: Digest): Promise<void> {
    await rm(this.blobPath(digest), { force: true });
  }

  async quarantine(digest: Digest): Promise<void> {
    const dir = join(this.blobsDir, '..', 'quarantine', digest.algorithm);
    await mkdir(dir, { recursive: true });
    try {
      await rename(this.blobPath(digest), join(dir, `${digest.hex}.${Date.now()}`));
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
  }

  async createUpload(uploadId: string): Promise<void> {
    const handle = await open(this.uploadPath(uploadId), 'wx');
    await handle.close();
  }

  async appendUpload(uploadId: string, offset: number, data: Readable, onChunk: (chunk: Buffer) => void): Promise<number> {
    const path = this.uploadPath(uploadId);
    let handle: FileHandle;
    try {
      handle = await open(path, 'r+');
    } catch (err) {
      if (isNotFound(err)) throw new RegistryError('BLOB_UPLOAD_UNKNOWN');
      throw err;
    }
    let written = 0;
    let atOffset = false;
    const writer = new StagedWriter(handle);
    try {
      const { size } = await handle.stat();
      if (size < offset) throw new RegistryError('BLOB_UPLOAD_INVALID', 'staged upload is shorter than acknowledged');
      atOffset = true;
      if (size > offset) await handle.truncate(offset);
      writer.position = offset;
      for await (const chunk of data) {
        const buf = chunk as Buffer;
        onChunk(buf);
        await writer.add(buf);
        written += buf.length;
      }
      await writer.finish();
      await handle.sync();
      return written;
    } catch (err) {
      // No write may land after the truncate below.
      await writer.settle();
      // Leave the upload exactly at the acknowledged offset (but never pad a short one up to it).
      if (atOffset) await handle.truncate(offset).catch(() => undefined);
      throw err;
    } finally {
      await handle.close();
    }
  }

  async readUpload(uploadId: string, length: number): Promise<Readable> {
    const handle = await open(this.uploadPath(uploadId), 'r');
    if (length === 0) {
      await handle.close();
      return Readable.from([]);
    }
    return handle.createReadStream({ start: 0, end: length - 1, highWaterMark: 256 * 1024, autoClose: true });
  }

  async uploadSize(uploadId: string): Promise<number | undefined> {
    try {
      return (await stat(this.uploadPath(uploadId))).size;
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }

  async commitUpload(uploadId: string, length: number, digest: Digest): Promise<void> {
    const staged = this.uploadPath(uploadId);
    const target = this.blobPath(digest);
    const handle = await open(staged, 'r+');
    try {
      const { size } = await handle.stat();
      if (size !== length) {
        if (size < length) throw new RegistryError('BLOB_UPLOAD_INVALID', 'staged upload is shorter than acknowledged');
        await handle.truncate(length);
      }
      // Stored now, whenever the last chunk came: GC takes bytes no record names (a crash before
      // the push recorded them) only once they are older than the review delay.
      const now = new Date();
      await handle.utimes(now, now);
      await handle.sync();
    } finally {
      await handle.close();
    }
    const dir = join(this.blobsDir, digest.algorithm, digest.hex.slice(0, 2));
    await mkdir(dir, { recursive: true });
    await rename(staged, target);
    await fsyncDirectory(dir);
  }

  async abortUpload(uploadId: string): Promise<void> {
    await rm(this.uploadPath(uploadId), { force: true });
  }

  async *listBlobs(): AsyncIterable<StoredBlob> {
    // blobs/<algorithm>/<first two hex digits>/<hex>
    for (const algorithm of await readdir(this.blobsDir).catch(() => [] as string[])) {
      const algorithmDir = join(this.blobsDir, algorithm);
      for (const shard of await readdir(algorithmDir).catch(() => [] as string[])) {
        for (const hex of await readdir(join(algorithmDir, shard)).catch(() => [] as string[])) {
          const s = await stat(join(algorithmDir, shard, hex)).catch(() => undefined);
          if (s?.isFile()) yield { digest: `${algorithm}:${hex}`, size: s.size, modifiedAt: s.mtime };
        }
      }
    }
  }

  async listUploads(): Promise<string[]> {
    const entries = await readdir(this.uploadsDir);
    return entries.filter((e) => UPLOAD_ID.test(e));
  }

  async ping(): Promise<void> {
    // Readable and writable, not merely present: a read-only mount cannot take pushes.
    await access(this.blobsDir, fsConstants.R_OK | fsConstants.W_OK | fsConstants.X_OK);
  }
}

