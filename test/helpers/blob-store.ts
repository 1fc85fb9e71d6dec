// Blob store states tests set up behind the registry's back.
import { randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import { parseDigest, type Digest } from '../../src/registry/digest.js';
import type { BlobStore } from '../../src/storage/blob-store.js';
import { sha256 } from './oci.js';

/**
 * Commit `data` under its digest with no blob record: what a push leaves when it is killed
 * between storing the bytes and recording the blob (or bytes put there by hand).
 */
export async function storeUnrecorded(store: BlobStore, data: Buffer): Promise<Digest> {
  const digest = parseDigest(sha256(data));
  const id = `unrecorded-${randomUUID()}`;
  await store.createUpload(id);
  await store.appendUpload(id, 0, Readable.from([data]), () => undefined);
  await store.commitUpload(id, data.length, digest);
  return digest;
}
