// Disk full: the embedded registry (filesystem blobs and its SQLite database) on a small tmpfs
// the test mounts. Pushes fill it; the upload that no longer fits answers 507 with the spec's
// error body saying the storage is full, nothing half-written becomes visible (HEAD 404, no
// staged file left once the session is cancelled), earlier images pull back byte-identical
// throughout, and once space is freed pushes work again.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { run } from '../helpers/exec.js';
import { makeTempDir, spawnRegistry, type RegistryProcess } from '../helpers/registry.js';
import { MediaType, checkErrorBody, expectStatus, pushBlob, pushManifest, randomBytes, sha256, startUpload, withDigest } from '../helpers/oci.js';

const SIZE_MIB = 24;
const BLOB_MIB = 3;
/** Space the test takes back at the end to show pushes work again. */
const BALLAST_MIB = 8;

describe('disk full (embedded registry on a 24 MiB tmpfs)', { timeout: 120_000 }, () => {
  let mount: string;
  let mounted = false;
  let registry: RegistryProcess | undefined;
  const seed = { manifest: Buffer.alloc(0), blobs: new Map<string, Buffer>() };

  async function pullSeed(): Promise<void> {
    const res = await fetch(`${registry!.url}/v2/full/seed/manifests/v1`, { headers: { accept: MediaType.OciManifest } });
    assert.ok((await expectStatus(res, 200)).equals(seed.manifest), 'seed manifest byte-identical');
    for (const [digest, bytes] of seed.blobs) {
      const blob = await fetch(`${registry!.url}/v2/full/seed/blobs/${digest}`);
      assert.ok((await expectStatus(blob, 200)).equals(bytes), `seed blob ${digest} byte-identical`);
    }
  }

  before(async () => {
    mount = await makeTempDir('disk-full-');
    await run('mount', ['-t', 'tmpfs', '-o', `size=${SIZE_MIB}m,mode=0755`, 'tmpfs', mount]);
    mounted = true;
    await mkdir(join(mount, 'data'));
    await writeFile(join(mount, 'ballast'), Buffer.alloc(BALLAST_MIB * 1024 * 1024, 1));
    // Embedded backends on either test pass: the disk is the point here.
    registry = await spawnRegistry(join(mount, 'data'), 0, {
      REGISTRY_STORAGE_DRIVER: 'filesystem',
      REGISTRY_METADATA_DRIVER: 'sqlite',
      REGISTRY_REDIS_URL: '',
      REGISTRY_SCAN_ENABLED: 'false',
    });
    const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux' }));
    const layer = randomBytes(1024 * 1024);
    const descriptors = [];
    for (const [bytes, mediaType] of [[config, MediaType.OciConfig], [layer, MediaType.OciLayer]] as const) {
      descriptors.push(await pushBlob(registry.url, 'full/seed', bytes, mediaType));
      seed.blobs.set(sha256(bytes), bytes);
    }
    const pushed = await pushManifest(registry.url, 'full/seed', 'v1', { schemaVersion: 2, mediaType: MediaType.OciManifest, config: descriptors[0], layers: [descriptors[1]] }, MediaType.OciManifest);
    seed.manifest = pushed.bytes;
  });

  after(async () => {
    await registry?.kill('SIGTERM');
    if (mounted) await run('umount', ['-l', mount]).catch((err: unknown) => console.error(err));
    if (mount) await rm(mount, { recursive: true, force: true });
  });

  test('the upload that does not fit answers 507, leaves nothing visible, and pulls go on', async () => {
    const base = registry!.url;
    let refused: { digest: string; upload: URL; status: number; body: string } | undefined;
    let stored = 0;
    // Bounded: 24 MiB fills within 8 blobs of 3 MiB.
    for (let i = 0; i < 12 && !refused; i++) {
      const bytes = randomBytes(BLOB_MIB * 1024 * 1024);
      const digest = sha256(bytes);
      const upload = await startUpload(base, 'full/filler');
      const res = await fetch(withDigest(upload, digest), { method: 'PUT', body: bytes, headers: { 'content-type': 'application/octet-stream' } });
      const body = await res.text();
      if (res.status === 201) {
        stored++;
        await pullSeed();
        continue;
      }
      refused = { digest, upload, status: res.status, body };
    }
    assert.ok(refused, `the disk filled up (${stored} blobs stored)`);
    assert.ok(stored >= 1, 'some blobs fitted before the disk was full');
    assert.equal(refused.status, 507, `refused with ${refused.status}: ${refused.body}`);
    const error = checkErrorBody(refused.body, 'UNAVAILABLE');
    assert.match(error.errors[0]!.message ?? '', /storage is full/);

    // Nothing half-written is visible, and earlier images are whole.
    const head = await fetch(`${base}/v2/full/filler/blobs/${refused.digest}`, { method: 'HEAD' });
    assert.equal(head.status, 404);
    await pullSeed();

    // A chunked upload fails the same way, at the PATCH that does not fit.
    const chunked = await startUpload(base, 'full/filler');
    const patch = await fetch(chunked, { method: 'PATCH', body: randomBytes(BLOB_MIB * 1024 * 1024), headers: { 'content-type': 'application/octet-stream' } });
    const patchBody = await patch.text();
    assert.equal(patch.status, 507, patchBody);
    checkErrorBody(patchBody, 'UNAVAILABLE');

    // Cancelled sessions leave no staged file behind.
    for (const upload of [refused.upload, chunked]) assert.equal((await fetch(upload, { method: 'DELETE' })).status, 204);
    assert.deepEqual(await readdir(join(mount, 'data', 'uploads')), [], 'no staged upload left');
    await pullSeed();
  });

  test('after space is freed, pushes work again', async () => {
    await rm(join(mount, 'ballast'));
    const base = registry!.url;
    const bytes = randomBytes(BLOB_MIB * 1024 * 1024);
    const blob = await pushBlob(base, 'full/after', bytes);
    const config = await pushBlob(base, 'full/after', JSON.stringify({ architecture: 'amd64', os: 'linux', after: true }), MediaType.OciConfig);
    await pushManifest(base, 'full/after', 'v1', { schemaVersion: 2, mediaType: MediaType.OciManifest, config, layers: [{ ...blob, mediaType: MediaType.OciLayer }] }, MediaType.OciManifest);
    const back = await fetch(`${base}/v2/full/after/blobs/${blob.digest}`);
    assert.ok((await expectStatus(back, 200)).equals(bytes), 'the new blob pulls back byte-identical');
    await pullSeed();
  });
});
