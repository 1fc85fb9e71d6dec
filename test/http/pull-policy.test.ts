// Pull policies per namespace: the API (/api/v1/namespaces/{name}/pull-policy), and their
// enforcement on manifest GET and HEAD: unsigned images refused with 403 DENIED saying why,
// signed ones (at the image, or at an index listing it) served, signatures and other artifacts
// always served, administrators and `scan` robots exempt, images with findings at or above
// the threshold refused unless allow-listed; with access control off too; and through real
// skopeo pulls.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { makeTempDir, startRegistry, type TestRegistry } from '../helpers/registry.js';
import { ADMIN, api, auditEvents, basic, expect, startTeamRegistry, type Credentials } from '../helpers/api.js';
import { EMPTY_DESCRIPTOR, EMPTY_JSON, expectError, MediaType, pushBlob, pushImage, pushIndex, pushManifest, sha256, type PushedImage } from '../helpers/oci.js';
import { cosignPayload, cosignSign, ecKeyPair, type KeyPair } from '../helpers/signing.js';
import { hasCommand, run } from '../helpers/exec.js';
import { OciLayout, reachableBlobs, readLayout, resolveTag, type BuiltImage, type Descriptor } from '../helpers/oci-layout.js';
import type { Finding, FindingsSource } from '../../src/signing/pull-policy.js';
import { tokenFor } from '../helpers/auth.js';

const ACCEPT = [MediaType.OciManifest, MediaType.OciIndex, MediaType.DockerManifest, MediaType.DockerManifestList].join(', ');

/** Findings fixed by the test, per digest; digests not in the map are "not scanned yet". */
class FixedFindings implements FindingsSource {
  readonly byDigest = new Map<string, Finding[]>();
  /** Digests whose lookup fails (a scanner outage). */
  readonly failing = new Set<string>();
  async findingsOf(_repository: string, digest: string): Promise<Finding[] | undefined> {
    if (this.failing.has(digest)) throw new Error('scanner database at /var/lib/scanner is down');
    return this.byDigest.get(digest);
  }
}

function auth(c: Credentials | { bearer: string } | undefined): Record<string, string> {
  if (!c) return {};
  return { Authorization: 'bearer' in c ? `Bearer ${c.bearer}` : basic(c) };
}

function pull(reg: TestRegistry, repo: string, reference: string, as?: Credentials | { bearer: string }, method = 'GET'): Promise<Response> {
  return fetch(`${reg.url}/v2/${repo}/manifests/${reference}`, { method, headers: { Accept: ACCEPT, ...auth(as) } });
}

async function pullStatus(reg: TestRegistry, repo: string, reference: string, as?: Credentials | { bearer: string }): Promise<number> {
  const res = await pull(reg, repo, reference, as);
  await res.arrayBuffer();
  return res.status;
}

/** An index over two freshly pushed images, pushed under `tag`. */
async function pushMultiArch(reg: TestRegistry, repo: string, tag: string, headers: Record<string, string>) {
  const pushed = await pushIndex(reg.url, repo, tag, headers);
  return { index: pushed.digest, children: pushed.images.map((i) => i.digest) };
}

describe('pull policy API', () => {
  let reg: TestRegistry;
  let owner: Credentials;
  let reader: Credentials;
  let outsider: Credentials;
  before(async () => {
    ({ reg, owner, reader, outsider } = await startTeamRegistry());
  });
  after(async () => {
    await reg.close();
  });

  test('members read it (nothing required by default); owners and admins set it; changes are audited', async () => {
    const initial = expect(await api(reg, 'GET', '/namespaces/team/pull-policy', { as: reader }), 200);
    assert.deepEqual(initial.json, { namespace: 'team', requireSignature: false, blockSeverity: null, allowAdvisories: [], updatedBy: null, updatedAt: null });
    expect(await api(reg, 'GET', '/namespaces/team/pull-policy', { as: outsider }), 404, 'NAME_UNKNOWN');

    const body = { requireSignature: true, blockSeverity: 'HIGH', allowAdvisories: ['CVE-2024-1111', 'CVE-2024-1111'] };
    expect(await api(reg, 'PUT', '/namespaces/team/pull-policy', { as: reader, body }), 403, 'DENIED');
    expect(await api(reg, 'PUT', '/namespaces/team/pull-policy', { as: outsider, body }), 404, 'NAME_UNKNOWN');
    expect(await api(reg, 'PUT', '/namespaces/team/pull-policy', { as: owner, body: { blockSeverity: 'SEVERE' } }), 400, 'UNSUPPORTED');
    expect(await api(reg, 'PUT', '/namespaces/team/pull-policy', { as: owner, body: { requireSignature: 'yes' } }), 400, 'UNSUPPORTED');
    expect(await api(reg, 'PUT', '/namespaces/team/pull-policy', { as: owner, body: { requireSignatures: true } }), 400, 'UNSUPPORTED');

    const set = expect(await api(reg, 'PUT', '/namespaces/team/pull-policy', { as: owner, body }), 200);
    assert.equal(set.json.requireSignature, true);
    assert.equal(set.json.blockSeverity, 'HIGH');
    assert.deepEqual(set.json.allowAdvisories, ['CVE-2024-1111']);
    assert.equal(set.json.updatedBy, 'olivia');
    assert.deepEqual(expect(await api(reg, 'GET', '/namespaces/team/pull-policy', { as: reader }), 200).json, set.json);

    expect(await api(reg, 'PUT', '/namespaces/team/pull-policy', { as: ADMIN, body: { requireSignature: false } }), 200);
    const events = await auditEvents(reg, { action: 'pull-policy.set' });
    assert.equal(events.length, 2);
    const first = events.find((e) => e.actor === 'olivia')!;
    assert.deepEqual(first.detail, { namespace: 'team', requireSignature: true, blockSeverity: 'HIGH', allowAdvisories: ['CVE-2024-1111'], previous: null });
    const second = events.find((e) => e.actor === 'admin')!;
    assert.deepEqual(second.detail?.['previous'], { requireSignature: true, blockSeverity: 'HIGH', allowAdvisories: ['CVE-2024-1111'] });
    assert.equal(second.detail?.['blockSeverity'], null);
  });

  test('robots may be given the scan action (the scanner role); unknown actions are refused', async () => {
    const created = expect(await api(reg, 'POST', '/namespaces/team/robots', { as: owner, body: { name: 'scanner', actions: ['pull', 'scan'] } }), 201);
    assert.deepEqual(created.json.actions, ['pull', 'scan']);
    expect(await api(reg, 'POST', '/namespaces/team/robots', { as: owner, body: { name: 'odd', actions: ['pull', 'audit'] } }), 400, 'UNSUPPORTED');
  });
});

describe('pull policy enforcement (access control on)', () => {
  let reg: TestRegistry;
  let owner: Credentials;
  let reader: Credentials;
  let key: KeyPair;
  let scanner: Credentials;
  let puller: Credentials;
  const findings = new FixedFindings();
  const asOwner = () => auth(owner);

  before(async () => {
    ({ reg, owner, reader } = await startTeamRegistry({}, { findings }));
    key = ecKeyPair();
    expect(await api(reg, 'POST', '/namespaces/team/signing-keys', { as: owner, body: { name: 'release', publicKey: key.publicPem } }), 201);
    expect(await api(reg, 'PUT', '/namespaces/team/pull-policy', { as: owner, body: { requireSignature: true } }), 200);
    const s = expect(await api(reg, 'POST', '/namespaces/team/robots', { as: owner, body: { name: 'scanner', actions: ['pull', 'scan'] } }), 201);
    scanner = { username: s.json.name, password: s.json.secret };
    const p = expect(await api(reg, 'POST', '/namespaces/team/robots', { as: owner, body: { name: 'puller', actions: ['pull'] } }), 201);
    puller = { username: p.json.name, password: p.json.secret };
  });
  after(async () => {
    await reg.close();
  });

  test('an unsigned image is refused on GET and HEAD, by tag and by digest, saying why', async () => {
    const image = await pushImage(reg.url, 'team/app', { reference: 'unsigned', headers: asOwner() });
    for (const reference of ['unsigned', image.digest]) {
      const body = await expectError(await pull(reg, 'team/app', reference, reader), 403, 'DENIED');
      assert.equal(body.errors[0]!.message, `image team/app@${image.digest} has no valid signature (namespace team requires one)`);
      assert.deepEqual(body.errors[0]!.detail, { repository: 'team/app', digest: image.digest, namespace: 'team', requireSignature: true });
      const head = await pull(reg, 'team/app', reference, reader, 'HEAD');
      assert.equal(head.status, 403);
      assert.equal(head.headers.get('docker-content-digest'), null);
    }
    // The owner is not exempt either; a robot with pull only neither.
    assert.equal(await pullStatus(reg, 'team/app', 'unsigned', owner), 403);
    assert.equal(await pullStatus(reg, 'team/app', 'unsigned', puller), 403);
    // Blobs are not manifests: the policy is about which images get resolved.
    assert.equal((await fetch(`${reg.url}/v2/team/app/blobs/${image.layers[0]!.digest}`, { headers: auth(reader) })).status, 200);
  });

  test('a signed image is served at once (tag scheme and referrer), and its signature is always fetchable', async () => {
    const image = await pushImage(reg.url, 'team/app', { reference: 'v1', headers: asOwner() });
    assert.equal(await pullStatus(reg, 'team/app', 'v1', reader), 403);
    const sig = await cosignSign(reg.url, 'team/app', image.digest, key.privateKey, { headers: asOwner() });
    const res = await pull(reg, 'team/app', 'v1', reader);
    assert.equal(res.status, 200);
    assert.ok(Buffer.from(await res.arrayBuffer()).equals(image.bytes));
    assert.equal((await pull(reg, 'team/app', image.digest, reader, 'HEAD')).status, 200);
    // cosign fetches the signature by its tag, and the referrers by digest.
    assert.equal(await pullStatus(reg, 'team/app', `sha256-${image.digest.slice(7)}.sig`, reader), 200);
    assert.equal(await pullStatus(reg, 'team/app', sig, reader), 200);

    const other = await pushImage(reg.url, 'team/app', { headers: asOwner() });
    const referrer = await cosignSign(reg.url, 'team/app', other.digest, key.privateKey, { referrer: true, headers: asOwner() });
    assert.equal(await pullStatus(reg, 'team/app', other.digest, reader), 200);
    assert.equal(await pullStatus(reg, 'team/app', referrer, reader), 200);
  });

  test('signatures by a key the namespace does not have, and of other images, do not count', async () => {
    const image = await pushImage(reg.url, 'team/app', { headers: asOwner() });
    await cosignSign(reg.url, 'team/app', image.digest, ecKeyPair().privateKey, { headers: asOwner() });
    assert.equal(await pullStatus(reg, 'team/app', image.digest, reader), 403);
    const signed = await pushImage(reg.url, 'team/app', { headers: asOwner() });
    const unsigned = await pushImage(reg.url, 'team/app', { headers: asOwner() });
    await cosignSign(reg.url, 'team/app', unsigned.digest, key.privateKey, { referrer: true, payload: cosignPayload('team/app', signed.digest), headers: asOwner() });
    assert.equal(await pullStatus(reg, 'team/app', unsigned.digest, reader), 403);
  });

  test('artifacts are never blocked: an SBOM referrer and an artifact without image layers', async () => {
    const image = await pushImage(reg.url, 'team/app', { headers: asOwner() });
    await pushBlob(reg.url, 'team/app', EMPTY_JSON, MediaType.OciEmpty, asOwner());
    const sbom = await pushBlob(reg.url, 'team/app', '{"spdxVersion":"SPDX-2.3"}', 'application/spdx+json', asOwner());
    const manifest = { schemaVersion: 2, mediaType: MediaType.OciManifest, artifactType: 'application/spdx+json', config: EMPTY_DESCRIPTOR, layers: [sbom], subject: { mediaType: MediaType.OciManifest, digest: image.digest, size: image.bytes.length } };
    const pushed = await pushManifest(reg.url, 'team/app', sha256(JSON.stringify(manifest)), manifest, MediaType.OciManifest, asOwner());
    assert.equal(await pullStatus(reg, 'team/app', pushed.digest, reader), 200);
    const { subject: _s, ...standalone } = manifest;
    const artifact = await pushManifest(reg.url, 'team/app', 'helm-chart', standalone, MediaType.OciManifest, asOwner());
    assert.equal(await pullStatus(reg, 'team/app', artifact.digest, reader), 200);
    assert.equal(await pullStatus(reg, 'team/app', image.digest, reader), 403);
  });

  test('a multi-arch index signed at the index: the index and its platform manifests are served; an unsigned index is not', async () => {
    const signed = await pushMultiArch(reg, 'team/multi', 'signed', asOwner());
    await cosignSign(reg.url, 'team/multi', signed.index, key.privateKey, { headers: asOwner() });
    assert.equal(await pullStatus(reg, 'team/multi', 'signed', reader), 200);
    for (const child of signed.children) assert.equal(await pullStatus(reg, 'team/multi', child, reader), 200);

    const unsigned = await pushMultiArch(reg, 'team/multi', 'unsigned', asOwner());
    assert.equal(await pullStatus(reg, 'team/multi', 'unsigned', reader), 403);
    for (const child of unsigned.children) assert.equal(await pullStatus(reg, 'team/multi', child, reader), 403);
  });

  test('administrators and scan robots are exempt (with Basic and with tokens); they still need pull access', async () => {
    await pushImage(reg.url, 'team/exempt', { reference: 'latest', headers: asOwner() });
    assert.equal(await pullStatus(reg, 'team/exempt', 'latest', reader), 403);
    assert.equal(await pullStatus(reg, 'team/exempt', 'latest', ADMIN), 200);
    assert.equal(await pullStatus(reg, 'team/exempt', 'latest', scanner), 200);
    const token = await tokenFor(reg.url, scanner, ['repository:team/exempt:pull']);
    assert.equal(await pullStatus(reg, 'team/exempt', 'latest', { bearer: token }), 200);
    const readerToken = await tokenFor(reg.url, reader, ['repository:team/exempt:pull']);
    assert.equal(await pullStatus(reg, 'team/exempt', 'latest', { bearer: readerToken }), 403);
    // A scan robot of another namespace has no pull access here.
    const other = expect(await api(reg, 'POST', '/robots', { as: ADMIN, body: { name: 'scan-only', actions: ['scan'] } }), 201);
    assert.equal(await pullStatus(reg, 'team/exempt', 'latest', { username: other.json.name, password: other.json.secret }), 403);
  });

  test('namespaces without a policy are not affected', async () => {
    expect(await api(reg, 'POST', '/namespaces', { as: owner, body: { name: 'free' } }), 201);
    await pushImage(reg.url, 'free/app', { reference: 'v1', headers: asOwner() });
    assert.equal(await pullStatus(reg, 'free/app', 'v1', owner), 200);
  });

  test('a policy change applies at once; a removed signature within the cache time', async () => {
    const image = await pushImage(reg.url, 'team/cache', { reference: 'v1', headers: asOwner() });
    const sig = await cosignSign(reg.url, 'team/cache', image.digest, key.privateKey, { headers: asOwner() });
    assert.equal(await pullStatus(reg, 'team/cache', 'v1', reader), 200);
    const deleted = await fetch(`${reg.url}/v2/team/cache/manifests/${sig}`, { method: 'DELETE', headers: asOwner() });
    assert.equal(deleted.status, 202);
    // The decision is cached: the next pull does not look again...
    assert.equal(await pullStatus(reg, 'team/cache', 'v1', reader), 200);
    // ...until the cache time has passed.
    const start = Date.now();
    let status = 200;
    while (status === 200 && Date.now() - start < 6000) {
      status = await pullStatus(reg, 'team/cache', 'v1', reader);
      if (status === 200) await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(status, 403, 'refused once the cached decision expired');
    assert.ok(Date.now() - start < 4000, `took ${Date.now() - start} ms`);

    expect(await api(reg, 'PUT', '/namespaces/team/pull-policy', { as: owner, body: { requireSignature: false } }), 200);
    assert.equal(await pullStatus(reg, 'team/cache', 'v1', reader), 200);
    expect(await api(reg, 'PUT', '/namespaces/team/pull-policy', { as: owner, body: { requireSignature: true } }), 200);
    assert.equal(await pullStatus(reg, 'team/cache', 'v1', reader), 403);
  });

  test('vulnerabilities: findings at or above the threshold refuse the image, naming them; allow-listed ones and unscanned images pass', async () => {
    expect(await api(reg, 'PUT', '/namespaces/team/pull-policy', { as: owner, body: { blockSeverity: 'HIGH' } }), 200);
    const vulnerable = await pushImage(reg.url, 'team/vuln', { reference: 'bad', headers: asOwner() });
    const medium = await pushImage(reg.url, 'team/vuln', { reference: 'medium', headers: asOwner() });
    await pushImage(reg.url, 'team/vuln', { reference: 'unscanned', headers: asOwner() });
    findings.byDigest.set(vulnerable.digest, [
      { id: 'CVE-2024-1234', aliases: [], severity: 'HIGH', package: 'openssl' },
      { id: 'GHSA-xxxx-yyyy-zzzz', aliases: ['CVE-2024-5678'], severity: 'CRITICAL', package: 'lodash' },
      { id: 'CVE-2024-0042', aliases: [], severity: 'LOW', package: 'zlib' },
    ]);
    findings.byDigest.set(medium.digest, [{ id: 'CVE-2024-7777', aliases: [], severity: 'MEDIUM', package: 'curl' }]);

    const body = await expectError(await pull(reg, 'team/vuln', 'bad', reader), 403, 'DENIED');
    assert.equal(body.errors[0]!.message, `image team/vuln@${vulnerable.digest} has vulnerabilities at or above HIGH: CVE-2024-1234 (openssl), GHSA-xxxx-yyyy-zzzz (lodash)`);
    const detail = body.errors[0]!.detail as { advisories: string[]; blockSeverity: string };
    assert.deepEqual(detail.advisories, ['CVE-2024-1234', 'GHSA-xxxx-yyyy-zzzz']);
    assert.equal(detail.blockSeverity, 'HIGH');
    assert.equal(await pullStatus(reg, 'team/vuln', 'medium', reader), 200);
    assert.equal(await pullStatus(reg, 'team/vuln', 'unscanned', reader), 200);
    assert.equal(await pullStatus(reg, 'team/vuln', 'bad', scanner), 200);

    // Allow-listed by id, and by alias: nothing left at HIGH or above.
    expect(await api(reg, 'PUT', '/namespaces/team/pull-policy', { as: owner, body: { blockSeverity: 'HIGH', allowAdvisories: ['CVE-2024-1234'] } }), 200);
    const partly = await expectError(await pull(reg, 'team/vuln', 'bad', reader), 403, 'DENIED');
    assert.deepEqual((partly.errors[0]!.detail as { advisories: string[] }).advisories, ['GHSA-xxxx-yyyy-zzzz']);
    expect(await api(reg, 'PUT', '/namespaces/team/pull-policy', { as: owner, body: { blockSeverity: 'HIGH', allowAdvisories: ['CVE-2024-1234', 'CVE-2024-5678'] } }), 200);
    assert.equal(await pullStatus(reg, 'team/vuln', 'bad', reader), 200);
    // A higher threshold lets HIGH through; a lower one catches MEDIUM.
    expect(await api(reg, 'PUT', '/namespaces/team/pull-policy', { as: owner, body: { blockSeverity: 'CRITICAL', allowAdvisories: ['CVE-2024-5678'] } }), 200);
    assert.equal(await pullStatus(reg, 'team/vuln', 'bad', reader), 200);
    expect(await api(reg, 'PUT', '/namespaces/team/pull-policy', { as: owner, body: { blockSeverity: 'MEDIUM' } }), 200);
    assert.equal(await pullStatus(reg, 'team/vuln', 'medium', reader), 403);

    // The scanner failing: 503 without its internals, and the next pull asks again.
    const flaky = await pushImage(reg.url, 'team/vuln', { reference: 'flaky', headers: asOwner() });
    findings.failing.add(flaky.digest);
    const down = await expectError(await pull(reg, 'team/vuln', 'flaky', reader), 503, 'UNAVAILABLE');
    assert.equal(down.errors[0]!.message, `vulnerability findings of image team/vuln@${flaky.digest} could not be read; try again`);
    findings.failing.delete(flaky.digest);
    assert.equal(await pullStatus(reg, 'team/vuln', 'flaky', reader), 200);
  });
});

describe('pull policy enforcement (access control off)', () => {
  let reg: TestRegistry;
  let key: KeyPair;
  before(async () => {
    reg = await startRegistry();
    key = ecKeyPair();
    await reg.app.signing.addKey({ namespace: 'team', name: 'release', publicKey: key.publicPem, createdBy: 'operator' });
    await reg.app.signing.setPullPolicy({ namespace: 'team', requireSignature: true, blockSeverity: null, allowAdvisories: [], updatedBy: 'operator' });
  });
  after(async () => {
    await reg.close();
  });

  test('everybody is subject to the policy', async () => {
    const unsigned: PushedImage = await pushImage(reg.url, 'team/app', { reference: 'unsigned' });
    const body = await expectError(await pull(reg, 'team/app', 'unsigned'), 403, 'DENIED');
    assert.match(body.errors[0]!.message!, new RegExp(`^image team/app@${unsigned.digest} has no valid signature`));
    const signed = await pushImage(reg.url, 'team/app', { reference: 'signed' });
    await cosignSign(reg.url, 'team/app', signed.digest, key.privateKey);
    assert.equal(await pullStatus(reg, 'team/app', 'signed'), 200);
  });
});

const skopeoInstalled = await hasCommand('skopeo');

describe('pull policies through skopeo', { skip: skopeoInstalled ? false : 'skopeo is not installed', timeout: 300_000 }, () => {
  let reg: TestRegistry;
  let owner: Credentials;
  let reader: Credentials;
  let scanner: Credentials;
  let work: string;
  let env: Record<string, string>;
  let key: KeyPair;
  let image: BuiltImage;
  let unsigned: BuiltImage;
  let index: { index: Buffer; descriptor: Descriptor };
  let children: BuiltImage[];

  const skopeo = (...args: string[]) => run('skopeo', ['--insecure-policy', ...args], { timeoutMs: 90_000, env });
  const copyOut = (ref: string, out: string, creds: Credentials, ...flags: string[]) =>
    skopeo('copy', '--retry-times', '0', '--src-tls-verify=false', '--src-creds', `${creds.username}:${creds.password}`, ...flags, `docker://${reg.host}/${ref}`, `oci:${out}:pulled`);

  before(async () => {
    ({ reg, owner, reader } = await startTeamRegistry());
    work = await makeTempDir('registry-pull-policy-');
    const authFile = join(work, 'auth.json');
    await writeFile(authFile, JSON.stringify({ auths: {} }));
    env = { REGISTRY_AUTH_FILE: authFile, XDG_RUNTIME_DIR: work, HOME: work, TMPDIR: work };
    const src = await OciLayout.create(join(work, 'src'));
    image = await src.addImage({ os: 'linux', architecture: 'amd64' }, [[{ path: 'etc/hostname', content: 'signed\n' }], [{ path: 'app/data', content: 'x'.repeat(5000) }]]);
    src.tag(image.descriptor, 'signed');
    unsigned = await src.addImage({ os: 'linux', architecture: 'amd64' }, [[{ path: 'etc/hostname', content: 'unsigned\n' }]]);
    src.tag(unsigned.descriptor, 'unsigned');
    children = [
      await src.addImage({ os: 'linux', architecture: 'amd64' }, [[{ path: 'arch', content: 'amd64\n' }]]),
      await src.addImage({ os: 'linux', architecture: 'arm64' }, [[{ path: 'arch', content: 'arm64\n' }]]),
    ];
    index = await src.addIndex(children);
    src.tag(index.descriptor, 'multi');
    await src.save();
    const creds = `${owner.username}:${owner.password}`;
    for (const [tag, dest] of [['signed', 'team/app:v1'], ['unsigned', 'team/app:unsigned'], ['multi', 'team/multi:v1']] as const) {
      await skopeo('copy', '--retry-times', '0', '--dest-tls-verify=false', '--dest-creds', creds, '--all', '--preserve-digests', `oci:${src.dir}:${tag}`, `docker://${reg.host}/${dest}`);
    }
    key = ecKeyPair();
    expect(await api(reg, 'POST', '/namespaces/team/signing-keys', { as: owner, body: { name: 'release', publicKey: key.publicPem } }), 201);
    await cosignSign(reg.url, 'team/app', image.descriptor.digest, key.privateKey, { headers: auth(owner) });
    await cosignSign(reg.url, 'team/multi', index.descriptor.digest, key.privateKey, { headers: auth(owner) });
    expect(await api(reg, 'PUT', '/namespaces/team/pull-policy', { as: owner, body: { requireSignature: true } }), 200);
    const s = expect(await api(reg, 'POST', '/namespaces/team/robots', { as: owner, body: { name: 'scanner', actions: ['pull', 'scan'] } }), 201);
    scanner = { username: s.json.name, password: s.json.secret };
  });
  after(async () => {
    await reg?.close();
    if (work) await rm(work, { recursive: true, force: true });
  });

  test('an unsigned image: skopeo fails and shows the reason', async () => {
    await assert.rejects(copyOut('team/app:unsigned', join(work, 'out-unsigned'), reader), (err: Error) => {
      assert.match(err.message, new RegExp(`image team/app@${unsigned.descriptor.digest} has no valid signature \\(namespace team requires one\\)`));
      return true;
    });
  });

  test('a signed image is pulled whole', async () => {
    const out = join(work, 'out-signed');
    await copyOut('team/app:v1', out, reader, '--preserve-digests');
    const pulled = await readLayout(out);
    const ref = resolveTag(pulled, 'pulled');
    assert.equal(ref.digest, image.descriptor.digest);
    assert.deepEqual(reachableBlobs(pulled.blobs, ref.digest), [image.descriptor.digest, image.configDigest, ...image.layers.map((l) => l.digest)].sort());
    for (const layer of image.layers) assert.ok(pulled.blobs.get(layer.digest)!.equals(layer.gz));
  });

  test('a multi-arch index signed at the index is pulled with every platform', async () => {
    const out = join(work, 'out-multi');
    await copyOut('team/multi:v1', out, reader, '--all', '--preserve-digests');
    const pulled = await readLayout(out);
    const ref = resolveTag(pulled, 'pulled');
    assert.equal(ref.digest, index.descriptor.digest);
    for (const child of children) assert.ok(pulled.blobs.get(child.descriptor.digest)?.equals(child.manifest), `platform manifest ${child.descriptor.digest} pulled`);
  });

  test('the administrator and a scan robot pull the unsigned image', async () => {
    for (const [who, creds] of [['admin', ADMIN], ['scanner', scanner]] as const) {
      const out = join(work, `out-${who}`);
      await copyOut('team/app:unsigned', out, creds, '--preserve-digests');
      assert.equal(resolveTag(await readLayout(out), 'pulled').digest, unsigned.descriptor.digest);
    }
  });
});
