// skopeo against the registry: OCI layouts built here are pushed, pulled back and compared
// byte for byte; inspect, list-tags, delete and a Docker schema2 conversion on the way.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { makeTempDir, startRegistry, type TestRegistry } from '../helpers/registry.js';
import { hasCommand, run } from '../helpers/exec.js';
import {
  OCI_INDEX,
  OCI_MANIFEST,
  OciLayout,
  reachableBlobs,
  readLayout,
  resolveTag,
  sha256,
  type BuiltImage,
  type Descriptor,
  type LayerFile,
} from '../helpers/oci-layout.js';

const DOCKER_V2 = 'application/vnd.docker.distribution.manifest.v2+json';
const DOCKER_LAYER_GZIP = 'application/vnd.docker.image.rootfs.diff.tar.gzip';
const DOCKER_CONFIG = 'application/vnd.docker.container.image.v1+json';
const SKOPEO_TIMEOUT = 90_000;

const available = await hasCommand('skopeo');

describe('skopeo', { skip: available ? false : 'skopeo is not installed (scripts/install-test-deps.sh installs it)', timeout: 600_000 }, () => {
  let registry: TestRegistry;
  let work: string;
  let env: Record<string, string>;
  let src: OciLayout;
  let image: BuiltImage;
  let doomed: BuiltImage;
  let amd64: BuiltImage;
  let arm64: BuiltImage;
  let index: { index: Buffer; descriptor: Descriptor };

  const skopeo = (...args: string[]) => run('skopeo', ['--insecure-policy', ...args], { timeoutMs: SKOPEO_TIMEOUT, env });
  const push = (tag: string, dest: string, ...flags: string[]) =>
    skopeo('copy', '--retry-times', '0', '--dest-tls-verify=false', ...flags, `oci:${src.dir}:${tag}`, `docker://${registry.host}/${dest}`);
  const pull = (ref: string, outDir: string, tag: string, ...flags: string[]) =>
    skopeo('copy', '--retry-times', '0', '--src-tls-verify=false', ...flags, `docker://${registry.host}/${ref}`, `oci:${outDir}:${tag}`);

  /** GET a blob from the registry and check its bytes against the digest (and, when given, the expected bytes). */
  async function assertServed(repo: string, digest: string, expected?: Buffer): Promise<void> {
    const res = await fetch(`${registry.url}/v2/${repo}/blobs/${digest}`);
    assert.equal(res.status, 200, `GET blob ${digest} in ${repo}`);
    const body = Buffer.from(await res.arrayBuffer());
    assert.equal(sha256(body), digest, `bytes served for ${digest} hash to their digest`);
    if (expected) assert.ok(body.equals(expected));
  }

  before(async () => {
    registry = await startRegistry();
    work = await makeTempDir('registry-e2e-skopeo-');
    // Keep skopeo off the machine's credentials and caches.
    const auth = join(work, 'auth.json');
    await writeFile(auth, JSON.stringify({ auths: {} }));
    env = { REGISTRY_AUTH_FILE: auth, XDG_RUNTIME_DIR: work, HOME: work, TMPDIR: work };

    src = await OciLayout.create(join(work, 'src'));
    const big = randomBytes(3 * 1024 * 1024 + 123); // several of skopeo's copy buffers
    const layers: LayerFile[][] = [
      [
        { path: 'etc/os-release', content: 'NAME="e2e"\nID=e2e\n' },
        { path: 'etc/hostname', content: 'e2e\n' },
        { path: 'bin/hello', content: '#!/bin/sh\necho hello\n', mode: 0o755 },
      ],
      [
        { path: 'usr/share/data/random.bin', content: big },
        { path: 'usr/share/data/README', content: 'random data\n' },
      ],
      [
        { path: 'etc/hostname', content: 'e2e-changed\n' },
        { path: 'app/config.json', content: JSON.stringify({ ok: true }) },
      ],
    ];
    image = await src.addImage({ os: 'linux', architecture: 'amd64' }, layers);
    src.tag(image.descriptor, 'multi-layer');
    doomed = await src.addImage({ os: 'linux', architecture: 'amd64' }, [[{ path: 'doomed.txt', content: randomBytes(64).toString('hex') }]]);
    src.tag(doomed.descriptor, 'doomed');
    amd64 = await src.addImage({ os: 'linux', architecture: 'amd64' }, [
      [{ path: 'arch', content: 'amd64\n' }],
      [{ path: 'bin/tool', content: randomBytes(50_000), mode: 0o755 }],
    ]);
    arm64 = await src.addImage({ os: 'linux', architecture: 'arm64', variant: 'v8' }, [
      [{ path: 'arch', content: 'arm64\n' }],
      [{ path: 'bin/tool', content: randomBytes(50_000), mode: 0o755 }],
    ]);
    index = await src.addIndex([amd64, arm64]);
    src.tag(index.descriptor, 'multi-arch');
    await src.save();
  });

  after(async () => {
    await registry?.close();
    if (work) await rm(work, { recursive: true, force: true });
  });

  test('multi-layer OCI image: push, pull back, every blob and the manifest byte-identical', async () => {
    await push('multi-layer', 'e2e/image:v1', '--preserve-digests');

    // The registry holds exactly what the layout holds.
    const res = await fetch(`${registry.url}/v2/e2e/image/manifests/v1`, { headers: { Accept: OCI_MANIFEST } });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), OCI_MANIFEST);
    assert.equal(res.headers.get('docker-content-digest'), image.descriptor.digest);
    assert.ok(Buffer.from(await res.arrayBuffer()).equals(image.manifest), 'stored manifest is the pushed bytes');
    await assertServed('e2e/image', image.configDigest, image.config);
    for (const layer of image.layers) await assertServed('e2e/image', layer.digest, layer.gz);

    const out = join(work, 'pulled-image');
    await pull('e2e/image:v1', out, 'v1', '--preserve-digests');
    const pulled = await readLayout(out);
    const ref = resolveTag(pulled, 'v1');
    assert.equal(ref.digest, image.descriptor.digest, 'digest preserved through push and pull');
    assert.equal(ref.mediaType, OCI_MANIFEST);
    const expected = [image.descriptor.digest, image.configDigest, ...image.layers.map((l) => l.digest)].sort();
    assert.deepEqual(reachableBlobs(pulled.blobs, ref.digest), expected);
    assert.ok(pulled.blobs.get(image.descriptor.digest)!.equals(image.manifest));
    assert.ok(pulled.blobs.get(image.configDigest)!.equals(image.config));
    for (const layer of image.layers) assert.ok(pulled.blobs.get(layer.digest)!.equals(layer.gz), `layer ${layer.digest} byte-identical`);
  });

  test('skopeo inspect: --raw is the pushed manifest; the parsed view shows the config and layers', async () => {
    const raw = await skopeo('inspect', '--tls-verify=false', '--raw', `docker://${registry.host}/e2e/image:v1`);
    assert.equal(raw.stdout.trim(), image.manifest.toString('utf8'));
    const parsed = JSON.parse((await skopeo('inspect', '--tls-verify=false', `docker://${registry.host}/e2e/image:v1`)).stdout) as {
      Digest: string;
      Architecture: string;
      Os: string;
      Layers: string[];
    };
    assert.equal(parsed.Digest, image.descriptor.digest);
    assert.equal(parsed.Architecture, 'amd64');
    assert.equal(parsed.Os, 'linux');
    assert.deepEqual(parsed.Layers, image.layers.map((l) => l.digest));
  });

  test('skopeo list-tags lists every pushed tag', async () => {
    await push('multi-layer', 'e2e/image:v2');
    await push('multi-layer', 'e2e/image:latest');
    await push('doomed', 'e2e/image:doomed', '--preserve-digests');
    const { stdout } = await skopeo('list-tags', '--tls-verify=false', `docker://${registry.host}/e2e/image`);
    const listed = JSON.parse(stdout) as { Repository: string; Tags: string[] };
    assert.equal(listed.Repository, `${registry.host}/e2e/image`);
    assert.deepEqual([...listed.Tags].sort(), ['doomed', 'latest', 'v1', 'v2']);
  });

  test('skopeo delete removes the manifest: tag and digest answer 404, other tags stay', async () => {
    const before = await fetch(`${registry.url}/v2/e2e/image/manifests/doomed`, { method: 'HEAD', headers: { Accept: OCI_MANIFEST } });
    assert.equal(before.status, 200);
    await skopeo('delete', '--tls-verify=false', `docker://${registry.host}/e2e/image:doomed`);
    const byTag = await fetch(`${registry.url}/v2/e2e/image/manifests/doomed`, { headers: { Accept: OCI_MANIFEST } });
    assert.equal(byTag.status, 404);
    const body = (await byTag.json()) as { errors: { code: string }[] };
    assert.equal(body.errors[0]?.code, 'MANIFEST_UNKNOWN');
    const byDigest = await fetch(`${registry.url}/v2/e2e/image/manifests/${doomed.descriptor.digest}`, { headers: { Accept: OCI_MANIFEST } });
    assert.equal(byDigest.status, 404);
    await assert.rejects(skopeo('inspect', '--tls-verify=false', '--raw', `docker://${registry.host}/e2e/image:doomed`));
    const { stdout } = await skopeo('list-tags', '--tls-verify=false', `docker://${registry.host}/e2e/image`);
    assert.deepEqual((JSON.parse(stdout) as { Tags: string[] }).Tags.sort(), ['latest', 'v1', 'v2']);
    const kept = await fetch(`${registry.url}/v2/e2e/image/manifests/v1`, { method: 'HEAD', headers: { Accept: OCI_MANIFEST } });
    assert.equal(kept.status, 200);
  });

  test('multi-arch OCI index: push --all, pull --all, index, both images and all blobs byte-identical', async () => {
    await push('multi-arch', 'e2e/multi:1.0', '--all', '--preserve-digests');
    const raw = await skopeo('inspect', '--tls-verify=false', '--raw', `docker://${registry.host}/e2e/multi:1.0`);
    assert.equal(raw.stdout.trim(), index.index.toString('utf8'));
    const res = await fetch(`${registry.url}/v2/e2e/multi/manifests/1.0`, { headers: { Accept: OCI_INDEX } });
    assert.equal(res.headers.get('content-type'), OCI_INDEX);
    assert.equal(res.headers.get('docker-content-digest'), index.descriptor.digest);

    const out = join(work, 'pulled-multi');
    await pull('e2e/multi:1.0', out, '1.0', '--all', '--preserve-digests');
    const pulled = await readLayout(out);
    const ref = resolveTag(pulled, '1.0');
    assert.equal(ref.digest, index.descriptor.digest);
    assert.equal(ref.mediaType, OCI_INDEX);
    const expected = new Set([index.descriptor.digest]);
    for (const img of [amd64, arm64]) {
      expected.add(img.descriptor.digest);
      expected.add(img.configDigest);
      for (const l of img.layers) expected.add(l.digest);
    }
    assert.deepEqual(reachableBlobs(pulled.blobs, ref.digest), [...expected].sort());
    assert.ok(pulled.blobs.get(index.descriptor.digest)!.equals(index.index));
    for (const img of [amd64, arm64]) {
      assert.ok(pulled.blobs.get(img.descriptor.digest)!.equals(img.manifest));
      assert.ok(pulled.blobs.get(img.configDigest)!.equals(img.config));
      for (const l of img.layers) assert.ok(pulled.blobs.get(l.digest)!.equals(l.gz));
    }
  });

  test('multi-arch index: a single-platform pull picks that platform\'s manifest', async () => {
    const out = join(work, 'pulled-arm64');
    await pull('e2e/multi:1.0', out, 'arm', '--override-arch', 'arm64', '--override-variant', 'v8', '--preserve-digests');
    const pulled = await readLayout(out);
    assert.equal(resolveTag(pulled, 'arm').digest, arm64.descriptor.digest);
    for (const l of arm64.layers) assert.ok(pulled.blobs.get(l.digest)!.equals(l.gz));
    assert.equal(pulled.blobs.has(amd64.layers[1]!.digest), false, 'the amd64 layers were not pulled');
  });

  test('Docker schema2 push (--format v2s2): stored with the Docker media type, same blobs', async () => {
    await push('multi-layer', 'e2e/docker:v2s2', '--format', 'v2s2');
    const res = await fetch(`${registry.url}/v2/e2e/docker/manifests/v2s2`, { headers: { Accept: `${DOCKER_V2}, ${OCI_MANIFEST}` } });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), DOCKER_V2);
    const body = Buffer.from(await res.arrayBuffer());
    assert.equal(res.headers.get('docker-content-digest'), sha256(body));
    const manifest = JSON.parse(body.toString('utf8')) as { mediaType: string; config: Descriptor; layers: Descriptor[] };
    assert.equal(manifest.mediaType, DOCKER_V2);
    assert.equal(manifest.config.mediaType, DOCKER_CONFIG);
    assert.equal(manifest.config.digest, image.configDigest);
    assert.deepEqual(
      manifest.layers.map((l) => [l.mediaType, l.digest]),
      image.layers.map((l) => [DOCKER_LAYER_GZIP, l.digest]),
    );
    for (const l of image.layers) await assertServed('e2e/docker', l.digest, l.gz);
    const raw = await skopeo('inspect', '--tls-verify=false', '--raw', `docker://${registry.host}/e2e/docker:v2s2`);
    assert.ok(Buffer.from(raw.stdout.trim()).equals(body));

    // And it pulls back (as a Docker image) through skopeo with its digest intact.
    const out = join(work, 'pulled-v2s2');
    await skopeo('copy', '--retry-times', '0', '--src-tls-verify=false', '--preserve-digests', `docker://${registry.host}/e2e/docker:v2s2`, `dir:${out}`);
    const pulledManifest = await readFile(join(out, 'manifest.json'));
    assert.ok(pulledManifest.equals(body));
    for (const l of image.layers) assert.ok((await readFile(join(out, l.digest.slice('sha256:'.length)))).equals(l.gz));
  });
});
