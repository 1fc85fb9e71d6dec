// A backup target in an S3 bucket under a prefix; loaded only when a backup names s3://.
import { Readable } from 'node:stream';
import { DeleteObjectCommand, GetObjectCommand, HeadObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import type { Digest } from '../registry/digest.js';
import { isNotFound, verified, type BackupTarget } from './target.js';

export class S3Target implements BackupTarget {
  readonly location: string;

  constructor(
    private readonly client: S3Client,
    private readonly bucket: string,
    private readonly prefix: string,
  ) {
    this.location = `s3://${bucket}/${prefix}`;
  }

  private blobKey(digest: Digest): string {
    return `${this.prefix}blobs/${digest.algorithm}/${digest.hex}`;
  }

  /** A streamed (multipart when large) upload: the object appears only when the stream ended cleanly. */
  private async put(key: string, body: Readable): Promise<void> {
    // A failing source does not always reach the upload: surface its error either way.
    let failure: unknown;
    body.once('error', (err) => (failure = err));
    try {
      await new Upload({ client: this.client, params: { Bucket: this.bucket, Key: key, Body: body } }).done();
    } catch (err) {
      throw failure ?? err;
    }
    if (failure) {
      await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: key }));
      throw failure;
    }
  }

  async writeFile(name: string, chunks: AsyncIterable<string | Buffer> | Iterable<string | Buffer>): Promise<void> {
    await this.put(this.prefix + name, Readable.from(chunks));
  }

  async readFile(name: string): Promise<Readable | undefined> {
    try {
      const out = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: this.prefix + name }));
      return out.Body as Readable;
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }

  async removeFile(name: string): Promise<void> {
    await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: this.prefix + name }));
  }

  async blobSize(digest: Digest): Promise<number | undefined> {
    try {
      return (await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: this.blobKey(digest) }))).ContentLength ?? 0;
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }

  async writeBlob(digest: Digest, data: Readable): Promise<void> {
    await this.put(this.blobKey(digest), verified(data, digest));
  }

  async readBlob(digest: Digest): Promise<Readable> {
    const body = await this.readFile(`blobs/${digest.algorithm}/${digest.hex}`);
    if (!body) throw new Error(`the backup has no blob ${digest.value}`);
    return body;
  }
}

