// Moving a registry from SQLite + filesystem to PostgreSQL + S3 with backup and restore,
// through a backup kept in an S3 bucket: every image pulls back byte-identical with skopeo
// from a registry process on the new backends, and scrub finds nothing.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { backendEnv, makeTempDir, scaleOut, spawnRegistry, startRegistry, type TestRegistry } from '../helpers/registry.js';
import { runCli } from '../helpers/cli.js';
import { s3Settings } from '../helpers/services.js';
import { MediaType, pushImage, pushIndex } from '../helpers/oci.js';
import type { BackupReport } from '../../src/backup/backup.js';
import type { RestoreReport } from '../../src/backup/restore.js';
import { catalog, json, pullAndCompare, scrubClean, skopeoInstalled, type Pushed } from './clients.js';

describe('SQLite + filesystem to PostgreSQL + S3', { skip: scaleOut() ? 'the source runs on PostgreSQL + S3 already' : skopeoInstalled ? false : 'skopeo is not installed', timeout: 120_000 }, () => {
  let source: TestRegistry;
  let work: string;
  const images: Pushed[] = [];
  let index: Awaited<ReturnType<typeof pushIndex>>;

  before(async () => {
    source = await startRegistry();
    work = await makeTempDir('registry-backup-cross-');
    for (let i = 0; i < 3; i++) images.push({ repo: 'move/app', tag: `v${i}`, image: await pushImage(source.url, 'move/app', { reference: `v${i}`, layers: 2 }) });
    index = await pushIndex(source.url, 'move/multi', 'latest');
  });

  after(async () => {
    await source?.close();
    if (work) await rm(work, { recursive: true, force: true });
  });

  test('backup to an S3 bucket, restore onto PostgreSQL + S3: images byte-identical, scrub clean', async () => {
    // Fails loudly without the servers (npm test starts them): no silent pass.
    const settings = s3Settings();
    const s3 = {
      REGISTRY_STORAGE_S3_ENDPOINT: settings.endpoint,
      REGISTRY_STORAGE_S3_REGION: settings.region,
      REGISTRY_STORAGE_S3_ACCESS_KEY_ID: settings.accessKeyId,
      REGISTRY_STORAGE_S3_SECRET_ACCESS_KEY: settings.secretAccessKey,
    };
    const bucketTarget = `s3://${settings.bucket}/backup-test-${randomBytes(6).toString('hex')}/`;
    const backup = json<BackupReport>(await runCli(source, ['backup', bucketTarget, '--json'], { env: s3 }));
    assert.equal(backup.complete, true);
    assert.equal(backup.blobsCopied, backup.blobs);
    assert.equal(backup.blobs, images.length * 3 + 4, 'config and two layers per image; the index images have one layer each');
    const again = json<BackupReport>(await runCli(source, ['backup', bucketTarget, '--json'], { env: s3 }));
    assert.deepEqual([again.blobs, again.blobsCopied], [backup.blobs, 0], 'the second backup to the bucket copies no blob');

    const pgDir = join(work, 'pg');
    const pgEnv = await backendEnv(pgDir, true);
    const restore = json<RestoreReport>(await runCli({ dataDir: pgDir }, ['restore', bucketTarget, '--json'], { env: pgEnv }));
    assert.deepEqual([restore.from, restore.to], ['sqlite', 'postgres']);
    assert.equal(restore.blobs, backup.blobs);
    const reg = await spawnRegistry(pgDir, 0, {}, true);
    try {
      assert.deepEqual(await catalog(reg.url), ['move/app', 'move/multi']);
      assert.equal(await pullAndCompare(reg.host, images, ['move/app']), images.length);
      const res = await fetch(`${reg.url}/v2/move/multi/manifests/latest`, { headers: { Accept: MediaType.OciIndex } });
      assert.equal(res.status, 200);
      assert.ok(Buffer.from(await res.arrayBuffer()).equals(index.bytes), 'manifest bytes (an SQLite blob, now bytea) byte-identical');
      await scrubClean(pgDir, pgEnv);
    } finally {
      await reg.kill('SIGTERM');
    }
  });
});
