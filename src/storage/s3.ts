// Blob store on any S3-compatible object store. Committed blobs are objects under
// blobs/<alg>/<hex>. Each chunk of an upload is its own object under uploads/<id>/<offset>,
// streamed with a multipart upload (memory stays at one part, never the whole chunk), so any
// node can take the next chunk. Completing copies the chunks into the blob object server-side
// when S3's part rules allow, else streams them through once; either way the blob object
// appears whole or not at all.
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  UploadPartCopyCommand,
  type _Object,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { StandardRetryStrategy } from '@smithy/core/retry';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { PassThrough, Readable } from 'node:stream';
import type { Digest } from '../registry/digest.js';
import { RegistryError } from '../registry/errors.js';
import type { BlobStat, BlobStore, StoredBlob } from './blob-store.js';

const UPLOAD_ID = /^[A-Za-z0-9_-]{1,128}$/;
const MARKER = '_session';
const MiB = 1024 * 1024;
/** S3's smallest part (all but the last) and largest part / single copy. */
const MIN_PART = 5 * MiB;
const MAX_COPY = 5 * 1024 * MiB;

export interface S3Options {
  endpoint?: string;
  region: string;
  bucket: string;
  accessKeyId: string;
  secretAccessKey: string;
  forcePathStyle: boolean;
  prefix: string;
  /** Part size of streamed uploads; memory per running upload is about this much. */
  partSize?: number;
  /** Longest wait for a connection, and longest silence within a request (see the config schema). */
  connectTimeoutMs?: number;
  requestTimeoutMs?: number;
  /** Tries per request, the first included. */
  maxAttempts?: number;
}

interface Chunk {
  key: string;
  start: number;
  size: number;
}

/** A chunk as part of the acknowledged bytes: only its first `use` bytes count. */
interface UsedChunk extends Chunk {
  use: number;
}

function isNotFound(err: unknown): boolean {
  const e = err as { name?: string; $metadata?: { httpStatusCode?: number } };
  return e?.name === 'NotFound' || e?.name === 'NoSuchKey' || e?.$metadata?.httpStatusCode === 404;
}

type RetryToken = Awaited<ReturnType<StandardRetryStrategy['acquireInitialRetryToken']>>;
type RetryErrorInfo = Parameters<StandardRetryStrategy['refreshRetryTokenForRetry']>[1];

/**
 * The SDK's standard retries, within a time budget: no retry starts once a request has spent
 * `budgetMs` (its first attempt included). A store that accepts connections but answers nothing
 * spends the budget in one attempt (the socket timeout is requestTimeoutMs), so it is answered
 * 503 after about requestTimeoutMs, not maxAttempts × requestTimeoutMs; quick failures (5xx, a
 * reset or refused connection) are retried as before.
 */
export class BudgetedRetryStrategy extends StandardRetryStrategy {
  private readonly started = new WeakMap<RetryToken, number>();

  constructor(
    maxAttempts: number,
    private readonly budgetMs: number,
  ) {
    super(maxAttempts);
  }

  override async acquireInitialRetryToken(scope: string): Promise<RetryToken> {
    const token = await super.acquireInitialRetryToken(scope);
    this.started.set(token, Date.now());
    return token;
  }

  override async refreshRetryTokenForRetry(token: RetryToken, info: RetryErrorInfo): Promise<RetryToken> {
    const started = this.started.get(token) ?? Date.now();
    // Thrown here, the SDK gives up and rethrows the request's own error.
    if (Date.now() - started >= this.budgetMs) throw info.error ?? new Error(`no retry after ${this.budgetMs} ms`);
    const next = await super.refreshRetryTokenForRetry(token, info);
    this.started.set(next, started);
    return next;
  }
}

/** The SDK arms a socket timeout of 6 s or more only this long into each request. */
const SDK_SOCKET_TIMEOUT_DEFERRAL_MS = 3_000;
const SDK_DEFERRED_FROM_MS = 6_000;

/**
 * The socket timeout to give the SDK so that a store silent from the start of a request is
 * given up on after about `requestTimeoutMs` (not 3 s later, as the SDK's deferral would make
 * it); silence later in a request is then cut a little earlier, never later.
 */
export function sdkSocketTimeout(requestTimeoutMs: number): number {
  const deferred = requestTimeoutMs - SDK_SOCKET_TIMEOUT_DEFERRAL_MS;
  return deferred >= SDK_DEFERRED_FROM_MS ? deferred : Math.min(requestTimeoutMs, SDK_DEFERRED_FROM_MS - 1);
}

/** A client for the store's endpoint; without keys, the SDK's default credential chain applies. */
export function s3Client(
  options: Pick<S3Options, 'endpoint' | 'region' | 'forcePathStyle'> &
    Partial<Pick<S3Options, 'accessKeyId' | 'secretAccessKey' | 'connectTimeoutMs' | 'requestTimeoutMs' | 'maxAttempts'>>,
): S3Client {
  return new S3Client({
    region: options.region,
    forcePathStyle: options.forcePathStyle,
    ...(options.accessKeyId && options.secretAccessKey ? { credentials: { accessKeyId: options.accessKeyId, secretAccessKey: options.secretAccessKey } } : {}),
    ...(options.endpoint ? { endpoint: options.endpoint } : {}),
    // The strategy carries the attempts; the client's own maxAttempts would be ignored beside it.
    retryStrategy: new BudgetedRetryStrategy(options.maxAttempts ?? 3, options.requestTimeoutMs ?? 10_000),
    // Without these a store that stops answering (but keeps its port open) hangs every request
    // forever. The socket timeout is on silence, so a long but flowing transfer is never cut.
    requestHandler: { connectionTimeout: options.connectTimeoutMs ?? 3_000, socketTimeout: sdkSocketTimeout(options.requestTimeoutMs ?? 10_000) },
  });
}

export class S3BlobStore implements BlobStore {
  readonly client: S3Client;
  private readonly bucket: string;
  private readonly prefix: string;
  private readonly partSize: number;

  constructor(options: S3Options) {
    this.client = s3Client(options);
    this.bucket = options.bucket;
    this.prefix = options.prefix;
    this.partSize = Math.max(MIN_PART, options.partSize ?? 8 * MiB);
  }

  private blobKey(digest: Digest): string {
    return `${this.prefix}blobs/${digest.algorithm}/${digest.hex}`;
  }

  private uploadPrefix(uploadId: string): string {
    if (!UPLOAD_ID.test(uploadId)) throw new RegistryError('BLOB_UPLOAD_UNKNOWN');
    return `${this.prefix}uploads/${uploadId}/`;
  }

  async stat(digest: Digest): Promise<BlobStat | undefined> {
    try {
      const head = await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: this.blobKey(digest) }));
      return { size: head.ContentLength ?? 0 };
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }

  async read(digest: Digest, range?: { start: number; end: number }): Promise<Readable> {
    try {
      const out = await this.client.send(
        new GetObjectCommand({ Bucket: this.bucket, Key: this.blobKey(digest), ...(range ? { Range: `bytes=${range.start}-${range.end}` } : {}) }),
      );
      return out.Body as Readable;
    } catch (err) {
      if (isNotFound(err)) throw new RegistryError('BLOB_UNKNOWN', undefined, { digest: digest.value });
      throw err;
    }
  }

  /** A pre-signed GET URL for the blob, for answering pulls with a redirect. */
  async presignedUrl(digest: Digest, expiresInSeconds: number): Promise<string> {
    return getSignedUrl(this.client, new GetObjectCommand({ Bucket: this.bucket, Key: this.blobKey(digest) }), { expiresIn: expiresInSeconds });
  }

  async delete(digest: Digest): Promise<void> {
    await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: this.blobKey(digest) }));
  }

  async quarantine(digest: Digest): Promise<void> {
    const target = `${this.prefix}quarantine/${digest.algorithm}/${digest.hex}.${Date.now()}`;
    try {
      await this.client.send(new CopyObjectCommand({ Bucket: this.bucket, Key: target, CopySource: this.copySource(this.blobKey(digest)) }));
    } catch (err) {
      if (isNotFound(err)) return;
      throw err;
    }
    await this.delete(digest);
  }

  async createUpload(uploadId: string): Promise<void> {
    if ((await this.listUpload(uploadId)).exists) throw new Error(`upload ${uploadId} exists already`);
    // A marker object, so an upload with no bytes yet still exists for other nodes.
    await this.client.send(new PutObjectCommand({ Bucket: this.bucket, Key: this.uploadPrefix(uploadId) + MARKER, Body: Buffer.alloc(0), ContentLength: 0 }));
  }

  /** The upload's objects: whether its marker exists, and its chunks in offset order. */
  private async listUpload(uploadId: string): Promise<{ exists: boolean; chunks: Chunk[] }> {
    const prefix = this.uploadPrefix(uploadId);
    const objects: _Object[] = [];
    let token: string | undefined;
    for (let page = 0; page < 10_000; page++) {
      const out = await this.client.send(new ListObjectsV2Command({ Bucket: this.bucket, Prefix: prefix, ContinuationToken: token }));
      objects.push(...(out.Contents ?? []));
      if (!out.IsTruncated) break;
      token = out.NextContinuationToken;
    }
    let exists = false;
    const chunks: Chunk[] = [];
    for (const o of objects) {
      const name = o.Key!.slice(prefix.length);
      if (name === MARKER) exists = true;
      else if (/^\d{16}$/.test(name)) chunks.push({ key: o.Key!, start: Number(name), size: o.Size ?? 0 });
    }
    chunks.sort((a, b) => a.start - b.start);
    return { exists, chunks };
  }

  /**
   * Chunks that make up exactly the first `length` bytes (the last one possibly only in part:
   * a write that went past what was acknowledged); anything else is stale.
   */
  private contiguous(chunks: Chunk[], length: number): { keep: UsedChunk[]; stale: Chunk[] } {
    const keep: UsedChunk[] = [];
    const stale: Chunk[] = [];
    let next = 0;
    for (const c of chunks) {
      if (c.start === next && next < length && c.size > 0) {
        const use = Math.min(c.size, length - next);
        keep.push({ ...c, use });
        next += use;
      } else stale.push(c);
    }
    if (next !== length) throw new RegistryError('BLOB_UPLOAD_INVALID', 'staged upload is shorter than acknowledged');
    return { keep, stale };
  }

  private rangeOf(c: UsedChunk): string | undefined {
    return c.use < c.size ? `bytes=0-${c.use - 1}` : undefined;
  }

  private async deleteKeys(keys: string[]): Promise<void> {
    for (let i = 0; i < keys.length; i += 1000) {
      const part = keys.slice(i, i + 1000);
      if (part.length === 0) continue;
      await this.client.send(new DeleteObjectsCommand({ Bucket: this.bucket, Delete: { Objects: part.map((Key) => ({ Key })), Quiet: true } }));
    }
  }

  async appendUpload(uploadId: string, offset: number, data: Readable, onChunk: (chunk: Buffer) => void): Promise<number> {
    const { exists, chunks } = await this.listUpload(uploadId);
    if (!exists) throw new RegistryError('BLOB_UPLOAD_UNKNOWN');
    const { keep, stale } = this.contiguous(
      chunks.filter((c) => c.start < offset),
      offset,
    );
    await this.deleteKeys([...stale, ...chunks.filter((c) => c.start >= offset)].map((c) => c.key));
    const last = keep[keep.length - 1];
    if (last && last.use < last.size) {
      // Cut the chunk back to what was acknowledged (rare: a write outran its acknowledgement).
      await this.streamInto(last.key, [last]);
    }

    let written = 0;
    const body = new PassThrough({ highWaterMark: MiB });
    const counting = (async () => {
      for await (const c of data) {
        const buf = c as Buffer;
        onChunk(buf);
        written += buf.length;
        if (!body.write(buf)) await new Promise<void>((res) => body.once('drain', res));
      }
      body.end();
    })();
    counting.catch((err: unknown) => body.destroy(err as Error));
    const key = `${this.uploadPrefix(uploadId)}${String(offset).padStart(16, '0')}`;
    const upload = new Upload({
      client: this.client,
      params: { Bucket: this.bucket, Key: key, Body: body },
      partSize: this.partSize,
      queueSize: 1,
      leavePartsOnError: false,
    });
    try {
      await Promise.all([upload.done(), counting]);
    } catch (err) {
      await upload.abort().catch(() => undefined);
      await this.deleteKeys([key]).catch(() => undefined);
      throw err;
    }
    if (written === 0) await this.deleteKeys([key]);
    return written;
  }

  async readUpload(uploadId: string, length: number): Promise<Readable> {
    const { chunks } = await this.listUpload(uploadId);
    const { keep } = this.contiguous(chunks.filter((c) => c.start < length), length);
    return Readable.from(this.concat(keep));
  }

  private async *concat(chunks: UsedChunk[]): AsyncGenerator<Buffer> {
    for (const c of chunks) {
      const range = this.rangeOf(c);
      const out = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: c.key, ...(range ? { Range: range } : {}) }));
      for await (const piece of out.Body as Readable) yield piece as Buffer;
    }
  }

  /** Write the used bytes of `chunks` as one object, streaming them through this process. */
  private async streamInto(key: string, chunks: UsedChunk[]): Promise<void> {
    const upload = new Upload({
      client: this.client,
      params: { Bucket: this.bucket, Key: key, Body: Readable.from(this.concat(chunks)) },
      partSize: this.partSize,
      queueSize: 1,
      leavePartsOnError: false,
    });
    await upload.done();
  }

  async uploadSize(uploadId: string): Promise<number | undefined> {
    const { exists, chunks } = await this.listUpload(uploadId);
    if (!exists) return undefined;
    let next = 0;
    for (const c of chunks) if (c.start === next) next += c.size;
    return next;
  }

  async commitUpload(uploadId: string, length: number, digest: Digest): Promise<void> {
    const { exists, chunks } = await this.listUpload(uploadId);
    if (!exists) throw new RegistryError('BLOB_UPLOAD_UNKNOWN');
    const { keep } = this.contiguous(chunks.filter((c) => c.start < length), length);
    const target = this.blobKey(digest);
    if (keep.length === 0) {
      await this.client.send(new PutObjectCommand({ Bucket: this.bucket, Key: target, Body: Buffer.alloc(0), ContentLength: 0 }));
    } else if (keep.length === 1 && keep[0]!.use === keep[0]!.size && keep[0]!.size <= MAX_COPY) {
      await this.client.send(new CopyObjectCommand({ Bucket: this.bucket, Key: target, CopySource: this.copySource(keep[0]!.key) }));
    } else if (keep.every((c, i) => c.use <= MAX_COPY && (i === keep.length - 1 || c.use >= MIN_PART)) && keep.length <= 10_000) {
      await this.multipartCopy(target, keep);
    } else {
      await this.streamInto(target, keep);
    }
    await this.abortUpload(uploadId);
  }

  private copySource(key: string): string {
    return `${this.bucket}/${key.split('/').map(encodeURIComponent).join('/')}`;
  }

  private async multipartCopy(target: string, chunks: UsedChunk[]): Promise<void> {
    const created = await this.client.send(new CreateMultipartUploadCommand({ Bucket: this.bucket, Key: target }));
    const uploadId = created.UploadId!;
    try {
      const parts: { ETag: string; PartNumber: number }[] = [];
      for (const [i, c] of chunks.entries()) {
        const out = await this.client.send(
          new UploadPartCopyCommand({
            Bucket: this.bucket,
            Key: target,
            UploadId: uploadId,
            PartNumber: i + 1,
            CopySource: this.copySource(c.key),
            ...(c.use < c.size ? { CopySourceRange: `bytes=0-${c.use - 1}` } : {}),
          }),
        );
        parts.push({ ETag: out.CopyPartResult!.ETag!, PartNumber: i + 1 });
      }
      await this.client.send(new CompleteMultipartUploadCommand({ Bucket: this.bucket, Key: target, UploadId: uploadId, MultipartUpload: { Parts: parts } }));
    } catch (err) {
      await this.client.send(new AbortMultipartUploadCommand({ Bucket: this.bucket, Key: target, UploadId: uploadId })).catch(() => undefined);
      throw err;
    }
  }

  async abortUpload(uploadId: string): Promise<void> {
    const { chunks } = await this.listUpload(uploadId);
    // The marker goes last, so a half-done abort still looks like an upload to finish removing.
    await this.deleteKeys(chunks.map((c) => c.key));
    await this.deleteKeys([this.uploadPrefix(uploadId) + MARKER]);
  }

  async *listBlobs(): AsyncIterable<StoredBlob> {
    const prefix = `${this.prefix}blobs/`;
    let token: string | undefined;
    for (let page = 0; page < 1_000_000; page++) {
      const out = await this.client.send(new ListObjectsV2Command({ Bucket: this.bucket, Prefix: prefix, ContinuationToken: token }));
      for (const o of out.Contents ?? []) {
        // blobs/<algorithm>/<hex>
        const [algorithm, hex, ...rest] = o.Key!.slice(prefix.length).split('/');
        if (algorithm && hex && rest.length === 0) yield { digest: `${algorithm}:${hex}`, size: o.Size ?? 0, modifiedAt: o.LastModified ?? new Date(0) };
      }
      if (!out.IsTruncated) break;
      token = out.NextContinuationToken;
    }
  }

  async listUploads(): Promise<string[]> {
    const ids: string[] = [];
    let token: string | undefined;
    for (let page = 0; page < 10_000; page++) {
      const out = await this.client.send(
        new ListObjectsV2Command({ Bucket: this.bucket, Prefix: `${this.prefix}uploads/`, Delimiter: '/', ContinuationToken: token }),
      );
      for (const p of out.CommonPrefixes ?? []) {
        const id = p.Prefix!.slice(`${this.prefix}uploads/`.length).replace(/\/$/, '');
        if (UPLOAD_ID.test(id)) ids.push(id);
      }
      if (!out.IsTruncated) break;
      token = out.NextContinuationToken;
    }
    return ids;
  }

  async ping(): Promise<void> {
    await this.client.send(new HeadBucketCommand({ Bucket: this.bucket }));
  }
}
