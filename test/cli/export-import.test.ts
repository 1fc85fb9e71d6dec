// `registry export` and `registry import`: a multi-arch image with an SBOM referrer goes out
// as an OCI layout tar and into a fresh registry byte for byte; skopeo reads our archives and
// we read skopeo's; docker save archives import; a corrupt archive is refused with nothing left.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { create as createTar, extract as extractTar } from 'tar';
import { makeTempDir, startRegistry, type TestRegistry } from '../helpers/registry.js';
import { runCli } from '../helpers/cli.js';
import { hasCommand, run } from '../helpers/exec.js';
import { OCI_INDEX, OCI_MANIFEST, REF_NAME, readLayout, reachableBlobs, resolveTag, sha256 } from '../helpers/oci-layout.js';
import { assertHolds, fixtureBlobs, manifestDigests, multiArchFixture, pushFixture, SBOM_TYPE, type MultiArchFixture } from '../helpers/transfer.js';

const skopeoAvailable = await hasCommand('skopeo');

async function tags(reg: TestRegistry, repo: string): Promise<{ status: number; tags?: string[] }> {
  const res = await fetch(`${reg.url}/v2/${repo}/tags/list`);
  const body = (await res.json()) as { tags?: string[] };
  return { status: res.status, ...(body.tags ? { tags: body.tags } : {}) };
}

async function referrers(reg: TestRegistry, repo: string, digest: string): Promise<{ digest: string; artifactType?: string }[]> {
  const res = await fetch(`${reg.url}/v2/${repo}/referrers/${digest}`);
  assert.equal(res.status, 200);
  return ((await res.json()) as { manifests: { digest: string; artifactType?: string }[] }).manifests;
}

describe('registry export / import', { timeout: 120_000 }, () => {
  let source: TestRegistry;
  let work: string;
  let fixture: MultiArchFixture;
  let archive: string;
  const fresh: TestRegistry[] = [];
  const freshRegistry = async () => {
    const reg = await startRegistry();
    fresh.push(reg);
    return reg;
  };

  before(async () => {
    // No scanner here: its SBOM referrers would join the export.
    source = await startRegistry({ scan: { enabled: false } });
    work = await makeTempDir('registry-transfer-');
    fixture = await multiArchFixture(work);
    await pushFixture(source.url, 'app/multi', 'v1', fixture);
    archive = join(work, 'multi.tar');
  });
  after(async () => {
    for (const reg of fresh) await reg.close();
    await source?.close();
    if (work) await rm(work, { recursive: true, force: true });
  });

  test('export writes an OCI layout tar: every platform, the referrer, ref.name annotations, digests intact', async () => {
    const res = await runCli(source, ['export', 'app/multi:v1', '--referrers', '-o', archive, '--json']);
    assert.equal(res.code, 0, res.stderr);
    const summary = JSON.parse(res.stdout) as { repository: string; manifests: number; blobs: number; images: { digest: string }[] };
    assert.equal(summary.repository, 'app/multi');
    assert.deepEqual(summary.images.map((i) => i.digest), [fixture.index.descriptor.digest]);
    assert.equal(summary.manifests, 4, 'index, two images, the SBOM');

    const dir = join(work, 'unpacked');
    await mkdir(dir);
    await extractTar({ file: archive, cwd: dir });
    assert.deepEqual(JSON.parse(await readFile(join(dir, 'oci-layout'), 'utf8')), { imageLayoutVersion: '1.0.0' });
    const layout = await readLayout(dir);
    const root = resolveTag(layout, 'v1');
    assert.equal(root.digest, fixture.index.descriptor.digest);
    assert.equal(root.mediaType, OCI_INDEX);
    const expected = fixtureBlobs(fixture);
    for (const [digest, bytes] of expected) assert.ok(layout.blobs.get(digest)?.equals(bytes), `${digest} byte for byte in the archive`);
    for (const [digest, bytes] of layout.blobs) assert.equal(sha256(bytes), digest, `blobs/sha256/${digest.slice(7)} hashes to its name`);
    assert.deepEqual(reachableBlobs(layout.blobs, root.digest), [...expected.keys()].sort());
    const sbomEntry = layout.index.manifests.find((d) => d.digest === fixture.referrer.digest);
    assert.ok(sbomEntry, 'the referrer is listed in index.json');
    assert.equal(sbomEntry.annotations?.[REF_NAME], undefined, 'untagged');
    assert.ok(layout.blobs.get(fixture.referrer.digest)?.equals(fixture.referrer.manifest));
    assert.ok(layout.blobs.get(sha256(fixture.referrer.sbom))?.equals(fixture.referrer.sbom));
  });

  test('import into a fresh registry: same tag, digests, bytes and referrers', async () => {
    const target = await freshRegistry();
    const res = await runCli(target, ['import', archive, '--json']);
    assert.equal(res.code, 0, res.stderr);
    const report = JSON.parse(res.stdout) as { images: { repository: string; tag?: string; digest: string }[]; blobsPushed: number; manifests: number };
    assert.deepEqual(report.images.find((i) => i.tag === 'v1'), { repository: 'app/multi', tag: 'v1', digest: fixture.index.descriptor.digest });
    assert.equal(report.manifests, 4);

    const head = await fetch(`${target.url}/v2/app/multi/manifests/v1`, { method: 'HEAD', headers: { Accept: OCI_INDEX } });
    assert.equal(head.headers.get('docker-content-digest'), fixture.index.descriptor.digest);
    await assertHolds(target.url, 'app/multi', fixtureBlobs(fixture), manifestDigests(fixture));
    assert.deepEqual((await referrers(target, 'app/multi', fixture.index.descriptor.digest)).map((r) => [r.digest, r.artifactType]), [[fixture.referrer.digest, SBOM_TYPE]]);

    // Again, into another repository: nothing new to store, everything linked there.
    const again = await runCli(target, ['import', archive, '--repository', 'copies/multi', '--json']);
    assert.equal(again.code, 0, again.stderr);
    assert.deepEqual((await tags(target, 'copies/multi')).tags, ['v1']);
    await assertHolds(target.url, 'copies/multi', fixtureBlobs(fixture), manifestDigests(fixture));
  });

  test('a whole repository with --all-tags; a directory layout imports too; progress lines off a terminal', async () => {
    await fetch(`${source.url}/v2/app/multi/manifests/v2`, { method: 'PUT', headers: { 'Content-Type': OCI_MANIFEST }, body: new Uint8Array(fixture.images[0]!.manifest) });
    const all = join(work, 'all.tar');
    const res = await runCli(source, ['export', 'app/multi', '--all-tags', '-o', all]);
    assert.equal(res.code, 0, res.stderr);
    assert.match(res.stderr, /^export: \[#{30}\] [\d.]+ KiB\/[\d.]+ KiB$/m, 'one plain progress line when stderr is not a terminal');
    assert.match(res.stdout, /app\/multi:v1 sha256:/);
    assert.match(res.stdout, /app\/multi:v2 sha256:/);

    const dir = join(work, 'all-dir');
    await mkdir(dir);
    await extractTar({ file: all, cwd: dir });
    const target = await freshRegistry();
    const imported = await runCli(target, ['import', dir, '--repository', 'from/dir']);
    assert.equal(imported.code, 0, imported.stderr);
    // A directory's blobs are hashed before anything is stored, then stored.
    assert.match(imported.stderr, /^verify: \[#{30}\] [\d.]+ KiB\/[\d.]+ KiB\nimport: \[#{30}\] [\d.]+ KiB\/[\d.]+ KiB$/m);
    assert.deepEqual((await tags(target, 'from/dir')).tags, ['v1', 'v2']);
    const v2 = await fetch(`${target.url}/v2/from/dir/manifests/v2`, { headers: { Accept: OCI_MANIFEST } });
    assert.ok(Buffer.from(await v2.arrayBuffer()).equals(fixture.images[0]!.manifest));
  });

  test('a corrupt blob is refused with a clear error and nothing is visible; a failed export leaves no file', async () => {
    const dir = join(work, 'corrupt');
    await mkdir(dir);
    await extractTar({ file: archive, cwd: dir });
    const layer = fixture.images[1]!.layers[1]!;
    const path = join(dir, 'blobs', 'sha256', layer.digest.slice(7));
    const bytes = await readFile(path);
    bytes[bytes.length >> 1] ^= 0x55;
    await writeFile(path, bytes);
    const corrupt = join(work, 'corrupt.tar');
    await createTar({ file: corrupt, cwd: dir }, await readdir(dir));

    const target = await freshRegistry();
    for (const input of [corrupt, dir]) {
      const res = await runCli(target, ['import', input, '--repository', 'broken/app']);
      assert.equal(res.code, 1);
      assert.match(res.stderr, new RegExp(`blob ${layer.digest} in the (archive|layout) is corrupt`));
      assert.doesNotMatch(res.stderr, /\n\s+at /, 'no stack trace');
      assert.equal((await tags(target, 'broken/app')).status, 404, 'no repository, no tag');
      for (const digest of fixtureBlobs(fixture).keys()) {
        const head = await fetch(`${target.url}/v2/broken/app/blobs/${digest}`, { method: 'HEAD' });
        assert.equal(head.status, 404, `blob ${digest} was not stored`);
      }
    }

    const missing = join(work, 'never.tar');
    const res = await runCli(source, ['export', 'app/multi:nope', '-o', missing]);
    assert.equal(res.code, 1);
    assert.match(res.stderr, /no manifest app\/multi:nope/);
    await assert.rejects(stat(missing));
    assert.deepEqual((await readdir(work)).filter((n) => n.endsWith('.partial')), []);
  });

  test('imports are pushes: immutable tags and quotas apply', async () => {
    const target = await freshRegistry();
    await target.app.policies.store.addImmutableRule({ namespace: 'locked', pattern: 'v*', createdBy: 'test' });
    await target.app.policies.store.setQuota({ namespace: 'tiny', limitBytes: 10_000, limitRepositories: null });
    assert.equal((await runCli(target, ['import', archive, '--repository', 'locked/app'])).code, 0);
    // Another image under the same immutable tag.
    const other = await multiArchFixture(work);
    const otherArchive = join(work, 'other.tar');
    await pushFixture(source.url, 'app/other', 'v1', other);
    assert.equal((await runCli(source, ['export', 'app/other:v1', '-o', otherArchive])).code, 0);
    const moved = await runCli(target, ['import', otherArchive, '--repository', 'locked/app']);
    assert.equal(moved.code, 1);
    assert.match(moved.stderr, /immutable/i);
    const head = await fetch(`${target.url}/v2/locked/app/manifests/v1`, { method: 'HEAD', headers: { Accept: OCI_INDEX } });
    assert.equal(head.headers.get('docker-content-digest'), fixture.index.descriptor.digest, 'the tag did not move');

    const over = await runCli(target, ['import', archive, '--repository', 'tiny/app']);
    assert.equal(over.code, 1);
    assert.match(over.stderr, /quota/i);
    assert.equal((await tags(target, 'tiny/app')).tags?.length ?? 0, 0, 'no tag');
  });

  test('a docker save archive (manifest.json, config and layer tars) imports with its RepoTags', async () => {
    const dir = join(work, 'docker-save');
    await mkdir(join(dir, 'abc'), { recursive: true });
    const image = fixture.images[0]!;
    const layerTar = image.layers[0]!.tar;
    const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [sha256(layerTar)] } }));
    const configName = `${createHash('sha256').update(config).digest('hex')}.json`;
    await writeFile(join(dir, configName), config);
    await writeFile(join(dir, 'abc', 'layer.tar'), layerTar);
    await writeFile(join(dir, 'manifest.json'), JSON.stringify([{ Config: configName, RepoTags: ['docker.io/legacy/app:1.0'], Layers: ['abc/layer.tar'] }]));
    const saved = join(work, 'saved.tar');
    await createTar({ file: saved, cwd: dir }, await readdir(dir));

    const target = await freshRegistry();
    const res = await runCli(target, ['import', saved, '--json']);
    assert.equal(res.code, 0, res.stderr);
    assert.deepEqual((await tags(target, 'legacy/app')).tags, ['1.0']);
    const got = await fetch(`${target.url}/v2/legacy/app/manifests/1.0`, { headers: { Accept: OCI_MANIFEST } });
    const manifest = (await got.json()) as { config: { digest: string }; layers: { digest: string }[] };
    assert.equal(manifest.config.digest, sha256(config));
    assert.deepEqual(manifest.layers.map((l) => l.digest), [sha256(layerTar)]);
    const blob = await fetch(`${target.url}/v2/legacy/app/blobs/${sha256(layerTar)}`);
    assert.ok(Buffer.from(await blob.arrayBuffer()).equals(layerTar));
  });

  describe('with skopeo', { skip: skopeoAvailable ? false : 'skopeo is not installed (scripts/install-test-deps.sh)' }, () => {
    let env: Record<string, string>;
    before(async () => {
      const auth = join(work, 'auth.json');
      await writeFile(auth, JSON.stringify({ auths: {} }));
      env = { REGISTRY_AUTH_FILE: auth, XDG_RUNTIME_DIR: work, HOME: work, TMPDIR: work };
    });
    const skopeo = (...args: string[]) => run('skopeo', ['--insecure-policy', ...args], { timeoutMs: 90_000, env });

    test('skopeo copies our export into a registry with every digest preserved', async () => {
      const target = await freshRegistry();
      await skopeo('copy', '--all', '--preserve-digests', '--dest-tls-verify=false', `oci-archive:${archive}:v1`, `docker://${target.host}/from/skopeo:v1`);
      const head = await fetch(`${target.url}/v2/from/skopeo/manifests/v1`, { method: 'HEAD', headers: { Accept: OCI_INDEX } });
      assert.equal(head.headers.get('docker-content-digest'), fixture.index.descriptor.digest);
      await assertHolds(target.url, 'from/skopeo', fixtureBlobs(fixture), manifestDigests(fixture));
    });

    test('an archive skopeo writes imports', async () => {
      const written = join(work, 'skopeo.tar');
      await skopeo('copy', '--all', '--preserve-digests', '--src-tls-verify=false', `docker://${source.host}/app/multi:v1`, `oci-archive:${written}:v7`);
      const target = await freshRegistry();
      const res = await runCli(target, ['import', written, '--repository', 'from/archive', '--json']);
      assert.equal(res.code, 0, res.stderr);
      assert.deepEqual((await tags(target, 'from/archive')).tags, ['v7']);
      await assertHolds(target.url, 'from/archive', fixtureBlobs(fixture), manifestDigests(fixture));
    });
  });
});
