// containerd's ctr against the registry. A containerd of our own runs with its root, state and
// socket in a temp dir (CRI and the /opt plugin off); it is stopped by PID afterwards.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { open, readFile, rm, writeFile } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { create as createTar } from 'tar';
import { makeTempDir, startRegistry, type TestRegistry } from '../helpers/registry.js';
import { hasCommand, run } from '../helpers/exec.js';
import { OCI_INDEX, OCI_MANIFEST, OciLayout, sha256, type BuiltImage, type Descriptor } from '../helpers/oci-layout.js';

const TIMEOUT = 60_000;
const installed = (await hasCommand('containerd')) && (await hasCommand('ctr'));

describe('containerd (ctr)', { skip: installed ? false : 'containerd/ctr are not installed (scripts/install-test-deps.sh installs them)', timeout: 300_000 }, () => {
  let registry: TestRegistry;
  let work: string;
  let socket: string;
  let daemon: ChildProcess | undefined;
  let daemonExited: Promise<void> | undefined;
  let layout: OciLayout;
  let amd64: BuiltImage;
  let arm64: BuiltImage;
  let index: { index: Buffer; descriptor: Descriptor };

  const ctr = (...args: string[]) => run('ctr', ['--address', socket, '--namespace', 'e2e', ...args], { timeoutMs: TIMEOUT });

  async function daemonLog(): Promise<string> {
    return (await readFile(join(work, 'containerd.log'), 'utf8').catch(() => '')).slice(-3000);
  }

  before(async () => {
    registry = await startRegistry();
    work = await makeTempDir('registry-e2e-containerd-');
    socket = join(work, 'containerd.sock');
    const config = join(work, 'config.toml');
    await writeFile(
      config,
      [
        'version = 2',
        `root = "${work}/root"`,
        `state = "${work}/state"`,
        'disabled_plugins = ["io.containerd.grpc.v1.cri", "io.containerd.internal.v1.opt", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.aufs", "io.containerd.tracing.processor.v1.otlp"]',
        '[grpc]',
        `  address = "${socket}"`,
        '[ttrpc]',
        `  address = "${socket}.ttrpc"`,
        '[debug]',
        '  address = ""',
        '[metrics]',
        '  address = ""',
        '',
      ].join('\n'),
    );
    const log = await open(join(work, 'containerd.log'), 'w');
    daemon = spawn('containerd', ['--config', config], { stdio: ['ignore', log.fd, log.fd] });
    const child = daemon;
    daemonExited = new Promise((res) => child.once('exit', () => res()));
    await log.close();
    // Up when ctr gets an answer; bounded.
    let up = false;
    for (let i = 0; i < 100 && !up && child.exitCode === null; i++) {
      up = await run('ctr', ['--address', socket, 'version'], { timeoutMs: 5_000 }).then(
        () => true,
        () => false,
      );
      if (!up) await sleep(100);
    }
    if (!up) throw new Error(`containerd did not start:\n${await daemonLog()}`);

    layout = await OciLayout.create(join(work, 'layout'));
    amd64 = await layout.addImage({ os: 'linux', architecture: 'amd64' }, [
      [{ path: 'etc/arch', content: 'amd64\n' }],
      [{ path: 'opt/data.bin', content: randomBytes(600_000) }],
    ]);
    arm64 = await layout.addImage({ os: 'linux', architecture: 'arm64' }, [
      [{ path: 'etc/arch', content: 'arm64\n' }],
      [{ path: 'opt/data.bin', content: randomBytes(300_000) }],
    ]);
    index = await layout.addIndex([amd64, arm64]);
    layout.tag(index.descriptor, 'multi');
    await layout.save();
  });

  after(async () => {
    if (daemon && daemon.exitCode === null && daemon.signalCode === null) {
      daemon.kill('SIGTERM');
      const stopped = await Promise.race([daemonExited!.then(() => true), sleep(10_000, undefined, { ref: false }).then(() => false)]);
      if (!stopped) {
        daemon.kill('SIGKILL');
        await daemonExited;
      }
    }
    await registry?.close();
    if (work) await rm(work, { recursive: true, force: true });
  });

  test('ctr: import a multi-arch layout, push with --plain-http, remove, pull back; every blob identical', async () => {
    const archive = join(work, 'layout.tar');
    await createTar({ file: archive, cwd: layout.dir, portable: true }, ['oci-layout', 'index.json', 'blobs']);
    const base = `${registry.host}/e2e/containerd`;
    await ctr('images', 'import', '--all-platforms', '--no-unpack', '--base-name', base, archive);
    const ref = `${base}:multi`;

    await ctr('images', 'push', '--plain-http', ref);
    const res = await fetch(`${registry.url}/v2/e2e/containerd/manifests/multi`, { headers: { Accept: OCI_INDEX } });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), OCI_INDEX);
    assert.ok(Buffer.from(await res.arrayBuffer()).equals(index.index), 'the index ctr pushed is the original');
    const all = new Map<string, Buffer>([[index.descriptor.digest, index.index]]);
    for (const img of [amd64, arm64]) {
      all.set(img.descriptor.digest, img.manifest);
      all.set(img.configDigest, img.config);
      for (const l of img.layers) all.set(l.digest, l.gz);
      const m = await fetch(`${registry.url}/v2/e2e/containerd/manifests/${img.descriptor.digest}`, { headers: { Accept: OCI_MANIFEST } });
      assert.equal(m.status, 200);
      assert.ok(Buffer.from(await m.arrayBuffer()).equals(img.manifest));
      for (const d of [img.configDigest, ...img.layers.map((l) => l.digest)]) {
        const b = await fetch(`${registry.url}/v2/e2e/containerd/blobs/${d}`);
        assert.equal(b.status, 200);
        assert.ok(Buffer.from(await b.arrayBuffer()).equals(all.get(d)!), `blob ${d} stored byte-identical`);
      }
    }

    // Forget everything locally (the garbage collector drops the content), then pull.
    await ctr('images', 'rm', '--sync', ref);
    const { stdout: left } = await ctr('content', 'ls', '--quiet');
    assert.deepEqual(left.split('\n').filter(Boolean), [], 'content store is empty before the pull');
    await ctr('images', 'pull', '--plain-http', '--all-platforms', '--snapshotter', 'native', ref);
    const { stdout: images } = await ctr('images', 'ls');
    const line = images.split('\n').find((l) => l.startsWith(`${ref} `));
    assert.ok(line, `pulled image is listed:\n${images}`);
    assert.ok(line.includes(index.descriptor.digest), 'pulled under the original index digest');
    const { stdout: content } = await ctr('content', 'ls', '--quiet');
    assert.deepEqual(content.split('\n').filter(Boolean).sort(), [...all.keys()].sort());
    for (const [digest, bytes] of all) {
      const got = join(work, 'got');
      const { stdout } = await run('sh', ['-c', 'ctr --address "$1" --namespace e2e content get "$2" > "$3"', 'sh', socket, digest, got], { timeoutMs: TIMEOUT });
      assert.equal(stdout, '');
      const data = await readFile(got);
      assert.equal(sha256(data), digest);
      assert.ok(data.equals(bytes), `blob ${digest} pulled byte-identical`);
    }
  });
});
