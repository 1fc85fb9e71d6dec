// podman and buildah against the registry, with storage (vfs), registries.conf and
// containers.conf all in a temp dir so nothing of the machine's own container state is used.
// `podman run` is not possible here; images are imported from an OCI layout or built with
// `buildah from scratch`, pushed, removed, pulled back, and compared.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { gunzipSync } from 'node:zlib';
import { startRegistry, type TestRegistry } from '../helpers/registry.js';
import { hasCommand, run } from '../helpers/exec.js';
import { OciLayout, sha256, type BuiltImage, type Descriptor } from '../helpers/oci-layout.js';
import { makePodmanSandbox } from '../helpers/podman.js';

const TIMEOUT = 120_000;
const podmanInstalled = await hasCommand('podman');
const buildahInstalled = await hasCommand('buildah');

interface Manifest {
  mediaType?: string;
  config: Descriptor;
  layers: Descriptor[];
}

describe('podman and buildah', { skip: podmanInstalled ? false : 'podman is not installed (scripts/install-test-deps.sh installs it)', timeout: 600_000 }, () => {
  let registry: TestRegistry;
  let work: string;
  let env: Record<string, string>;
  let layout: OciLayout;
  let image: BuiltImage;

  const podman = (...args: string[]) => run('podman', args, { timeoutMs: TIMEOUT, env });
  const buildah = (...args: string[]) => run('buildah', args, { timeoutMs: TIMEOUT, env });

  async function imageIds(): Promise<string[]> {
    const { stdout } = await podman('images', '--all', '--noheading', '--no-trunc', '--format', '{{.ID}}');
    return stdout
      .split('\n')
      .map((s) => s.trim().replace(/^sha256:/, ''))
      .filter(Boolean);
  }

  /** The manifest the registry holds for `ref` (repo:tag), with its digest; every blob it names checked. */
  async function registryImage(repo: string, tag: string): Promise<{ digest: string; manifest: Manifest; config: Buffer; diffIds: string[] }> {
    const res = await fetch(`${registry.url}/v2/${repo}/manifests/${tag}`, {
      headers: { Accept: 'application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json' },
    });
    assert.equal(res.status, 200, `manifest ${repo}:${tag}`);
    const body = Buffer.from(await res.arrayBuffer());
    const digest = res.headers.get('docker-content-digest')!;
    assert.equal(sha256(body), digest);
    const manifest = JSON.parse(body.toString('utf8')) as Manifest;
    const fetchBlob = async (d: string): Promise<Buffer> => {
      const r = await fetch(`${registry.url}/v2/${repo}/blobs/${d}`);
      assert.equal(r.status, 200, `blob ${d}`);
      const b = Buffer.from(await r.arrayBuffer());
      assert.equal(sha256(b), d, `blob ${d} matches its digest`);
      return b;
    };
    const config = await fetchBlob(manifest.config.digest);
    const diffIds: string[] = [];
    for (const l of manifest.layers) {
      const gz = await fetchBlob(l.digest);
      diffIds.push(sha256(gunzipSync(gz)));
    }
    return { digest, manifest, config, diffIds };
  }

  before(async () => {
    registry = await startRegistry();
    ({ work, env } = await makePodmanSandbox('podman', registry.host));

    layout = await OciLayout.create(join(work, 'layout'));
    image = await layout.addImage({ os: 'linux', architecture: 'amd64' }, [
      [
        { path: 'etc/os-release', content: 'ID=e2e\n' },
        { path: 'bin/hello', content: '#!/bin/sh\necho hello\n', mode: 0o755 },
      ],
      [{ path: 'data/blob.bin', content: randomBytes(1024 * 1024) }],
      [{ path: 'etc/motd', content: 'pushed by podman\n' }],
    ]);
    layout.tag(image.descriptor, 'src');
    await layout.save();
  });

  after(async () => {
    await registry?.close();
    // vfs keeps layers as plain directories (no mounts), so removing the temp dir removes it all.
    if (work) await rm(work, { recursive: true, force: true });
  });

  test('podman: import an OCI layout, push, rmi, pull; image id and digest survive', async () => {
    await podman('pull', '--quiet', '--signature-policy', join(work, 'policy.json'), `oci:${layout.dir}:src`);
    // The image id is the config digest.
    const configHex = image.configDigest.slice('sha256:'.length);
    assert.deepEqual(await imageIds(), [configHex]);

    const ref = `${registry.host}/e2e/podman:v1`;
    await podman('tag', configHex, ref);
    const digestFile = join(work, 'push.digest');
    await podman('push', '--quiet', '--tls-verify=false', '--signature-policy', join(work, 'policy.json'), '--digestfile', digestFile, ref);
    const pushedDigest = (await readFile(digestFile, 'utf8')).trim();
    assert.match(pushedDigest, /^sha256:[0-9a-f]{64}$/);

    // What the registry holds: the manifest podman pushed, the same config bytes, the same layer contents.
    const stored = await registryImage('e2e/podman', 'v1');
    assert.equal(stored.digest, pushedDigest);
    assert.ok(stored.config.equals(image.config), 'config blob pushed unchanged');
    assert.deepEqual(stored.diffIds, image.layers.map((l) => l.diffId), 'layers decompress to the original tars');

    await podman('rmi', '--force', '--all');
    assert.deepEqual(await imageIds(), []);

    await podman('pull', '--quiet', '--tls-verify=false', '--signature-policy', join(work, 'policy.json'), ref);
    assert.deepEqual(await imageIds(), [configHex], 'pulled image has the original id');
    const { stdout } = await podman('image', 'inspect', '--format', '{{.Digest}}|{{json .RepoDigests}}|{{json .RootFS.Layers}}', ref);
    const [digest, repoDigests, layers] = stdout.trim().split('|');
    assert.equal(digest, pushedDigest);
    assert.ok((JSON.parse(repoDigests!) as string[]).includes(`${registry.host}/e2e/podman@${pushedDigest}`));
    assert.deepEqual(JSON.parse(layers!), image.layers.map((l) => l.diffId));

    // Pull by digest too.
    await podman('rmi', '--force', '--all');
    await podman('pull', '--quiet', '--tls-verify=false', '--signature-policy', join(work, 'policy.json'), `${registry.host}/e2e/podman@${pushedDigest}`);
    assert.deepEqual(await imageIds(), [configHex]);
    await podman('rmi', '--force', '--all');
  });

  test('buildah: build from scratch, commit, push; podman pulls it back with its contents', { skip: buildahInstalled ? false : 'buildah is not installed' }, async () => {
    const files = join(work, 'ctx');
    await mkdir(join(files, 'sub'), { recursive: true });
    const payload = randomBytes(200_000);
    await writeFile(join(files, 'payload.bin'), payload);
    await writeFile(join(files, 'sub', 'note.txt'), 'built by buildah\n');

    const { stdout: ctr } = await buildah('from', '--signature-policy', join(work, 'policy.json'), 'scratch');
    const container = ctr.trim();
    await buildah('copy', container, join(files, 'payload.bin'), '/payload.bin');
    await buildah('copy', container, join(files, 'sub'), '/sub');
    await buildah('config', '--os', 'linux', '--arch', 'amd64', '--cmd', '/payload.bin', container);
    const ref = `${registry.host}/e2e/buildah:v1`;
    const { stdout: committed } = await buildah('commit', '--quiet', '--format', 'docker', container, ref);
    const imageId = committed.trim().replace(/^sha256:/, '');
    await buildah('rm', container);
    const digestFile = join(work, 'buildah.digest');
    await buildah('push', '--quiet', '--tls-verify=false', '--signature-policy', join(work, 'policy.json'), '--digestfile', digestFile, ref);
    const pushedDigest = (await readFile(digestFile, 'utf8')).trim();

    const stored = await registryImage('e2e/buildah', 'v1');
    assert.equal(stored.digest, pushedDigest);
    assert.equal(stored.manifest.mediaType, 'application/vnd.docker.distribution.manifest.v2+json');
    assert.equal(sha256(stored.config).slice('sha256:'.length), imageId, 'config digest is the image id');
    const config = JSON.parse(stored.config.toString('utf8')) as { rootfs: { diff_ids: string[] }; config: { Cmd: string[] } };
    assert.deepEqual(stored.diffIds, config.rootfs.diff_ids);
    assert.deepEqual(config.config.Cmd, ['/payload.bin']);

    await podman('rmi', '--force', '--all');
    assert.deepEqual(await imageIds(), []);
    await podman('pull', '--quiet', '--tls-verify=false', '--signature-policy', join(work, 'policy.json'), ref);
    assert.deepEqual(await imageIds(), [imageId]);
    const { stdout } = await podman('image', 'inspect', '--format', '{{.Digest}}', ref);
    assert.equal(stdout.trim(), pushedDigest);

    // The pulled image's files: mount it and read them back.
    const { stdout: mountpoint } = await podman('image', 'mount', ref);
    try {
      assert.ok((await readFile(join(mountpoint.trim(), 'payload.bin'))).equals(payload));
      assert.equal(await readFile(join(mountpoint.trim(), 'sub', 'note.txt'), 'utf8'), 'built by buildah\n');
    } finally {
      await podman('image', 'unmount', ref);
    }
    await podman('rmi', '--force', '--all');
  });
});
