// Where blob bytes live. The registry logic only ever talks to this interface, so a backend
// (filesystem, S3) is one driver. Digests are checked by the caller before any path is built.
import type { Readable } from 'node:stream';
import type { FileHandle } from 'node:fs/promises';
import type { Digest } from '../registry/digest.js';

/** Bytes [start, end] (inclusive) of an open blob file; whoever receives it closes the handle. */
export interface BlobFileRange {
  handle: FileHandle;
  start: number;
  end: number;
}

export interface BlobStat {
  size: number;
}

/** Bytes staged for one upload session before they are committed under their digest. */
export interface StoredBlob {
  /** `algorithm:hex` as found under the store's blob prefix. */
  digest: string;
  size: number;
  modifiedAt: Date;
}

export interface BlobStore {
  /** Size of a committed blob, or undefined when the store does not hold it. */
  stat(digest: Digest): Promise<BlobStat | undefined>;
  /** Stream a committed blob, or the inclusive byte range [start, end] of it. */
  read(digest: Digest, range?: { start: number; end: number }): Promise<Readable>;
  /**
   * Stores that keep blobs in local files: the committed blob (or a range of it) as an open
   * file, so a pull can be sent with large reads into reused buffers instead of a stream.
   */
  openFile?(digest: Digest, range?: { start: number; end: number }): Promise<BlobFileRange>;
  /** Remove a committed blob (garbage collection). Absent blobs are not an error. */
  delete(digest: Digest): Promise<void>;

  /** Create the staging area of a new upload. */
  createUpload(uploadId: string): Promise<void>;
  /**
   * Write `data` into the upload starting at `offset` (the bytes acknowledged so far; anything
   * staged past it is dropped first). Each chunk passes through `onChunk` as it streams (the
   * caller hashes and counts there). Durable when the promise resolves. On failure the upload
   * is left at `offset`. Returns the bytes written.
   */
  appendUpload(uploadId: string, offset: number, data: Readable, onChunk: (chunk: Buffer) => void): Promise<number>;
  /** Stream the bytes staged so far (used to rebuild a hash after a restart). */
  readUpload(uploadId: string, length: number): Promise<Readable>;
  /** Size of the bytes staged so far, or undefined when the upload is unknown to the store. */
  uploadSize(uploadId: string): Promise<number | undefined>;
  /**
   * Make the first `length` staged bytes the blob `digest`, atomically: readers see either
   * nothing or the whole blob. The upload's staging area is gone afterwards.
   */
  commitUpload(uploadId: string, length: number, digest: Digest): Promise<void>;
  /** Drop an upload's staged bytes. */
  abortUpload(uploadId: string): Promise<void>;
  /** Upload ids with staged bytes (for cleaning up orphans at start). */
  listUploads(): Promise<string[]>;
  /** Every committed blob, in no particular order (scrub looks for bytes no record names). */
  listBlobs(): AsyncIterable<StoredBlob>;
  /** A time-limited URL the client may fetch the blob from directly (object stores only). */
  presignedUrl?(digest: Digest, expiresInSeconds: number): Promise<string>;
  /**
   * Move a committed blob out of the way (scrub found it corrupt): kept under quarantine/ for
   * inspection, no longer served. Absent blobs are not an error.
   */
  quarantine?(digest: Digest): Promise<void>;
  /** Check that the backend answers (readiness). */
  ping(): Promise<void>;
}
