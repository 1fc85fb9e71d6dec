// `registry gc` and `registry scrub` as operators run them: the compiled CLI against the data of
// a running registry (SQLite + filesystem, or PostgreSQL + S3 with TEST_BACKEND=scaleout).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { scaleOut, startRegistry, type TestRegistry } from '../helpers/registry.js';
import { runCli } from '../helpers/cli.js';
import { storeUnrecorded } from '../helpers/blob-store.js';
import { expectError, expectStatus, pushBlob, pushImage, randomBytes, sha256 } from '../helpers/oci.js';
import { parseDigest } from '../../src/registry/digest.js';
import type { GcReport } from '../../src/registry/gc.js';
import type { ScrubReport } from '../../src/registry/scrub.js';

/** Overwrite a stored blob's bytes behind the registry's back. */
async function corrupt(reg: TestRegistry, digest: string, bytes: Buffer): Promise<void> {
  const d = parseDigest(digest);
  if (!scaleOut()) {
    await writeFile(join(reg.dataDir, 'blobs', d.algorithm, d.hex.slice(0, 2), d.hex), bytes);
    return;
  }
  const { PutObjectCommand } = await import('@aws-sdk/client-s3');
  const store = reg.app.blobStore as unknown as { client: { send(c: unknown): Promise<unknown> }; blobKey(d: unknown): string };
  await store.client.send(new PutObjectCommand({ Bucket: process.env['S3_BUCKET'], Key: store.blobKey(d), Body: bytes }));
}

describe('registry gc', () => {
  let reg: TestRegistry;
  before(async () => {
    reg = await startRegistry();
  });
  after(async () => {
    await reg.close();
  });

  test('--dry-run --json reports and deletes nothing; a real run deletes what it reported', async () => {
    const kept = await pushImage(reg.url, 'cli/gc', { reference: 'v1' });
    const loose = await pushBlob(reg.url, 'cli/gc', randomBytes(1234));
    await sleep(50);
    const dry = await runCli(reg, ['gc', '--dry-run', '--json', '--review-delay', '10']);
    assert.equal(dry.code, 0, dry.stderr);
    const dryReport = JSON.parse(dry.stdout) as GcReport;
    assert.equal(dryReport.dryRun, true);
    assert.equal(dryReport.blobsDeleted, 1);
    assert.equal(dryReport.bytesFreed, 1234);
    await expectStatus(await fetch(`${reg.url}/v2/cli/gc/blobs/${loose.digest}`), 200);

    const real = await runCli(reg, ['gc', '--json', '--review-delay', '10']);
    assert.equal(real.code, 0, real.stderr);
    const report = JSON.parse(real.stdout) as GcReport;
    assert.equal(report.dryRun, false);
    assert.equal(report.blobsDeleted, 1);
    assert.equal(report.bytesFreed, 1234);
    assert.equal(report.linksRemoved, 1);
    await expectError(await fetch(`${reg.url}/v2/cli/gc/blobs/${loose.digest}`), 404, 'BLOB_UNKNOWN');
    for (const d of [kept.config, ...kept.layers]) {
      assert.equal(sha256(await expectStatus(await fetch(`${reg.url}/v2/cli/gc/blobs/${d.digest}`), 200)), d.digest);
    }
  });

  test('the default review delay (24 h) keeps fresh blobs; text output with progress lines off a TTY', async () => {
    const loose = await pushBlob(reg.url, 'cli/gc-text', randomBytes(99));
    const res = await runCli(reg, ['gc']);
    assert.equal(res.code, 0, res.stderr);
    assert.match(res.stdout, /deleted 0 blob\(s\), 0 B/);
    assert.match(res.stdout, /took \d+ ms/);
    await expectStatus(await fetch(`${reg.url}/v2/cli/gc-text/blobs/${loose.digest}`), 200);
    // Not a terminal: progress comes as plain lines, never carriage returns.
    assert.doesNotMatch(res.stderr, /\r/);
  });

  test('untagged manifests with --delete-untagged', async () => {
    const untagged = await pushImage(reg.url, 'cli/untagged');
    await sleep(50);
    const res = await runCli(reg, ['gc', '--json', '--review-delay', '10', '--delete-untagged']);
    assert.equal(res.code, 0, res.stderr);
    const report = JSON.parse(res.stdout) as GcReport;
    assert.equal(report.manifestsDeleted, 1);
    await expectError(await fetch(`${reg.url}/v2/cli/untagged/manifests/${untagged.digest}`), 404, 'MANIFEST_UNKNOWN');
  });

  test('on demand the store is listed for unrecorded bytes, however recent the last scheduled listing', async () => {
    // A scheduled collection lists (or an earlier one did): the next listing is a day away.
    await reg.app.collectGarbage();
    const store = reg.app.blobStore;
    const digest = await storeUnrecorded(store, randomBytes(555));
    await sleep(50);
    assert.equal((await reg.app.collectGarbage({ reviewDelayMs: 10 })).storeListed, false);

    // Told to list only when the last listing is older than an hour: it is not.
    let res = await runCli(reg, ['gc', '--review-delay', '10', '--unrecorded-scan-interval', '3600000']);
    assert.equal(res.code, 0, res.stderr);
    assert.match(res.stdout, /blob store not listed for unrecorded bytes/);
    assert.equal((await store.stat(digest))?.size, 555);

    res = await runCli(reg, ['gc', '--json', '--review-delay', '10']);
    assert.equal(res.code, 0, res.stderr);
    const report = JSON.parse(res.stdout) as GcReport;
    assert.equal(report.storeListed, true);
    assert.equal(report.unrecordedDeleted, 1);
    assert.equal(await store.stat(digest), undefined);
  });

  test('bad flags are refused', async () => {
    let res = await runCli(reg, ['gc', '--review-delay', 'soon']);
    assert.equal(res.code, 1);
    assert.match(res.stderr, /--review-delay/);
    res = await runCli(reg, ['gc', '--unrecorded-scan-interval', '-1']);
    assert.equal(res.code, 1);
    assert.match(res.stderr, /--unrecorded-scan-interval/);
  });
});

describe('registry scrub', () => {
  let reg: TestRegistry;
  before(async () => {
    reg = await startRegistry();
  });
  after(async () => {
    await reg.close();
  });

  test('a clean registry scrubs clean', async () => {
    await pushImage(reg.url, 'scrub/clean', { reference: 'v1', layers: 2 });
    const res = await runCli(reg, ['scrub', '--json']);
    assert.equal(res.code, 0, res.stderr);
    const report = JSON.parse(res.stdout) as ScrubReport;
    assert.ok(report.blobsChecked >= 3);
    assert.ok(report.manifestsChecked >= 1);
    assert.deepEqual(report.badBlobs, []);
    assert.deepEqual(report.brokenManifests, []);
  });

  test('finds a corrupt and a missing blob; --quarantine makes them BLOB_UNKNOWN and keeps corrupt bytes aside', async () => {
    const image = await pushImage(reg.url, 'scrub/bad', { reference: 'v1', layers: 2 });
    const bad = image.layers[0]!;
    const gone = image.layers[1]!;
    await corrupt(reg, bad.digest, randomBytes(bad.size));
    await reg.app.blobStore.delete(parseDigest(gone.digest));

    let res = await runCli(reg, ['scrub', '--json']);
    assert.equal(res.code, 3, res.stderr);
    let report = JSON.parse(res.stdout) as ScrubReport;
    const byDigest = new Map(report.badBlobs.map((b) => [b.digest, b]));
    assert.equal(byDigest.get(bad.digest)?.problem, 'corrupt');
    assert.equal(byDigest.get(gone.digest)?.problem, 'missing');
    assert.equal(report.quarantined, 0);
    // Without --quarantine nothing changes: the links are still there.
    const stillLinked = await fetch(`${reg.url}/v2/scrub/bad/blobs/${bad.digest}`, { method: 'HEAD' });
    assert.equal(stillLinked.status, 200);

    res = await runCli(reg, ['scrub', '--json', '--quarantine']);
    assert.equal(res.code, 3, res.stderr);
    report = JSON.parse(res.stdout) as ScrubReport;
    assert.equal(report.quarantined, 2);
    for (const d of [bad.digest, gone.digest]) await expectError(await fetch(`${reg.url}/v2/scrub/bad/blobs/${d}`), 404, 'BLOB_UNKNOWN');
    if (!scaleOut()) {
      const kept = await readdir(join(reg.dataDir, 'quarantine', 'sha256'));
      assert.ok(kept.some((f) => f.startsWith(parseDigest(bad.digest).hex)));
    }

    // The manifest now lacks those blobs: scrub says so (and exits 3) until they are pushed again.
    res = await runCli(reg, ['scrub', '--json']);
    report = JSON.parse(res.stdout) as ScrubReport;
    assert.deepEqual(report.badBlobs, []);
    const broken = report.brokenManifests.find((m) => m.digest === image.digest);
    assert.ok(broken);
    assert.deepEqual(broken.missing.map((m) => m.digest).sort(), [bad.digest, gone.digest].sort());
    assert.equal(res.code, 3);
    assert.match((await runCli(reg, ['scrub'])).stdout, /manifest scrub\/bad@sha256:/);
  });

  test('finds stored bytes no blob record names (past the grace period) and quarantines them', async () => {
    // Bytes committed behind the registry's back: in the store, in no repository, with no record.
    const store = reg.app.blobStore;
    const digest = await storeUnrecorded(store, randomBytes(777));

    // Young unrecorded bytes may be a push in flight: not reported by default.
    let res = await runCli(reg, ['scrub', '--json']);
    let report = JSON.parse(res.stdout) as ScrubReport;
    assert.deepEqual(report.orphanBlobs, []);

    res = await runCli(reg, ['scrub', '--json', '--orphan-grace', '0']);
    assert.equal(res.code, 3, res.stderr);
    report = JSON.parse(res.stdout) as ScrubReport;
    assert.deepEqual(report.orphanBlobs.map((o) => [o.digest, o.size]), [[digest.value, 777]]);
    assert.ok(await store.stat(digest));

    res = await runCli(reg, ['scrub', '--orphan-grace', '0', '--quarantine']);
    assert.match(res.stdout, new RegExp(`stored bytes ${digest.value} \\(777 B, [^)]+\\): no blob record \\(quarantined\\)`));
    assert.equal(await store.stat(digest), undefined);
    res = await runCli(reg, ['scrub', '--json', '--orphan-grace', '0']);
    assert.deepEqual((JSON.parse(res.stdout) as ScrubReport).orphanBlobs, []);
  });
});
