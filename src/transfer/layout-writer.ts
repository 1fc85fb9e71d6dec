// Writes an OCI image layout as a tar (oci-layout, blobs/<alg>/<hex>, index.json), streaming
// each blob into the archive. The tar is written under a temporary name beside the target and
// renamed into place only when complete, so a failed export leaves no half archive behind.
import { createWriteStream } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Readable } from 'node:stream';
import { randomBytes } from 'node:crypto';
import { pack, type Pack } from 'tar-stream';
import { verifyingStream } from '../distribution-client/client.js';
import { byteCounter } from './content.js';

export const REF_NAME = 'org.opencontainers.image.ref.name';
/** containerd's annotation with the full image name; import reads the repository from it. */
export const IMAGE_NAME = 'io.containerd.image.name';

export interface IndexEntry {
  mediaType: string;
  digest: string;
  size: number;
  annotations?: Record<string, string>;
}

const MTIME = new Date(0);

export class LayoutTarWriter {
  private readonly written = new Set<string>();
  private readonly done: Promise<void>;

  private constructor(
    private readonly tar: Pack,
    private readonly tempFile: string,
    private readonly file: string,
  ) {
    this.done = pipeline(tar, createWriteStream(tempFile, { flags: 'wx' }));
    // Observed through finish()/abort(); a failing disk must not be an unhandled rejection meanwhile.
    this.done.catch(() => undefined);
  }

  static async create(file: string): Promise<LayoutTarWriter> {
    const temp = join(dirname(file), `.${basename(file)}.${randomBytes(6).toString('hex')}.partial`);
    const writer = new LayoutTarWriter(pack(), temp, file);
    await writer.entry('oci-layout', Buffer.from(JSON.stringify({ imageLayoutVersion: '1.0.0' })));
    return writer;
  }

  has(digest: string): boolean {
    return this.written.has(digest);
  }

  /** A blob from a stream of `size` bytes; the bytes are checked against the digest as they pass. */
  async addBlob(digest: string, size: number, open: () => Promise<Readable>, onBytes: (n: number) => void = () => undefined): Promise<void> {
    if (this.written.has(digest)) return;
    const [algorithm, hex] = digest.split(':') as [string, string];
    const entry = this.tar.entry({ name: `blobs/${algorithm}/${hex}`, size, mtime: MTIME, mode: 0o644 });
    await pipeline(await open(), verifyingStream(digest, size), byteCounter(onBytes), entry);
    this.written.add(digest);
  }

  async addBytes(digest: string, bytes: Buffer, onBytes?: (n: number) => void): Promise<void> {
    await this.addBlob(digest, bytes.length, async () => Readable.from([bytes]), onBytes);
  }

  /** Write index.json, close the tar and move it into place. */
  async finish(entries: IndexEntry[]): Promise<void> {
    await this.entry('index.json', Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests: entries })));
    this.tar.finalize();
    await this.done;
    await rename(this.tempFile, this.file);
  }

  async abort(): Promise<void> {
    this.tar.destroy();
    await this.done.catch(() => undefined);
    await rm(this.tempFile, { force: true });
  }

  private entry(name: string, bytes: Buffer): Promise<void> {
    return new Promise((resolve, reject) => {
      this.tar.entry({ name, size: bytes.length, mtime: MTIME, mode: 0o644 }, bytes, (err) => (err ? reject(err) : resolve()));
    });
  }
}
