// The garbage collector through a real registry (SQLite + filesystem, or PostgreSQL + S3 with
// TEST_BACKEND=scaleout): what it deletes, what it keeps, dry runs, the report's numbers and
// untagged manifests.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { startRegistry, type TestRegistry } from '../helpers/registry.js';
import { storeUnrecorded } from '../helpers/blob-store.js';
import { expectError, expectStatus, pushBlob, pushImage, pushManifest, randomBytes, sha256, MediaType, manifestBytes } from '../helpers/oci.js';

async function blobStatus(reg: TestRegistry, repo: string, digest: string): Promise<number> {
  const res = await fetch(`${reg.url}/v2/${repo}/blobs/${digest}`);
  await res.arrayBuffer();
  return res.status;
}

async function storedBytes(reg: TestRegistry, digest: string): Promise<number | undefined> {
  const { parseDigest } = await import('../../src/registry/digest.js');
  return (await reg.app.blobStore.stat(parseDigest(digest)))?.size;
}

describe('garbage collection', () => {
  let reg: TestRegistry;
  before(async () => {
    reg = await startRegistry({ gc: { reviewDelayMs: 3_600_000 } });
  });
  after(async () => {
    await reg.close();
  });

  test('an unreferenced blob is removed only after the review delay; the report counts it', async () => {
    const data = randomBytes(1000);
    const blob = await pushBlob(reg.url, 'gc/unref', data);
    // Younger than the (configured, one hour) review delay: kept.
    let report = await reg.app.collectGarbage();
    assert.equal(await blobStatus(reg, 'gc/unref', blob.digest), 200);
    assert.equal(await storedBytes(reg, blob.digest), 1000);
    await sleep(60);
    report = await reg.app.collectGarbage({ reviewDelayMs: 50 });
    assert.ok(report.blobsDeleted >= 1);
    assert.ok(report.bytesFreed >= 1000);
    assert.ok(report.linksRemoved >= 1);
    await expectError(await fetch(`${reg.url}/v2/gc/unref/blobs/${blob.digest}`), 404, 'BLOB_UNKNOWN');
    assert.equal(await storedBytes(reg, blob.digest), undefined);
    // Idempotent: nothing left to do.
    report = await reg.app.collectGarbage({ reviewDelayMs: 50 });
    assert.equal(report.blobsDeleted, 0);
    // A push after the collection stores the bytes anew.
    await pushBlob(reg.url, 'gc/unref', data);
    const back = await expectStatus(await fetch(`${reg.url}/v2/gc/unref/blobs/${blob.digest}`), 200);
    assert.equal(sha256(back), blob.digest);
  });

  test('blobs a manifest references are kept; a blob linked elsewhere keeps its bytes', async () => {
    const image = await pushImage(reg.url, 'gc/kept', { layers: 2, reference: 'v1' });
    const shared = randomBytes(700);
    const sharedDesc = await pushBlob(reg.url, 'gc/other', shared);
    await pushBlob(reg.url, 'gc/loose', shared);
    await sleep(60);
    await reg.app.collectGarbage({ reviewDelayMs: 50 });
    for (const d of [image.config, ...image.layers]) assert.equal(await blobStatus(reg, 'gc/kept', d.digest), 200);
    // Both links were unreferenced: both go, and so do the bytes.
    assert.equal(await blobStatus(reg, 'gc/other', sharedDesc.digest), 404);
    assert.equal(await blobStatus(reg, 'gc/loose', sharedDesc.digest), 404);

    // Now one repository references it: the other link goes, the bytes stay.
    const again = await pushBlob(reg.url, 'gc/ref', shared);
    await pushBlob(reg.url, 'gc/loose', shared);
    const cfg = await pushBlob(reg.url, 'gc/ref', Buffer.from('{}'), MediaType.OciConfig);
    await pushManifest(reg.url, 'gc/ref', 'v1', { schemaVersion: 2, mediaType: MediaType.OciManifest, config: cfg, layers: [again] });
    await sleep(60);
    await reg.app.collectGarbage({ reviewDelayMs: 50 });
    assert.equal(await blobStatus(reg, 'gc/loose', again.digest), 404);
    assert.equal(await blobStatus(reg, 'gc/ref', again.digest), 200);
    assert.equal(await storedBytes(reg, again.digest), 700);
  });

  test('a recently linked blob (upload or mount) is kept until its manifest arrives', async () => {
    const layer = await pushBlob(reg.url, 'gc/recent', randomBytes(300));
    const cfg = await pushBlob(reg.url, 'gc/recent', randomBytes(20), MediaType.OciConfig);
    const mount = await fetch(`${reg.url}/v2/gc/recent-mount/blobs/uploads/?mount=${layer.digest}&from=gc/recent`, { method: 'POST' });
    assert.equal(mount.status, 201);
    // The default review delay (one hour): nothing younger goes.
    const report = await reg.app.collectGarbage();
    assert.equal(report.linksRemoved, 0);
    await pushManifest(reg.url, 'gc/recent', 'v1', { schemaVersion: 2, mediaType: MediaType.OciManifest, config: cfg, layers: [layer] });
    await pushManifest(reg.url, 'gc/recent-mount', 'v1', { schemaVersion: 2, mediaType: MediaType.OciManifest, config: layer, layers: [layer] });
  });

  test('a dry run changes nothing and reports what a real run then does', async () => {
    const loose = [await pushBlob(reg.url, 'gc/dry', randomBytes(111)), await pushBlob(reg.url, 'gc/dry', randomBytes(222))];
    await sleep(60);
    const dry = await reg.app.collectGarbage({ reviewDelayMs: 50, dryRun: true });
    assert.equal(dry.dryRun, true);
    for (const b of loose) assert.equal(await blobStatus(reg, 'gc/dry', b.digest), 200);
    assert.ok(dry.blobsDeleted >= 2);
    const real = await reg.app.collectGarbage({ reviewDelayMs: 50 });
    assert.equal(real.blobsDeleted, dry.blobsDeleted);
    assert.equal(real.bytesFreed, dry.bytesFreed);
    assert.equal(real.linksRemoved, dry.linksRemoved);
    for (const b of loose) assert.equal(await blobStatus(reg, 'gc/dry', b.digest), 404);
  });

  test('untagged manifests are kept unless gc.deleteUntaggedManifests', async () => {
    const tagged = await pushImage(reg.url, 'gc/untagged', { reference: 'keep' });
    const untagged = await pushImage(reg.url, 'gc/untagged');
    // An index (untagged) and its child: the child is kept while the index lists it.
    const child = await pushImage(reg.url, 'gc/untagged');
    const index = { schemaVersion: 2, mediaType: MediaType.OciIndex, manifests: [{ mediaType: MediaType.OciManifest, digest: child.digest, size: child.bytes.length }] };
    const pushedIndex = await pushManifest(reg.url, 'gc/untagged', 'idx', index);
    await sleep(60);
    let report = await reg.app.collectGarbage({ reviewDelayMs: 50 });
    assert.equal(report.manifestsDeleted, 0);
    await expectStatus(await fetch(`${reg.url}/v2/gc/untagged/manifests/${untagged.digest}`), 200);
    assert.equal(await blobStatus(reg, 'gc/untagged', untagged.layers[0]!.digest), 200);

    report = await reg.app.collectGarbage({ reviewDelayMs: 50, deleteUntaggedManifests: true });
    assert.equal(report.manifestsDeleted, 1);
    assert.equal(report.manifestBytesFreed, untagged.bytes.length);
    await expectError(await fetch(`${reg.url}/v2/gc/untagged/manifests/${untagged.digest}`), 404, 'MANIFEST_UNKNOWN');
    // Its blobs went in the same run.
    assert.equal(await blobStatus(reg, 'gc/untagged', untagged.layers[0]!.digest), 404);
    assert.equal(await blobStatus(reg, 'gc/untagged', untagged.config.digest), 404);
    // Tagged images, indexes and children listed by a kept index stay whole.
    for (const img of [tagged, child]) {
      await expectStatus(await fetch(`${reg.url}/v2/gc/untagged/manifests/${img.digest}`), 200);
      for (const d of [img.config, ...img.layers]) assert.equal(await blobStatus(reg, 'gc/untagged', d.digest), 200);
    }
    await expectStatus(await fetch(`${reg.url}/v2/gc/untagged/manifests/${pushedIndex.digest}`), 200);

    // Untag the index: index, then child, then their blobs go in one run.
    await expectStatus(await fetch(`${reg.url}/v2/gc/untagged/manifests/idx`, { method: 'DELETE' }), 202);
    report = await reg.app.collectGarbage({ reviewDelayMs: 0, deleteUntaggedManifests: true });
    assert.equal(report.manifestsDeleted, 2);
    await expectError(await fetch(`${reg.url}/v2/gc/untagged/manifests/${child.digest}`), 404, 'MANIFEST_UNKNOWN');
    assert.equal(await blobStatus(reg, 'gc/untagged', child.layers[0]!.digest), 404);
    await expectStatus(await fetch(`${reg.url}/v2/gc/untagged/manifests/keep`), 200);
  });

  test('a manifest referencing a collected blob is refused with MANIFEST_BLOB_UNKNOWN', async () => {
    const layer = await pushBlob(reg.url, 'gc/late', randomBytes(64));
    const cfg = await pushBlob(reg.url, 'gc/late', randomBytes(16), MediaType.OciConfig);
    await sleep(60);
    await reg.app.collectGarbage({ reviewDelayMs: 50 });
    const res = await fetch(`${reg.url}/v2/gc/late/manifests/v1`, {
      method: 'PUT',
      headers: { 'Content-Type': MediaType.OciManifest },
      body: manifestBytes({ schemaVersion: 2, mediaType: MediaType.OciManifest, config: cfg, layers: [layer] }),
    });
    await expectError(res, 400, 'MANIFEST_BLOB_UNKNOWN');
  });

  test('bytes stored with no blob record (a crash before the push recorded them) are collected after the review delay', async () => {
    const data = randomBytes(900);
    const digest = await storeUnrecorded(reg.app.blobStore, data);
    assert.equal(await storedBytes(reg, digest.value), 900);

    // Younger than the review delay: may be a push about to record them. (Earlier collections
    // listed the store moments ago: asked to list again, whatever gc.unrecordedScanIntervalMs.)
    let report = await reg.app.collectGarbage({ unrecordedScanIntervalMs: 0 });
    assert.equal(report.storeListed, true);
    assert.equal(report.unrecordedDeleted, 0);
    assert.equal(await storedBytes(reg, digest.value), 900);
    await sleep(60);
    report = await reg.app.collectGarbage({ reviewDelayMs: 50, unrecordedScanIntervalMs: 0 });
    assert.equal(report.unrecordedDeleted, 1);
    assert.ok(report.bytesFreed >= 900);
    assert.equal(await storedBytes(reg, digest.value), undefined);

    // The same blob pushed again is stored anew, and served.
    await pushBlob(reg.url, 'gc/unrecorded', data);
    const back = await expectStatus(await fetch(`${reg.url}/v2/gc/unrecorded/blobs/${digest.value}`), 200);
    assert.equal(sha256(back), digest.value);
    assert.equal(await storedBytes(reg, digest.value), 900);
  });

  test('a mount from a repository whose link was collected falls back to an upload', async () => {
    const layer = await pushBlob(reg.url, 'gc/mount-src', randomBytes(80));
    await sleep(60);
    await reg.app.collectGarbage({ reviewDelayMs: 50 });
    const res = await fetch(`${reg.url}/v2/gc/mount-dst/blobs/uploads/?mount=${layer.digest}&from=gc/mount-src`, { method: 'POST' });
    assert.equal(res.status, 202);
    await res.arrayBuffer();
  });
});
