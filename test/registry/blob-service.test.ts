// BlobService over the real filesystem store and a real SQLite file: chunked uploads, restarts
// mid-upload, sha512, start-up recovery and the purge of stale uploads.
import { afterEach, beforeEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { BlobService, type ChunkRequest } from '../../src/registry/blobs.js';
import { FilesystemBlobStore } from '../../src/storage/filesystem.js';
import { openSqliteStore } from '../../src/metadata/sqlite.js';
import type { SqlMetadataStore } from '../../src/metadata/sql-store.js';
import { digestOf } from '../../src/registry/digest.js';
import { RegistryError, type ErrorCode } from '../../src/registry/errors.js';

const REPO = 'team/app';

interface Node {
  blobs: FilesystemBlobStore;
  metadata: SqlMetadataStore;
  service: BlobService;
}

let dir: string;
let opened: SqlMetadataStore[] = [];

/** A registry process's view of the data directory; call again to simulate a restart. */
async function startNode(): Promise<Node> {
  const blobs = new FilesystemBlobStore(join(dir, 'data'));
  await blobs.init();
  const metadata = await openSqliteStore(join(dir, 'data', 'registry.db'));
  opened.push(metadata);
  return { blobs, metadata, service: new BlobService(blobs, metadata, { deletesEnabled: true }) };
}

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'registry-blobsvc-test-'));
  opened = [];
});

afterEach(async () => {
  for (const m of opened) await m.close().catch(() => undefined);
  await rm(dir, { recursive: true, force: true });
});

function chunk(data: Buffer, start?: number): ChunkRequest {
  return {
    body: Readable.from([data]),
    length: data.length,
    ...(start !== undefined ? { range: { start, end: start + data.length - 1 } } : {}),
  };
}

async function readAll(stream: Readable): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of stream) parts.push(c as Buffer);
  return Buffer.concat(parts);
}

async function rejectsWith(promise: Promise<unknown>, code: ErrorCode, status?: number): Promise<RegistryError> {
  let caught: unknown;
  await assert.rejects(promise, (err: unknown) => {
    caught = err;
    assert.ok(err instanceof RegistryError, `expected a RegistryError, got ${String(err)}`);
    assert.equal(err.code, code);
    if (status !== undefined) assert.equal(err.status, status);
    return true;
  });
  return caught as RegistryError;
}

/** Split `data` into `n` roughly equal parts. */
function split(data: Buffer, n: number): Buffer[] {
  const size = Math.ceil(data.length / n);
  return Array.from({ length: n }, (_, i) => data.subarray(i * size, (i + 1) * size));
}

describe('BlobService uploads', () => {
  test('a chunked upload ends with the right digest and exact bytes', async () => {
    const { service, blobs } = await startNode();
    const data = randomBytes(700_001);
    const digest = digestOf('sha256', data).value;
    const session = await service.startUpload(REPO);
    assert.equal(session.size, 0);
    let offset = 0;
    const parts = split(data, 3);
    for (const part of parts.slice(0, 2)) {
      const s = await service.appendChunk(REPO, session.id, chunk(part, offset));
      offset += part.length;
      assert.equal(s.size, offset);
      assert.equal((await service.getUpload(REPO, session.id)).size, offset);
    }
    const info = await service.complete(REPO, session.id, digest, chunk(parts[2]!));
    assert.equal(info.digest.value, digest);
    assert.equal(info.size, data.length);

    const stat = await service.stat(REPO, digest);
    assert.equal(stat.size, data.length);
    assert.ok((await readAll(await service.open(stat))).equals(data));
    assert.ok((await readAll(await service.open(stat, { start: 10, end: 19 }))).equals(data.subarray(10, 20)));
    await rejectsWith(service.getUpload(REPO, session.id), 'BLOB_UPLOAD_UNKNOWN');
    assert.deepEqual(await blobs.listUploads(), []);
    await rejectsWith(service.stat('other/repo', digest), 'BLOB_UNKNOWN');
  });

  test('chunks without Content-Range are appended in order', async () => {
    const { service } = await startNode();
    const data = Buffer.from('abcdefghij');
    const session = await service.startUpload(REPO);
    await service.appendChunk(REPO, session.id, { body: Readable.from([data.subarray(0, 4)]) });
    await service.appendChunk(REPO, session.id, { body: Readable.from([data.subarray(4)]) });
    const info = await service.complete(REPO, session.id, digestOf('sha256', data).value, undefined);
    assert.equal(info.size, 10);
  });

  test('an out-of-order chunk is refused with 416 and the current Range', async () => {
    const { service } = await startNode();
    const session = await service.startUpload(REPO);
    await service.appendChunk(REPO, session.id, chunk(Buffer.from('12345'), 0));
    const err = await rejectsWith(service.appendChunk(REPO, session.id, chunk(Buffer.from('xx'), 7)), 'BLOB_UPLOAD_INVALID', 416);
    assert.equal(err.headers['Range'], '0-4');
    assert.equal((await service.getUpload(REPO, session.id)).size, 5);
    // The upload goes on at the right offset.
    await service.appendChunk(REPO, session.id, chunk(Buffer.from('67'), 5));
    assert.equal((await service.complete(REPO, session.id, digestOf('sha256', '1234567').value, undefined)).size, 7);
  });

  test('a chunk shorter than its Content-Length is refused and not counted', async () => {
    const { service } = await startNode();
    const session = await service.startUpload(REPO);
    await service.appendChunk(REPO, session.id, chunk(Buffer.from('good'), 0));
    await rejectsWith(service.appendChunk(REPO, session.id, { body: Readable.from([Buffer.from('bad')]), length: 10 }), 'SIZE_INVALID');
    assert.equal((await service.getUpload(REPO, session.id)).size, 4);
    await service.appendChunk(REPO, session.id, chunk(Buffer.from('!'), 4));
    assert.equal((await service.complete(REPO, session.id, digestOf('sha256', 'good!').value, undefined)).size, 5);
  });

  test('a wrong digest is refused and nothing becomes visible', async () => {
    const { service } = await startNode();
    const session = await service.startUpload(REPO);
    await service.appendChunk(REPO, session.id, chunk(Buffer.from('content'), 0));
    const wrong = digestOf('sha256', 'other content').value;
    await rejectsWith(service.complete(REPO, session.id, wrong, undefined), 'DIGEST_INVALID');
    await rejectsWith(service.stat(REPO, wrong), 'BLOB_UNKNOWN');
    await rejectsWith(service.stat(REPO, digestOf('sha256', 'content').value), 'BLOB_UNKNOWN');
    await rejectsWith(service.complete(REPO, session.id, undefined, undefined), 'DIGEST_INVALID');
  });

  test('an upload belongs to its repository', async () => {
    const { service } = await startNode();
    const session = await service.startUpload(REPO);
    await rejectsWith(service.appendChunk('other', session.id, chunk(Buffer.from('x'), 0)), 'BLOB_UPLOAD_UNKNOWN');
    await rejectsWith(service.getUpload(REPO, '../../etc'), 'BLOB_UPLOAD_UNKNOWN');
  });

  test('the running hash is rebuilt after a restart mid-upload', async () => {
    const data = randomBytes(300_000);
    const digest = digestOf('sha256', data).value;
    const [a, b, c] = split(data, 3);

    const first = await startNode();
    const session = await first.service.startUpload(REPO);
    await first.service.appendChunk(REPO, session.id, chunk(a!, 0));
    await first.service.appendChunk(REPO, session.id, chunk(b!, a!.length));
    await first.metadata.close();

    // A new process over the same data directory: no in-memory hash survives.
    const second = await startNode();
    await second.service.appendChunk(REPO, session.id, chunk(c!, a!.length + b!.length));
    const info = await second.service.complete(REPO, session.id, digest, undefined);
    assert.equal(info.digest.value, digest);
    assert.ok((await readAll(await second.service.open(info))).equals(data));
  });

  test('a restart between the last chunk and completion still gives the right digest', async () => {
    const data = randomBytes(50_000);
    const first = await startNode();
    const session = await first.service.startUpload(REPO);
    await first.service.appendChunk(REPO, session.id, chunk(data, 0));
    await first.metadata.close();
    const second = await startNode();
    const info = await second.service.complete(REPO, session.id, digestOf('sha256', data).value, undefined);
    assert.equal(info.size, data.length);
  });

  test('chunks alternating between two nodes give the right digest', async () => {
    const data = randomBytes(120_000);
    const parts = split(data, 4);
    const nodes = [await startNode(), await startNode()];
    const session = await nodes[0]!.service.startUpload(REPO);
    let offset = 0;
    for (const [i, part] of parts.entries()) {
      await nodes[i % 2]!.service.appendChunk(REPO, session.id, chunk(part, offset));
      offset += part.length;
    }
    const info = await nodes[0]!.service.complete(REPO, session.id, digestOf('sha256', data).value, undefined);
    assert.equal(info.size, data.length);
  });

  test('a stale node cannot append at an offset the upload has moved past', async () => {
    const nodes = [await startNode(), await startNode()];
    const session = await nodes[0]!.service.startUpload(REPO);
    await nodes[0]!.service.appendChunk(REPO, session.id, chunk(Buffer.from('aaaa'), 0));
    // Node 1 was told offset 0 earlier and now sends a chunk claiming to start there.
    await rejectsWith(nodes[1]!.service.appendChunk(REPO, session.id, chunk(Buffer.from('bbbb'), 0)), 'BLOB_UPLOAD_INVALID', 416);
    const info = await nodes[1]!.service.complete(REPO, session.id, digestOf('sha256', 'aaaa').value, undefined);
    assert.equal(info.size, 4);
  });

  test('sha512 completion', async () => {
    const { service, blobs } = await startNode();
    const data = randomBytes(200_000);
    const digest = digestOf('sha512', data);
    const session = await service.startUpload(REPO);
    const [a, b] = split(data, 2);
    await service.appendChunk(REPO, session.id, chunk(a!, 0));
    await service.appendChunk(REPO, session.id, chunk(b!, a!.length));
    const info = await service.complete(REPO, session.id, digest.value, undefined);
    assert.equal(info.digest.value, digest.value);
    assert.equal((await service.stat(REPO, digest.value)).size, data.length);
    assert.ok((await readAll(await blobs.read(digest))).equals(data));
    // The sha256 of the same bytes is not a blob of the repository.
    await rejectsWith(service.stat(REPO, digestOf('sha256', data).value), 'BLOB_UNKNOWN');
  });

  test('sha512 monolithic upload, and a wrong digest leaves no staged file', async () => {
    const { service, blobs } = await startNode();
    const data = Buffer.from('monolithic sha512');
    const digest = digestOf('sha512', data).value;
    assert.equal((await service.putMonolithic(REPO, digest, chunk(data))).size, data.length);
    assert.equal((await service.stat(REPO, digest)).size, data.length);
    await rejectsWith(service.putMonolithic(REPO, digestOf('sha512', 'else').value, chunk(data)), 'DIGEST_INVALID');
    assert.deepEqual(await blobs.listUploads(), []);
  });

  test('cancel drops the session and its staged bytes', async () => {
    const { service, blobs } = await startNode();
    const session = await service.startUpload(REPO);
    await service.appendChunk(REPO, session.id, chunk(Buffer.from('bytes'), 0));
    await service.cancel(REPO, session.id);
    await rejectsWith(service.getUpload(REPO, session.id), 'BLOB_UPLOAD_UNKNOWN');
    assert.equal(await blobs.uploadSize(session.id), undefined);
  });
});

describe('BlobService recovery and purge', () => {
  test('recover() removes staged files without sessions and sessions without staged files', async () => {
    const { service, blobs, metadata } = await startNode();
    const healthy = await service.startUpload(REPO);
    await service.appendChunk(REPO, healthy.id, chunk(Buffer.from('half'), 0));
    // A monolithic push cut off by a crash: bytes staged, no session.
    await blobs.createUpload('orphan-staged');
    await blobs.appendUpload('orphan-staged', 0, Readable.from([Buffer.from('junk')]), () => undefined);
    // A session whose staged bytes were lost.
    await metadata.createUpload('lost-bytes', REPO);

    const second = await startNode();
    assert.deepEqual(await second.service.recover(), { removedStaged: 1, removedSessions: 1 });
    assert.deepEqual(await blobs.listUploads(), [healthy.id]);
    assert.deepEqual(await metadata.listUploadIds(), [healthy.id]);
    assert.deepEqual(await readdir(join(dir, 'data', 'uploads')), [healthy.id]);

    // Nothing left to do the second time, and the healthy upload still completes.
    assert.deepEqual(await second.service.recover(), { removedStaged: 0, removedSessions: 0 });
    await second.service.appendChunk(REPO, healthy.id, chunk(Buffer.from('+rest'), 4));
    assert.equal((await second.service.complete(REPO, healthy.id, digestOf('sha256', 'half+rest').value, undefined)).size, 9);
  });

  test('purgeStaleUploads drops uploads untouched for the TTL, and only those', async () => {
    const { service, blobs } = await startNode();
    const stale = await service.startUpload(REPO);
    await service.appendChunk(REPO, stale.id, chunk(Buffer.from('old'), 0));
    const staleTouched = (await service.getUpload(REPO, stale.id)).updatedAt.getTime();
    await sleep(60);
    const fresh = await service.startUpload(REPO);
    await service.appendChunk(REPO, fresh.id, chunk(Buffer.from('new'), 0));

    // A TTL that puts the cutoff just after the stale upload's last touch.
    const ttl = Date.now() - staleTouched - 20;
    assert.equal(await service.purgeStaleUploads(ttl), 1);
    await rejectsWith(service.getUpload(REPO, stale.id), 'BLOB_UPLOAD_UNKNOWN');
    await rejectsWith(service.appendChunk(REPO, stale.id, chunk(Buffer.from('more'), 3)), 'BLOB_UPLOAD_UNKNOWN');
    assert.equal(await blobs.uploadSize(stale.id), undefined);
    assert.equal((await service.getUpload(REPO, fresh.id)).size, 3);
    assert.equal(await blobs.uploadSize(fresh.id), 3);

    assert.equal(await service.purgeStaleUploads(24 * 3600_000), 0);
  });
});
