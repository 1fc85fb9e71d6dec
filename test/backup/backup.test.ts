// `registry backup` and `registry restore` as operators run them: a backup taken while pushes
// run, restored into a fresh registry, every image pulled back with skopeo and compared by
// digest (content addressed: the same digest is the same bytes) and `registry scrub` clean;
// incremental blob copies; refusals that leave the registry untouched; SQLite + filesystem to
// PostgreSQL + S3 through an S3 backup target.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { cp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { randomBytes as cryptoRandom } from 'node:crypto';
import { join } from 'node:path';
import { backendEnv, makeTempDir, scaleOut, spawnRegistry, startRegistry, type TestRegistry } from '../helpers/registry.js';
import { runCli, type CliResult } from '../helpers/cli.js';
import { hasCommand, run } from '../helpers/exec.js';
import { s3Settings } from '../helpers/services.js';
import { pushImage, pushIndex, sha256, type PushedImage } from '../helpers/oci.js';
import type { BackupReport } from '../../src/backup/backup.js';
import type { RestoreReport } from '../../src/backup/restore.js';
import type { ScrubReport } from '../../src/registry/scrub.js';
import { parseDigest } from '../../src/registry/digest.js';

interface Pushed {
  repo: string;
  tag: string;
  image: PushedImage;
}

const skopeoInstalled = await hasCommand('skopeo');

function json<T>(result: CliResult): T {
  assert.equal(result.code, 0, `exit ${result.code}: ${result.stderr}${result.stdout}`);
  return JSON.parse(result.stdout) as T;
}

/** Catalog of a registry, as a client sees it. */
async function catalog(url: string): Promise<string[]> {
  const res = await fetch(`${url}/v2/_catalog?n=1000`);
  assert.equal(res.status, 200);
  return ((await res.json()) as { repositories: string[] }).repositories;
}

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

  /** Pull every tag of `repos` from `host` with skopeo sync and check each image against what was pushed. */
  async function pullAndCompare(host: string, images: Pushed[], restoredRepos: string[]): Promise<number> {
    const out = await makeTempDir('registry-backup-pull-');
    const env = { REGISTRY_AUTH_FILE: join(out, 'auth.json'), XDG_RUNTIME_DIR: out, HOME: out, TMPDIR: out };
    await writeFile(env.REGISTRY_AUTH_FILE, JSON.stringify({ auths: {} }));
    try {
      for (const repo of [...new Set(images.map((i) => i.repo))].filter((r) => restoredRepos.includes(r))) {
        await run('skopeo', ['--insecure-policy', 'sync', '--retry-times', '0', '--src', 'docker', '--dest', 'dir', '--src-tls-verify=false', '--preserve-digests', `${host}/${repo}`, join(out, repo)], {
          timeoutMs: 120_000,
          env,
        });
      }
      let compared = 0;
      for (const { repo, tag, image } of images) {
        const dir = join(out, repo, `${repo.split('/').pop()}:${tag}`);
        const manifest = await readFile(join(dir, 'manifest.json')).catch(() => undefined);
        if (!manifest) continue;
        assert.ok(manifest.equals(image.bytes), `${repo}:${tag}: manifest byte-identical`);
        for (const blob of [image.config, ...image.layers]) {
          const bytes = await readFile(join(dir, blob.digest.slice('sha256:'.length)));
          assert.equal(sha256(bytes), blob.digest, `${repo}:${tag}: blob ${blob.digest} byte-identical`);
          assert.equal(bytes.length, blob.size);
        }
        compared++;
      }
      return compared;
    } finally {
      await rm(out, { recursive: true, force: true });
    }
  }

  async function scrubClean(dataDir: string, env?: Record<string, string>): Promise<ScrubReport> {
    const report = json<ScrubReport>(await runCli({ dataDir }, ['scrub', '--json', '--orphan-grace', '0'], env ? { env } : {}));
    assert.deepEqual(report.badBlobs, []);
    assert.deepEqual(report.brokenManifests, []);
    assert.deepEqual(report.orphanBlobs, []);
    return report;
  }

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

  test('restore refuses a registry that is not empty and changes nothing', async () => {
    const reposBefore = await catalog(source.url);
    const result = await runCli(source, ['restore', backupDir, '--json']);
    assert.notEqual(result.code, 0);
    assert.match(result.stderr, /not empty/);
    assert.deepEqual(await catalog(source.url), reposBefore);
  });

  test('restore refuses a tampered backup (metadata checksum, blob digest) and leaves the registry empty', async () => {
    const target = join(work, 'fresh');
    // A metadata file changed after the backup: refused before anything is written.
    const badMeta = join(work, 'tampered-meta');
    await cp(backupDir, badMeta, { recursive: true });
    const tagsFile = join(badMeta, 'metadata', 'tags.jsonl');
    await writeFile(tagsFile, (await readFile(tagsFile, 'utf8')).replace('"v1"', '"v9"'));
    const meta = await runCli({ dataDir: target }, ['restore', badMeta]);
    assert.notEqual(meta.code, 0);
    assert.match(meta.stderr, /tags\.jsonl: checksum mismatch/);

    // A blob's bytes changed (same length): found while copying; the blobs already copied go again.
    const badBlob = join(work, 'tampered-blob');
    await cp(backupDir, badBlob, { recursive: true });
    const layer = before_[3]!.image.layers[1]!.digest.slice('sha256:'.length);
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
      const res = await fetch(`${reg.url}/v2/backup/app/blobs/${before_[0]!.image.config.digest}`);
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

  test('SQLite + filesystem to PostgreSQL + S3, through a backup in an S3 bucket', { skip: scaleOut() ? 'the source runs on PostgreSQL + S3 already' : false }, async () => {
    // Fails loudly without the servers (npm test starts them): no silent pass.
    const settings = s3Settings();
    const s3 = {
      REGISTRY_STORAGE_S3_ENDPOINT: settings.endpoint,
      REGISTRY_STORAGE_S3_REGION: settings.region,
      REGISTRY_STORAGE_S3_ACCESS_KEY_ID: settings.accessKeyId,
      REGISTRY_STORAGE_S3_SECRET_ACCESS_KEY: settings.secretAccessKey,
    };
    const bucketTarget = `s3://${settings.bucket}/backup-test-${cryptoRandom(6).toString('hex')}/`;
    const backup = json<BackupReport>(await runCli(source, ['backup', bucketTarget, '--json'], { env: s3 }));
    assert.equal(backup.complete, true);
    assert.equal(backup.blobsCopied, backup.blobs);

    const pgDir = join(work, 'pg');
    const pgEnv = await backendEnv(pgDir, true);
    const restore = json<RestoreReport>(await runCli({ dataDir: pgDir }, ['restore', bucketTarget, '--json'], { env: pgEnv }));
    assert.equal(restore.from, 'sqlite');
    assert.equal(restore.to, 'postgres');
    const reg = await spawnRegistry(pgDir, 0, {}, true);
    try {
      const repos = await catalog(reg.url);
      // The images pushed during the backup were pulled back from the first restore already.
      assert.equal(await pullAndCompare(reg.host, before_, repos), before_.length);
      const res = await fetch(`${reg.url}/v2/backup/multi/manifests/${index.digest}`, { headers: { Accept: 'application/vnd.oci.image.index.v1+json' } });
      assert.equal(res.status, 200);
      assert.ok(Buffer.from(await res.arrayBuffer()).equals(index.bytes), 'manifest bytes (bytea from an SQLite blob) byte-identical');
      await scrubClean(pgDir, pgEnv);
    } finally {
      await reg.kill('SIGTERM');
    }
  });

  // Last: it takes bytes away from the source registry.
  test('a blob whose bytes are gone by copy time (garbage collection after the snapshot) makes the backup incomplete: exit 3, restore refuses', async () => {
    const doomed = await pushImage(source.url, 'backup/doomed', { reference: 'v1' });
    await source.app.blobStore.delete(parseDigest(doomed.layers[0]!.digest));
    const dir = join(work, 'incomplete');
    const result = await runCli(source, ['backup', dir, '--json']);
    assert.equal(result.code, 3, result.stderr);
    const report = JSON.parse(result.stdout) as BackupReport;
    assert.equal(report.complete, false);
    assert.deepEqual(report.missingBlobs.map((m) => m.digest), [doomed.layers[0]!.digest]);
    assert.match(report.missingBlobs[0]!.problem, /not in the blob store/);
    const human = await runCli(source, ['backup', dir]);
    assert.equal(human.code, 3);
    assert.match(human.stdout, /INCOMPLETE/);

    const restore = await runCli({ dataDir: join(work, 'from-incomplete') }, ['restore', dir]);
    assert.notEqual(restore.code, 0);
    assert.match(restore.stderr, new RegExp(`backup is incomplete: 1 blob\\(s\\) could not be copied: ${doomed.layers[0]!.digest}`));
  });
});
