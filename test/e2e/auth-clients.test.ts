// Real clients against a registry with access control on, through the token flow: skopeo with
// user and robot credentials (push and pull of an image built as an OCI layout), without
// credentials (refused in a private namespace, anonymous pull of a public one), and podman
// login + push + pull with its auth file in a temp dir. The audit log names the right actor.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { makeTempDir, startRegistry, type TestRegistry } from '../helpers/registry.js';
import { hasCommand, run } from '../helpers/exec.js';
import { OCI_MANIFEST, OciLayout, readLayout, resolveTag, type BuiltImage } from '../helpers/oci-layout.js';
import { ADMIN, addNamespace, addRobot, addUser, authSettings, basicAuth, eventually, type Credentials } from '../helpers/auth.js';
import type { AuditEvent } from '../../src/auth/model.js';
import { makePodmanSandbox } from '../helpers/podman.js';

const TIMEOUT = 90_000;
const skopeoInstalled = await hasCommand('skopeo');
const podmanInstalled = await hasCommand('podman');

/** The manifest bytes the registry holds (read as the admin), or the status when it has none. */
async function storedManifest(registry: TestRegistry, repo: string, tag: string): Promise<Buffer | number> {
  const res = await fetch(`${registry.url}/v2/${repo}/manifests/${tag}`, {
    headers: { ...basicAuth(ADMIN), Accept: `${OCI_MANIFEST}, application/vnd.docker.distribution.manifest.v2+json` },
  });
  return res.status === 200 ? Buffer.from(await res.arrayBuffer()) : res.status;
}

/** Wait for an audit event (pushes are written just after the response, pulls in batches). */
async function audited(registry: TestRegistry, want: Partial<AuditEvent> & { action: string }): Promise<AuditEvent> {
  let found: AuditEvent | undefined;
  await eventually(async () => {
    await registry.app.auditor.flush();
    const events = await registry.app.access.queryAudit({ action: want.action, limit: 1000 });
    found = events.find((e) => Object.entries(want).every(([k, v]) => e[k as keyof AuditEvent] === v));
    return found !== undefined;
  }, `audit event ${JSON.stringify(want)}`);
  return found!;
}

const creds = (c: Credentials) => `${c.username}:${c.password}`;

describe('skopeo with credentials', { skip: skopeoInstalled ? false : 'skopeo is not installed (scripts/install-test-deps.sh installs it)', timeout: 300_000 }, () => {
  let registry: TestRegistry;
  let work: string;
  let env: Record<string, string>;
  let layout: OciLayout;
  let image: BuiltImage;
  let other: BuiltImage;
  let dev: Credentials;
  let reader: Credentials;
  let robot: Credentials;

  const skopeo = (...args: string[]) => run('skopeo', ['--insecure-policy', ...args], { timeoutMs: TIMEOUT, env });
  const push = (tag: string, dest: string, ...flags: string[]) =>
    skopeo('copy', '--retry-times', '0', '--dest-tls-verify=false', '--preserve-digests', ...flags, `oci:${layout.dir}:${tag}`, `docker://${registry.host}/${dest}`);
  const pull = (ref: string, outDir: string, ...flags: string[]) =>
    skopeo('copy', '--retry-times', '0', '--src-tls-verify=false', '--preserve-digests', ...flags, `docker://${registry.host}/${ref}`, `oci:${outDir}:pulled`);

  /** Pull `ref` into a fresh layout and return the digest of what arrived. */
  async function pulledDigest(ref: string, ...flags: string[]): Promise<string> {
    const out = join(work, `pulled-${randomBytes(4).toString('hex')}`);
    await pull(ref, out, ...flags);
    return resolveTag(await readLayout(out), 'pulled').digest;
  }

  before(async () => {
    registry = await startRegistry(authSettings());
    dev = await addUser(registry.app, 'dev', 'dev-password-1');
    reader = await addUser(registry.app, 'viewer', 'viewer-password-1');
    await addNamespace(registry.app, 'team', 'private', { dev: 'developer', viewer: 'reader' });
    await addNamespace(registry.app, 'pub', 'public', { dev: 'developer' });
    robot = await addRobot(registry.app, 'robot$team+ci', 'team', ['pull', 'push'], 'ci-robot-secret-1');

    work = await makeTempDir('registry-e2e-auth-');
    // Keep skopeo off the machine's credentials and caches.
    const auth = join(work, 'auth.json');
    await writeFile(auth, JSON.stringify({ auths: {} }));
    env = { REGISTRY_AUTH_FILE: auth, XDG_RUNTIME_DIR: work, HOME: work, TMPDIR: work };

    layout = await OciLayout.create(join(work, 'src'));
    image = await layout.addImage({ os: 'linux', architecture: 'amd64' }, [
      [{ path: 'etc/os-release', content: 'ID=auth-e2e\n' }],
      [{ path: 'data/blob.bin', content: randomBytes(200_000) }],
    ]);
    layout.tag(image.descriptor, 'image');
    other = await layout.addImage({ os: 'linux', architecture: 'amd64' }, [[{ path: 'robot.txt', content: randomBytes(64).toString('hex') }]]);
    layout.tag(other.descriptor, 'other');
    await layout.save();
  });

  after(async () => {
    await registry?.close();
    if (work) await rm(work, { recursive: true, force: true });
  });

  test('user credentials: --dest-creds pushes, --src-creds pulls, byte-identical', async () => {
    await push('image', 'team/app:v1', '--dest-creds', creds(dev));
    const stored = await storedManifest(registry, 'team/app', 'v1');
    assert.ok(Buffer.isBuffer(stored) && stored.equals(image.manifest), 'the registry holds the pushed manifest');
    assert.equal(await pulledDigest('team/app:v1', '--src-creds', creds(dev)), image.descriptor.digest);
    // A reader pulls too.
    assert.equal(await pulledDigest('team/app:v1', '--src-creds', creds(reader)), image.descriptor.digest);

    const pushed = await audited(registry, { action: 'push', actor: 'dev', repository: 'team/app', reference: 'v1' });
    assert.equal(pushed.digest, image.descriptor.digest);
    assert.equal(pushed.source, '127.0.0.1');
    await audited(registry, { action: 'pull', actor: 'dev', repository: 'team/app', digest: image.descriptor.digest });
    await audited(registry, { action: 'pull', actor: 'viewer', repository: 'team/app', digest: image.descriptor.digest });
  });

  test('robot credentials push and pull in the robot namespace', async () => {
    await push('other', 'team/robot:v1', '--dest-creds', creds(robot));
    const stored = await storedManifest(registry, 'team/robot', 'v1');
    assert.ok(Buffer.isBuffer(stored) && stored.equals(other.manifest));
    assert.equal(await pulledDigest('team/robot:v1', '--src-creds', creds(robot)), other.descriptor.digest);
    const pushed = await audited(registry, { action: 'push', actor: 'robot$team+ci', repository: 'team/robot', reference: 'v1' });
    assert.equal(pushed.digest, other.descriptor.digest);
    await audited(registry, { action: 'pull', actor: 'robot$team+ci', repository: 'team/robot', digest: other.descriptor.digest });
    // Outside its namespace it may do nothing.
    await assert.rejects(push('other', 'pub/robot:v1', '--dest-creds', creds(robot)));
    assert.equal(await storedManifest(registry, 'pub/robot', 'v1'), 404);
  });

  test('without credentials a private namespace is closed; with a reader\'s, it is read-only', async () => {
    await assert.rejects(push('other', 'team/app:anonymous'), /unauthorized|authentication required|denied/i);
    await assert.rejects(pulledDigest('team/app:v1'), /unauthorized|authentication required|denied/i);
    await assert.rejects(push('other', 'team/app:by-reader', '--dest-creds', creds(reader)), /unauthorized|authentication required|denied/i);
    // (Wrong passwords are tested in test/http/auth-tokens.test.ts, from addresses of their own:
    // with Redis, failure counters of 127.0.0.1 are shared by every registry of a test run.)
    for (const tag of ['anonymous', 'by-reader']) assert.equal(await storedManifest(registry, 'team/app', tag), 404);
  });

  test('anonymous pull from a public namespace; anonymous push there refused', async () => {
    await push('image', 'pub/app:v1', '--dest-creds', creds(dev));
    assert.equal(await pulledDigest('pub/app:v1'), image.descriptor.digest);
    await audited(registry, { action: 'pull', actor: 'anonymous', repository: 'pub/app', digest: image.descriptor.digest });
    await assert.rejects(push('other', 'pub/app:anonymous'), /unauthorized|authentication required|denied/i);
    assert.equal(await storedManifest(registry, 'pub/app', 'anonymous'), 404);
  });
});

describe('podman login, push and pull', { skip: podmanInstalled ? false : 'podman is not installed (scripts/install-test-deps.sh installs it)', timeout: 300_000 }, () => {
  let registry: TestRegistry;
  let work: string;
  let env: Record<string, string>;
  let layout: OciLayout;
  let image: BuiltImage;
  let dev: Credentials;
  let policy: string;

  const podman = (...args: string[]) => run('podman', args, { timeoutMs: TIMEOUT, env });

  before(async () => {
    registry = await startRegistry(authSettings());
    dev = await addUser(registry.app, 'podder', 'podder-password-1');
    await addNamespace(registry.app, 'team', 'private', { podder: 'developer' });

    ({ work, env, policy } = await makePodmanSandbox('podman-auth', registry.host));

    layout = await OciLayout.create(join(work, 'layout'));
    image = await layout.addImage({ os: 'linux', architecture: 'amd64' }, [[{ path: 'etc/motd', content: 'pushed by podman with credentials\n' }]]);
    layout.tag(image.descriptor, 'src');
    await layout.save();
  });

  after(async () => {
    await registry?.close();
    if (work) await rm(work, { recursive: true, force: true });
  });

  test('login stores credentials in the auth file; push and pull use them; logout closes the door', async () => {
    const ref = `${registry.host}/team/podman:v1`;
    const configHex = image.configDigest.slice('sha256:'.length);
    await podman('pull', '--quiet', '--signature-policy', policy, `oci:${layout.dir}:src`);
    await podman('tag', configHex, ref);

    // Before login: refused.
    await assert.rejects(podman('push', '--quiet', '--tls-verify=false', '--signature-policy', policy, ref), /unauthorized|authentication required|denied/i);
    await podman('login', '--tls-verify=false', '--username', dev.username, '--password', dev.password, registry.host);
    const authFile = JSON.parse(await readFile(env['REGISTRY_AUTH_FILE']!, 'utf8')) as { auths: Record<string, unknown> };
    assert.ok(authFile.auths[registry.host], 'podman stored the credentials in the temp auth file');

    const digestFile = join(work, 'push.digest');
    await podman('push', '--quiet', '--tls-verify=false', '--signature-policy', policy, '--digestfile', digestFile, ref);
    const pushedDigest = (await readFile(digestFile, 'utf8')).trim();
    assert.match(pushedDigest, /^sha256:[0-9a-f]{64}$/);
    const pushed = await audited(registry, { action: 'push', actor: 'podder', repository: 'team/podman', reference: 'v1' });
    assert.equal(pushed.digest, pushedDigest);

    await podman('rmi', '--force', '--all');
    await podman('pull', '--quiet', '--tls-verify=false', '--signature-policy', policy, ref);
    const { stdout } = await podman('image', 'inspect', '--format', '{{.Digest}}', ref);
    assert.equal(stdout.trim(), pushedDigest);
    await audited(registry, { action: 'pull', actor: 'podder', repository: 'team/podman', digest: pushedDigest });

    await podman('logout', registry.host);
    await podman('rmi', '--force', '--all');
    await assert.rejects(podman('pull', '--quiet', '--tls-verify=false', '--signature-policy', policy, ref), /unauthorized|authentication required|denied/i);
  });
});
