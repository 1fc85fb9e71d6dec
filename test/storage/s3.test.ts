// The S3 driver against the BlobStore contract, on a real S3 server (Ceph RGW started by
// scripts/test.sh), each test under its own key prefix; plus what is specific to S3.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { ListObjectsV2Command } from '@aws-sdk/client-s3';
import { S3BlobStore } from '../../src/storage/s3.js';
import { digestOf } from '../../src/registry/digest.js';
import { blobStoreContract, streamOf } from './blob-store-contract.js';
import { s3Settings } from '../helpers/services.js';

function makeStore(partSize?: number, prefix = `contract-${randomBytes(6).toString('hex')}/`): S3BlobStore {
  return new S3BlobStore({
    ...s3Settings(),
    forcePathStyle: true,
    prefix,
    ...(partSize ? { partSize } : {}),
  });
}

async function keysUnder(store: S3BlobStore, prefix: string): Promise<string[]> {
  const out = await store.client.send(new ListObjectsV2Command({ Bucket: s3Settings().bucket, Prefix: prefix }));
  return (out.Contents ?? []).map((o) => o.Key!);
}

blobStoreContract('s3', async () => {
  const store = makeStore();
  return {
    store,
    async cleanup() {
      for (const id of await store.listUploads()) await store.abortUpload(id);
    },
  };
});

describe('S3BlobStore specifics', () => {
  test('big chunks are joined server-side into one blob object, and nothing is left staged', async () => {
    const store = makeStore();
    const chunks = [randomBytes(5 * 1024 * 1024), randomBytes(6 * 1024 * 1024), randomBytes(100)];
    const whole = Buffer.concat(chunks);
    const digest = digestOf('sha256', whole);
    await store.createUpload('big');
    let offset = 0;
    for (const c of chunks) offset += await store.appendUpload('big', offset, streamOf(c), () => undefined);
    await store.commitUpload('big', offset, digest);
    assert.deepEqual(await store.stat(digest), { size: whole.length });
    const parts: Buffer[] = [];
    for await (const p of await store.read(digest)) parts.push(p as Buffer);
    assert.ok(Buffer.concat(parts).equals(whole));
    assert.deepEqual(await store.listUploads(), []);
    await store.delete(digest);
  });

  test('small chunks (below the 5 MiB part minimum) are joined by streaming', async () => {
    const store = makeStore();
    const chunks = [randomBytes(1000), randomBytes(70_000), randomBytes(3)];
    const whole = Buffer.concat(chunks);
    const digest = digestOf('sha256', whole);
    await store.createUpload('small');
    let offset = 0;
    for (const c of chunks) offset += await store.appendUpload('small', offset, streamOf(c), () => undefined);
    await store.commitUpload('small', offset, digest);
    const parts: Buffer[] = [];
    for await (const p of await store.read(digest, { start: 999, end: 1001 })) parts.push(p as Buffer);
    assert.ok(Buffer.concat(parts).equals(whole.subarray(999, 1002)));
    await store.delete(digest);
  });

  test('a chunk streams through in parts: memory holds one part, not the chunk', async () => {
    const store = makeStore(5 * 1024 * 1024);
    await store.createUpload('stream');
    const size = 96 * 1024 * 1024;
    async function* generate() {
      for (let sent = 0; sent < size; sent += 1024 * 1024) yield Buffer.alloc(1024 * 1024, sent % 251);
    }
    const { Readable } = await import('node:stream');
    const before = process.memoryUsage().rss;
    let peak = before;
    const timer = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 20);
    try {
      const written = await store.appendUpload('stream', 0, Readable.from(generate()), () => undefined);
      assert.equal(written, size);
    } finally {
      clearInterval(timer);
    }
    assert.ok(peak - before < 48 * 1024 * 1024, `RSS grew by ${Math.round((peak - before) / 1048576)} MiB for a 96 MiB chunk`);
    assert.equal(await store.uploadSize('stream'), size);
    await store.abortUpload('stream');
  });

  test('pre-signed URLs fetch the blob without credentials', async () => {
    const store = makeStore();
    const data = randomBytes(4096);
    const digest = digestOf('sha256', data);
    await store.createUpload('presign');
    await store.appendUpload('presign', 0, streamOf(data), () => undefined);
    await store.commitUpload('presign', data.length, digest);
    const url = await store.presignedUrl(digest, 300);
    const res = await fetch(url);
    assert.equal(res.status, 200);
    assert.ok(Buffer.from(await res.arrayBuffer()).equals(data));
    const unsigned = await fetch(url.split('?')[0]!);
    assert.equal(unsigned.status, 403, 'the bucket is not public');
    await unsigned.arrayBuffer();
    await store.delete(digest);
  });

  test('keys stay under the configured prefix', async () => {
    const prefix = `prefixed-${randomBytes(6).toString('hex')}/`;
    const store = makeStore(undefined, prefix);
    await store.createUpload('prefixed');
    assert.deepEqual(await keysUnder(store, prefix), [`${prefix}uploads/prefixed/_session`]);
    await store.abortUpload('prefixed');
  });
});
