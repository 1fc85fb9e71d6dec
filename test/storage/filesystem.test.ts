// The filesystem driver against the BlobStore contract, plus what is specific to it: the
// on-disk layout and staying inside its root.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FilesystemBlobStore } from '../../src/storage/filesystem.js';
import { digestOf } from '../../src/registry/digest.js';
import { blobStoreContract, streamOf } from './blob-store-contract.js';

async function tempDir(): Promise<string> {
  return mkdtemp(join(tmpdir(), 'registry-fs-test-'));
}

blobStoreContract('filesystem', async () => {
  const dir = await tempDir();
  const store = new FilesystemBlobStore(dir);
  await store.init();
  return { store, cleanup: () => rm(dir, { recursive: true, force: true }) };
});

describe('FilesystemBlobStore specifics', () => {
  test('blobs live at blobs/<alg>/<2 hex>/<hex> and uploads leave no staged file behind', async () => {
    const dir = await tempDir();
    try {
      const store = new FilesystemBlobStore(dir);
      await store.init();
      await store.init(); // idempotent
      const data = Buffer.from('layout');
      const digest = digestOf('sha256', data);
      await store.createUpload('u1');
      await store.appendUpload('u1', 0, streamOf(data), () => undefined);
      await store.commitUpload('u1', data.length, digest);
      const path = join(dir, 'blobs', 'sha256', digest.hex.slice(0, 2), digest.hex);
      assert.ok((await readFile(path)).equals(data));
      assert.deepEqual(await readdir(join(dir, 'uploads')), []);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('a store over the same root sees what another one wrote (a restart)', async () => {
    const dir = await tempDir();
    try {
      const a = new FilesystemBlobStore(dir);
      await a.init();
      await a.createUpload('restart');
      await a.appendUpload('restart', 0, streamOf('before'), () => undefined);
      const b = new FilesystemBlobStore(dir);
      await b.init();
      assert.equal(await b.uploadSize('restart'), 6);
      assert.deepEqual(await b.listUploads(), ['restart']);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('listUploads ignores files whose names are not upload ids', async () => {
    const dir = await tempDir();
    try {
      const store = new FilesystemBlobStore(dir);
      await store.init();
      await writeFile(join(dir, 'uploads', '.DS_Store'), 'x');
      await writeFile(join(dir, 'uploads', 'tmp.partial'), 'x');
      await store.createUpload('real');
      assert.deepEqual(await store.listUploads(), ['real']);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('a refused upload id writes nothing outside the staging area', async () => {
    const parent = await tempDir();
    try {
      const root = join(parent, 'root');
      const store = new FilesystemBlobStore(root);
      await store.init();
      await assert.rejects(store.createUpload('../x'));
      await assert.rejects(store.createUpload('../../x'));
      await assert.rejects(store.appendUpload('../blobs/x', 0, streamOf('evil'), () => undefined));
      await assert.rejects(store.abortUpload('../blobs'));
      assert.deepEqual((await readdir(parent)).sort(), ['root']);
      assert.deepEqual((await readdir(root)).sort(), ['blobs', 'uploads']);
      assert.ok((await stat(join(root, 'blobs'))).isDirectory(), 'abortUpload("../blobs") must not remove the blobs directory');
      assert.deepEqual(await readdir(join(root, 'uploads')), []);
    } finally {
      await rm(parent, { recursive: true, force: true });
    }
  });

  test('ping fails when the root is gone', async () => {
    const dir = await tempDir();
    const store = new FilesystemBlobStore(dir);
    await store.init();
    await store.ping();
    await rm(dir, { recursive: true, force: true });
    await assert.rejects(store.ping());
  });
});
