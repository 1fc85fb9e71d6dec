// `registry backup` and `registry restore` as operators run them: a backup taken while pushes
// run, restored into a fresh registry, every image pulled back with skopeo and compared by
// digest (content addressed: the same digest is the same bytes) and `registry scrub` clean;
// incremental blob copies; refusals that leave the registry untouched; an incomplete backup.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { cp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { makeTempDir, scaleOut, startRegistry, type TestRegistry } from '../helpers/registry.js';
import { runCli } from '../helpers/cli.js';
import { pushImage, pushIndex } from '../helpers/oci.js';
import type { BackupReport } from '../../src/backup/backup.js';
import type { RestoreReport } from '../../src/backup/restore.js';
import { parseDigest } from '../../src/registry/digest.js';
import { catalog, json, pullAndCompare, scrubClean, skopeoInstalled, type Pushed } from './clients.js';

describe('registry backup and restore', { skip: skopeoInstalled ? false : 'skopeo is not installed', timeout: 300_000 }, () => {
  let source: TestRegistry;
  let work: string;
  let backupDir: string;
  let first: BackupReport;
  /** Acknowledged before the backup started: every one must be restored. */
  const before_: Pushed[] = [];
  /** Acknowledged while the backup ran: restored or not, but never in part. */
  const during: Pushed[] = [];
  let index: Awaited<ReturnType<typeof pushIndex>>;

  before(async () => {
    source = await startRegistry();
    work = await makeTempDir('registry-backup-');
    backupDir = join(work, 'backup');
    for (let i = 0; i < 4; i++) {
      const repo = 'backup/app';
      before_.push({ repo, tag: `v${i}`, image: await pushImage(source.url, repo, { reference: `v${i}`, layers: 2 }) });
    }
    index = await pushIndex(source.url, 'backup/multi', 'latest');
  });

  after(async () => {
    await source?.close();
    if (work) await rm(work, { recursive: true, force: true });
  });

  test('a backup taken during pushes restores into a fresh registry: every acknowledged image pulls byte-identical, scrub is clean', async () => {
    let stop = false;
    // A bounded push load from three clients, running until the backup is done.
    const load = Promise.all(
      [0, 1, 2].map(async (w) => {
        for (let i = 0; i < 60 && !stop; i++) {
          const repo = 'backup/load';
          during.push({ repo, tag: `w${w}-${i}`, image: await pushImage(source.url, repo, { reference: `w${w}-${i}` }) });
        }
      }),
    );
    const started = during.length;
    first = json<BackupReport>(await runCli(source, ['backup', backupDir, '--json']));
    stop = true;
    await load;
    assert.ok(during.length > started, 'pushes ran while the backup did');
    assert.equal(first.complete, true);
    assert.deepEqual(first.missingBlobs, []);
    assert.equal(first.blobsCopied, first.blobs, 'a first backup copies every blob');
    assert.ok(first.blobs >= before_.length * 3 + 4);
    const manifestFile = JSON.parse(await readFile(join(backupDir, 'backup.json'), 'utf8')) as { migrations: string[]; tables: { name: string; rows: number }[] };
    assert.ok(manifestFile.migrations.includes('0001_initial'));
    assert.ok(manifestFile.tables.some((t) => t.name === 'manifests' && t.rows >= before_.length + 3));

    const restoredDir = join(work, 'restored');
    const restore = json<RestoreReport>(await runCli({ dataDir: restoredDir }, ['restore', backupDir, '--json']));
    assert.equal(restore.blobs, first.blobs);
    const restored = await startRegistry({}, restoredDir);
    try {
      const repos = await catalog(restored.url);
      for (const r of ['backup/app', 'backup/multi']) assert.ok(repos.includes(r), `${r} restored`);
      assert.equal(await pullAndCompare(restored.host, before_, repos), before_.length, 'every image acknowledged before the backup is restored');
      // Pushes that raced the snapshot: whichever made it in are whole.
      const racing = await pullAndCompare(restored.host, during, repos);
      console.log(`# ${during.length} images pushed during the backup, ${racing} of them in the snapshot; ${first.blobs} blobs in ${first.durationMs} ms`);
      // The index and both its platform manifests, by digest.
      const res = await fetch(`${restored.url}/v2/backup/multi/manifests/latest`, { headers: { Accept: 'application/vnd.oci.image.index.v1+json' } });
      assert.equal(res.status, 200);
      assert.ok(Buffer.from(await res.arrayBuffer()).equals(index.bytes));
      await scrubClean(restoredDir);
    } finally {
      await restored.close();
    }
  });

  test('a second backup into the same place copies only new blobs; a third copies none', async () => {
    const second = json<BackupReport>(await runCli(source, ['backup', backupDir, '--json']));
    assert.equal(second.complete, true);
    assert.equal(second.blobsCopied, second.blobs - first.blobs, 'only blobs pushed after the first snapshot are copied');
    const third = json<BackupReport>(await runCli(source, ['backup', backupDir, '--json']));
    assert.equal(third.blobs, second.blobs);
    assert.equal(third.blobsCopied, 0);
    assert.equal(third.bytesCopied, 0);
  });

  test('restore accepts an empty registry that has collected garbage (and listed its empty store)', async () => {
    const dir = join(work, 'collected');
    const empty = await startRegistry({}, dir);
    try {
      assert.equal((await empty.app.collectGarbage()).storeListed, true);
    } finally {
      await empty.close();
    }
    const restore = json<RestoreReport>(await runCli({ dataDir: dir }, ['restore', backupDir, '--json']));
    assert.ok(restore.blobs >= first.blobs);
  });

  test('restore refuses a registry that is not empty and changes nothing', async () => {
    const reposBefore = await catalog(source.url);
    const result = await runCli(source, ['restore', backupDir, '--json']);
    assert.notEqual(result.code, 0);
    assert.match(result.stderr, /not empty/);
    assert.deepEqual(await catalog(source.url), reposBefore);
  });

  test('restore refuses a tampered backup (metadata checksum, blob digest) or one from a newer version, and leaves the registry empty', async () => {
    const target = join(work, 'fresh');
    // A metadata file changed after the backup: refused before anything is written.
    const badMeta = join(work, 'tampered-meta');
    await cp(backupDir, badMeta, { recursive: true });
    const tagsFile = join(badMeta, 'metadata', 'tags.jsonl');
    await writeFile(tagsFile, (await readFile(tagsFile, 'utf8')).replace('"v1"', '"v9"'));
    const meta = await runCli({ dataDir: target }, ['restore', badMeta]);
    assert.notEqual(meta.code, 0);
    assert.match(meta.stderr, /tags\.jsonl: checksum mismatch/);

    // Made by a newer version: a migration this one does not know.
    const future = join(work, 'future');
    await cp(backupDir, future, { recursive: true });
    const manifest = JSON.parse(await readFile(join(future, 'backup.json'), 'utf8')) as { migrations: string[] };
    manifest.migrations.push('9999_future');
    await writeFile(join(future, 'backup.json'), JSON.stringify(manifest));
    const newer = await runCli({ dataDir: target }, ['restore', future]);
    assert.notEqual(newer.code, 0);
    assert.match(newer.stderr, /made by a newer version: migrations 9999_future are unknown to this one/);

    // A blob's bytes changed (same length): found while copying; the blobs already copied go again.
    const badBlob = join(work, 'tampered-blob');
    await cp(backupDir, badBlob, { recursive: true });
    // The first blob restore copies (they go in digest order), so the refusal comes early.
    const firstBlob = JSON.parse((await readFile(join(badBlob, 'metadata', 'blobs.jsonl'), 'utf8')).split('\n')[0]!) as string[];
    const layer = firstBlob[0]!.slice('sha256:'.length);
    const blobPath = join(badBlob, 'blobs', 'sha256', layer.slice(0, 2), layer);
    const bytes = await readFile(blobPath);
    bytes[0] = bytes[0]! ^ 0xff;
    await writeFile(blobPath, bytes);
    const blob = await runCli({ dataDir: target }, ['restore', badBlob]);
    assert.notEqual(blob.code, 0);
    assert.match(blob.stderr, new RegExp(`blob sha256:${layer}: bytes hash to .*changed after the backup`));

    const reg = await startRegistry({}, target);
    try {
      assert.deepEqual(await catalog(reg.url), []);
      const res = await fetch(`${reg.url}/v2/backup/app/blobs/${firstBlob[0]}`);
      assert.equal(res.status, 404);
    } finally {
      await reg.close();
    }
    if (!scaleOut()) {
      const shards = await readdir(join(target, 'blobs', 'sha256')).catch(() => []);
      assert.deepEqual(shards.length === 0 ? [] : (await Promise.all(shards.map((s) => readdir(join(target, 'blobs', 'sha256', s))))).flat(), [], 'no blob left behind');
    }
    // Still empty: restore checks that before the checksums, so the tampered metadata is what it refuses again.
    const again = await runCli({ dataDir: target }, ['restore', badMeta]);
    assert.match(again.stderr, /tags\.jsonl: checksum mismatch/);
  });

  // Last: it takes bytes away from the source registry.
  test('a blob gone by copy time (garbage collection after the snapshot) or stored corrupt makes the backup incomplete: exit 3, restore refuses', async () => {
    const doomed = await pushImage(source.url, 'backup/doomed', { reference: 'v1' });
    const store = source.app.blobStore;
    await store.delete(parseDigest(doomed.layers[0]!.digest));
    // Other bytes under the config's digest, through the store's own commit (which trusts its caller).
    const wrong = Buffer.from('not the config');
    await store.createUpload('backup-corrupt');
    await store.appendUpload('backup-corrupt', 0, Readable.from([wrong]), () => undefined);
    await store.commitUpload('backup-corrupt', wrong.length, parseDigest(doomed.config.digest));
    const dir = join(work, 'incomplete');
    const result = await runCli(source, ['backup', dir, '--json']);
    assert.equal(result.code, 3, result.stderr);
    const report = JSON.parse(result.stdout) as BackupReport;
    assert.equal(report.complete, false);
    const problems = new Map(report.missingBlobs.map((m) => [m.digest, m.problem]));
    assert.equal(problems.size, 2);
    assert.match(problems.get(doomed.layers[0]!.digest)!, /not in the blob store/);
    assert.match(problems.get(doomed.config.digest)!, /stored bytes hash to sha256:/);
    const configHex = doomed.config.digest.slice('sha256:'.length);
    const copied = await readFile(join(dir, 'blobs', 'sha256', configHex.slice(0, 2), configHex)).catch(() => undefined);
    assert.equal(copied, undefined, 'bytes that do not match their digest are not kept in the backup');

    const restore = await runCli({ dataDir: join(work, 'from-incomplete') }, ['restore', dir]);
    assert.notEqual(restore.code, 0);
    assert.match(restore.stderr, /backup is incomplete: 2 blob\(s\) could not be copied: sha256:/);
  });
});
