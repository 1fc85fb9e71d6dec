// Where a backup lives: a directory or an S3 bucket/prefix. Blobs are content addressed under
// blobs/<alg>/..., so a second backup into the same place copies only new blobs; a blob is
// written whole or not at all, and only when its bytes hash to its digest.
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, open, rename, rm, stat } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { pipeline as pipelineCallback, Readable, Transform, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Config } from '../config/schema.js';
import type { Digest } from '../registry/digest.js';

export interface BackupTarget {
  /** Where, for messages (`/backups/reg` or `s3://bucket/prefix/`). */
  readonly location: string;
  /** Write a file (a name relative to the target) atomically from the chunks. */
  writeFile(name: string, chunks: AsyncIterable<string | Buffer> | Iterable<string | Buffer>): Promise<void>;
  /** A file's bytes, or undefined when the target has no such file. */
  readFile(name: string): Promise<Readable | undefined>;
  removeFile(name: string): Promise<void>;
  /** Size of a blob the target holds, or undefined. */
  blobSize(digest: Digest): Promise<number | undefined>;
  /** Store a blob; rejects with BlobMismatchError (storing nothing) when the bytes do not hash to `digest`. */
  writeBlob(digest: Digest, data: Readable): Promise<void>;
  readBlob(digest: Digest): Promise<Readable>;
}

export class BlobMismatchError extends Error {
  constructor(
    readonly digest: string,
    readonly actual: string,
  ) {
    super(`blob ${digest}: bytes hash to ${actual}`);
  }
}

/** `data` as it streams, failing at its end (before a consumer sees the end) unless it hashes to `digest`. */
export function verified(data: Readable, digest: Digest): Readable {
  // pipeline, not pipe: an error of the source must reach the consumer, not leave it waiting.
  return pipelineCallback(data, verifyingDigest(digest), () => undefined);
}

function verifyingDigest(digest: Digest): Transform {
  const hash = createHash(digest.algorithm);
  return new Transform({
    transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback) {
      hash.update(chunk);
      done(null, chunk);
    },
    flush(done: TransformCallback) {
      const actual = `${digest.algorithm}:${hash.digest('hex')}`;
      done(actual === digest.value ? null : new BlobMismatchError(digest.value, actual));
    },
  });
}

export function isNotFound(err: unknown): boolean {
  const e = err as { code?: string; name?: string; $metadata?: { httpStatusCode?: number } };
  return e?.code === 'ENOENT' || e?.name === 'NotFound' || e?.name === 'NoSuchKey' || e?.$metadata?.httpStatusCode === 404;
}

export class DirectoryTarget implements BackupTarget {
  readonly location: string;

  constructor(root: string) {
    this.location = resolve(root);
  }

  private blobPath(digest: Digest): string {
    return join(this.location, 'blobs', digest.algorithm, digest.hex.slice(0, 2), digest.hex);
  }

  /** Write to a temporary name beside `path`, fsync, rename: readers see the old file or the whole new one. */
  private async writeAtomically(path: string, source: Readable): Promise<void> {
    await mkdir(dirname(path), { recursive: true });
    const temp = `${path}.tmp-${randomBytes(6).toString('hex')}`;
    try {
      await pipeline(source, createWriteStream(temp));
      const handle = await open(temp, 'r');
      try {
        await handle.sync();
      } finally {
        await handle.close();
      }
      await rename(temp, path);
    } catch (err) {
      await rm(temp, { force: true });
      throw err;
    }
  }

  async writeFile(name: string, chunks: AsyncIterable<string | Buffer> | Iterable<string | Buffer>): Promise<void> {
    await this.writeAtomically(join(this.location, name), Readable.from(chunks));
  }

  async readFile(name: string): Promise<Readable | undefined> {
    const path = join(this.location, name);
    try {
      await stat(path);
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
    return createReadStream(path);
  }

  async removeFile(name: string): Promise<void> {
    await rm(join(this.location, name), { force: true });
  }

  async blobSize(digest: Digest): Promise<number | undefined> {
    try {
      return (await stat(this.blobPath(digest))).size;
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }

  async writeBlob(digest: Digest, data: Readable): Promise<void> {
    await this.writeAtomically(this.blobPath(digest), verified(data, digest));
  }

  async readBlob(digest: Digest): Promise<Readable> {
    return createReadStream(this.blobPath(digest));
  }
}

/**
 * The target a command line argument names: `s3://bucket/prefix` (endpoint, region and keys
 * from the storage.s3 settings, else the AWS SDK's defaults) or a directory.
 */
export async function openTarget(where: string, config: Config): Promise<BackupTarget> {
  const m = /^s3:\/\/([^/]+)\/?(.*)$/.exec(where);
  if (!m) return new DirectoryTarget(where);
  // The AWS SDK is loaded only when a backup goes to S3 (it costs the server ~25 MB otherwise).
  const [{ s3Client }, { S3Target }] = await Promise.all([import('../storage/s3.js'), import('./s3-target.js')]);
  const s3 = config.storage.s3;
  const prefix = m[2] === '' || m[2]!.endsWith('/') ? m[2]! : `${m[2]}/`;
  return new S3Target(
    s3Client({
      region: s3.region,
      forcePathStyle: s3.forcePathStyle,
      ...(s3.endpoint ? { endpoint: s3.endpoint } : {}),
      ...(s3.accessKeyId ? { accessKeyId: s3.accessKeyId } : {}),
      ...(s3.secretAccessKey ? { secretAccessKey: s3.secretAccessKey } : {}),
    }),
    m[1]!,
    prefix,
  );
}
