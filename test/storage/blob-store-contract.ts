// The behaviour every BlobStore driver must have. A driver's test file calls
// blobStoreContract(name, makeStore) with a factory that gives a fresh, empty store.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import type { BlobStore } from '../../src/storage/blob-store.js';
import { digestOf, type Digest } from '../../src/registry/digest.js';
import { RegistryError } from '../../src/registry/errors.js';

export interface BlobStoreFixture {
  store: BlobStore;
  /** Remove everything the store wrote (temp directory, bucket prefix). */
  cleanup(): Promise<void>;
}

export type BlobStoreFactory = () => Promise<BlobStoreFixture>;

export async function readAll(stream: Readable): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of stream) parts.push(Buffer.isBuffer(c) ? c : Buffer.from(c as Uint8Array));
  return Buffer.concat(parts);
}

/** A stream of `parts`, each emitted as its own chunk. */
export function streamOf(...parts: (Buffer | string)[]): Readable {
  return Readable.from(parts.map((p) => (typeof p === 'string' ? Buffer.from(p) : p)), { objectMode: false });
}

/** A stream that yields `parts` and then fails. */
export function failingStream(...parts: (Buffer | string)[]): Readable {
  return Readable.from(
    (async function* () {
      for (const p of parts) yield typeof p === 'string' ? Buffer.from(p) : p;
      throw new Error('client went away');
    })(),
    { objectMode: false },
  );
}

function newId(): string {
  return randomUUID();
}

export function blobStoreContract(name: string, makeStore: BlobStoreFactory): void {
  describe(`BlobStore contract: ${name}`, () => {
    /** Run `fn` against a fresh store, always cleaning up. */
    function withStore(title: string, fn: (store: BlobStore) => Promise<void>): void {
      test(title, async () => {
        const fixture = await makeStore();
        try {
          await fn(fixture.store);
        } finally {
          await fixture.cleanup();
        }
      });
    }

    async function append(store: BlobStore, id: string, offset: number, ...parts: (Buffer | string)[]): Promise<number> {
      return store.appendUpload(id, offset, streamOf(...parts), () => undefined);
    }

    async function staged(store: BlobStore, id: string): Promise<Buffer> {
      const size = await store.uploadSize(id);
      assert.notEqual(size, undefined, `upload ${id} should exist`);
      return readAll(await store.readUpload(id, size!));
    }

    /** Stage `data` under a new upload and commit it; returns the digest. */
    async function putBlob(store: BlobStore, data: Buffer): Promise<Digest> {
      const id = newId();
      const digest = digestOf('sha256', data);
      await store.createUpload(id);
      await append(store, id, 0, data);
      await store.commitUpload(id, data.length, digest);
      return digest;
    }

    withStore('ping answers', async (store) => {
      await store.ping();
    });

    withStore('a new upload is empty and listed', async (store) => {
      const id = newId();
      await store.createUpload(id);
      assert.equal(await store.uploadSize(id), 0);
      assert.deepEqual(await readAll(await store.readUpload(id, 0)), Buffer.alloc(0));
      assert.ok((await store.listUploads()).includes(id));
    });

    withStore('committed blobs are listed with their size; staged uploads and deleted blobs are not', async (store) => {
      const a = await putBlob(store, Buffer.from('first blob'));
      const b = await putBlob(store, Buffer.from('second, longer blob'));
      const gone = await putBlob(store, Buffer.from('deleted'));
      await store.delete(gone);
      await store.createUpload(newId());
      const listed = new Map<string, number>();
      const before = Date.now();
      for await (const blob of store.listBlobs()) {
        listed.set(blob.digest, blob.size);
        assert.ok(Math.abs(blob.modifiedAt.getTime() - before) < 5 * 60_000, 'modification time is about now');
      }
      assert.deepEqual([...listed.entries()].sort(), [[a.value, 10], [b.value, 19]].sort());
    });

    withStore('an unknown upload has no size', async (store) => {
      assert.equal(await store.uploadSize(newId()), undefined);
    });

    withStore('appends at the acknowledged offset accumulate', async (store) => {
      const id = newId();
      await store.createUpload(id);
      assert.equal(await append(store, id, 0, 'hello'), 5);
      assert.equal(await store.uploadSize(id), 5);
      assert.equal(await append(store, id, 5, ' ', 'wor', 'ld'), 6);
      assert.equal(await store.uploadSize(id), 11);
      assert.equal((await staged(store, id)).toString(), 'hello world');
    });

    withStore('an empty append writes nothing', async (store) => {
      const id = newId();
      await store.createUpload(id);
      await append(store, id, 0, 'abc');
      assert.equal(await append(store, id, 3), 0);
      assert.equal((await staged(store, id)).toString(), 'abc');
    });

    withStore('an append drops whatever was staged past its offset', async (store) => {
      const id = newId();
      await store.createUpload(id);
      await append(store, id, 0, 'hello world');
      assert.equal(await append(store, id, 5, 'XY'), 2);
      assert.equal(await store.uploadSize(id), 7);
      assert.equal((await staged(store, id)).toString(), 'helloXY');
      // Even an empty append truncates to its offset.
      await append(store, id, 3);
      assert.equal((await staged(store, id)).toString(), 'hel');
    });

    withStore('an append past the staged bytes is refused', async (store) => {
      const id = newId();
      await store.createUpload(id);
      await append(store, id, 0, 'abc');
      await assert.rejects(append(store, id, 10, 'x'));
      assert.equal((await staged(store, id)).toString(), 'abc');
    });

    withStore('an append to an unknown upload is refused', async (store) => {
      await assert.rejects(append(store, newId(), 0, 'x'));
    });

    withStore('onChunk sees every byte, in order', async (store) => {
      const id = newId();
      await store.createUpload(id);
      const parts = [randomBytes(1), randomBytes(70_000), randomBytes(3), randomBytes(300_000)];
      const seen: Buffer[] = [];
      const n = await store.appendUpload(id, 0, streamOf(...parts), (c) => seen.push(Buffer.from(c)));
      const all = Buffer.concat(parts);
      assert.equal(n, all.length);
      assert.ok(Buffer.concat(seen).equals(all), 'onChunk bytes differ from the stream');
      assert.ok((await staged(store, id)).equals(all), 'staged bytes differ from the stream');
    });

    withStore('a failed stream leaves the upload at its offset', async (store) => {
      const id = newId();
      await store.createUpload(id);
      await append(store, id, 0, 'keep');
      await assert.rejects(store.appendUpload(id, 4, failingStream('lost', randomBytes(100_000)), () => undefined), /client went away/);
      assert.equal(await store.uploadSize(id), 4);
      assert.equal((await staged(store, id)).toString(), 'keep');
      // And the upload goes on from there.
      assert.equal(await append(store, id, 4, '+more'), 5);
      assert.equal((await staged(store, id)).toString(), 'keep+more');
    });

    withStore('an onChunk that throws fails the append and leaves the offset', async (store) => {
      const id = newId();
      await store.createUpload(id);
      await append(store, id, 0, 'abc');
      await assert.rejects(
        store.appendUpload(id, 3, streamOf('def', 'ghi'), () => {
          throw new Error('hash failed');
        }),
        /hash failed/,
      );
      assert.equal((await staged(store, id)).toString(), 'abc');
    });

    withStore('readUpload returns the first `length` bytes', async (store) => {
      const id = newId();
      await store.createUpload(id);
      await append(store, id, 0, '0123456789');
      assert.equal((await readAll(await store.readUpload(id, 4))).toString(), '0123');
      assert.equal((await readAll(await store.readUpload(id, 10))).toString(), '0123456789');
    });

    withStore('commitUpload makes the exact bytes readable and removes the upload', async (store) => {
      const id = newId();
      const data = randomBytes(600_000);
      const digest = digestOf('sha256', data);
      await store.createUpload(id);
      await append(store, id, 0, data.subarray(0, 1000), data.subarray(1000));
      assert.equal(await store.stat(digest), undefined, 'not visible before commit');
      await store.commitUpload(id, data.length, digest);
      assert.deepEqual(await store.stat(digest), { size: data.length });
      assert.ok((await readAll(await store.read(digest))).equals(data));
      assert.equal(await store.uploadSize(id), undefined);
      assert.ok(!(await store.listUploads()).includes(id));
    });

    withStore('commitUpload commits only the acknowledged length', async (store) => {
      const id = newId();
      await store.createUpload(id);
      await append(store, id, 0, 'acknowledged', '+stale tail');
      const digest = digestOf('sha256', 'acknowledged');
      await store.commitUpload(id, 'acknowledged'.length, digest);
      assert.equal((await readAll(await store.read(digest))).toString(), 'acknowledged');
      assert.deepEqual(await store.stat(digest), { size: 12 });
    });

    withStore('commitUpload of more bytes than are staged is refused', async (store) => {
      const id = newId();
      await store.createUpload(id);
      await append(store, id, 0, 'short');
      const digest = digestOf('sha256', 'short and more');
      await assert.rejects(store.commitUpload(id, 14, digest));
      assert.equal(await store.stat(digest), undefined);
    });

    withStore('an empty blob can be committed and read', async (store) => {
      const digest = await putBlob(store, Buffer.alloc(0));
      assert.deepEqual(await store.stat(digest), { size: 0 });
      assert.equal((await readAll(await store.read(digest))).length, 0);
    });

    withStore('sha512 blobs are stored apart from sha256 ones', async (store) => {
      const data = Buffer.from('same bytes, two digests');
      const id = newId();
      const d512 = digestOf('sha512', data);
      await store.createUpload(id);
      await append(store, id, 0, data);
      await store.commitUpload(id, data.length, d512);
      assert.deepEqual(await store.stat(d512), { size: data.length });
      assert.equal(await store.stat(digestOf('sha256', data)), undefined);
      assert.ok((await readAll(await store.read(d512))).equals(data));
    });

    withStore('committing a blob that already exists keeps it readable', async (store) => {
      const data = Buffer.from('twice');
      const digest = await putBlob(store, data);
      await putBlob(store, data);
      assert.ok((await readAll(await store.read(digest))).equals(data));
    });

    withStore('read with an inclusive range', async (store) => {
      const data = Buffer.from('0123456789abcdef');
      const digest = await putBlob(store, data);
      assert.equal((await readAll(await store.read(digest, { start: 0, end: 0 }))).toString(), '0');
      assert.equal((await readAll(await store.read(digest, { start: 3, end: 7 }))).toString(), '34567');
      assert.equal((await readAll(await store.read(digest, { start: 10, end: 15 }))).toString(), 'abcdef');
    });

    withStore('read of a large blob with a range in the middle', async (store) => {
      const data = randomBytes(1_000_000);
      const digest = await putBlob(store, data);
      const got = await readAll(await store.read(digest, { start: 300_001, end: 799_998 }));
      assert.ok(got.equals(data.subarray(300_001, 799_999)));
    });

    withStore('stat and read of an unknown blob', async (store) => {
      const digest = digestOf('sha256', 'never stored');
      assert.equal(await store.stat(digest), undefined);
      await assert.rejects(store.read(digest), (err: unknown) => err instanceof RegistryError && err.code === 'BLOB_UNKNOWN');
    });

    withStore('delete removes a blob; deleting an absent blob is no error', async (store) => {
      const digest = await putBlob(store, Buffer.from('to delete'));
      const other = await putBlob(store, Buffer.from('to keep'));
      await store.delete(digest);
      assert.equal(await store.stat(digest), undefined);
      await assert.rejects(store.read(digest));
      await store.delete(digest);
      await store.delete(digestOf('sha512', 'never'));
      assert.deepEqual(await store.stat(other), { size: 7 });
    });

    withStore('abortUpload drops the staged bytes; aborting twice is no error', async (store) => {
      const id = newId();
      const keep = newId();
      await store.createUpload(id);
      await store.createUpload(keep);
      await append(store, id, 0, 'bytes');
      await store.abortUpload(id);
      assert.equal(await store.uploadSize(id), undefined);
      assert.ok(!(await store.listUploads()).includes(id));
      await assert.rejects(append(store, id, 0, 'x'));
      await store.abortUpload(id);
      assert.equal(await store.uploadSize(keep), 0);
    });

    withStore('listUploads lists exactly the staged uploads', async (store) => {
      assert.deepEqual(await store.listUploads(), []);
      const ids = [newId(), newId(), `m-${newId()}`];
      for (const id of ids) await store.createUpload(id);
      await append(store, ids[0]!, 0, 'x');
      assert.deepEqual((await store.listUploads()).sort(), [...ids].sort());
      await store.commitUpload(ids[0]!, 1, digestOf('sha256', 'x'));
      await store.abortUpload(ids[1]!);
      assert.deepEqual(await store.listUploads(), [ids[2]]);
    });

    withStore('creating an upload that exists is refused', async (store) => {
      const id = newId();
      await store.createUpload(id);
      await append(store, id, 0, 'data');
      await assert.rejects(store.createUpload(id));
      assert.equal((await staged(store, id)).toString(), 'data');
    });

    withStore('upload ids that could escape the staging area are refused', async (store) => {
      for (const bad of ['../x', '..', '.', '../../etc/passwd', 'a/b', '/abs', 'a\\b', '', 'x\0y', '%2e%2e']) {
        const label = JSON.stringify(bad);
        await assert.rejects(store.createUpload(bad), label);
        await assert.rejects(store.appendUpload(bad, 0, streamOf('x'), () => undefined), label);
        await assert.rejects(store.readUpload(bad, 0), label);
        await assert.rejects(store.uploadSize(bad), label);
        await assert.rejects(store.commitUpload(bad, 0, digestOf('sha256', '')), label);
        await assert.rejects(store.abortUpload(bad), label);
      }
      assert.deepEqual(await store.listUploads(), []);
    });
  });
}
