// GET /v2/<name>/referrers/<digest>: the OCI 1.1 referrers API.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startRegistry, type TestRegistry } from '../helpers/registry.js';
import {
  EMPTY_DESCRIPTOR,
  EMPTY_JSON,
  MediaType,
  expectError,
  expectStatus,
  pushBlob,
  pushImage,
  pushManifest,
  sha256,
  type Descriptor,
  type PushedImage,
} from '../helpers/oci.js';

interface Index {
  schemaVersion: number;
  mediaType: string;
  manifests: Descriptor[];
}

const SBOM = 'application/vnd.example.sbom.v1';
const SIGNATURE = 'application/vnd.example.signature.v1';
const CONFIG_TYPE = 'application/vnd.example.config.v1+json';

async function referrers(reg: TestRegistry, repo: string, digest: string, query = ''): Promise<{ res: Response; index: Index }> {
  const res = await fetch(`${reg.url}/v2/${repo}/referrers/${digest}${query}`);
  const body = await expectStatus(res, 200);
  assert.equal(res.headers.get('content-type'), MediaType.OciIndex);
  const index = JSON.parse(body.toString()) as Index;
  assert.equal(index.schemaVersion, 2);
  assert.equal(index.mediaType, MediaType.OciIndex);
  assert.ok(Array.isArray(index.manifests));
  return { res, index };
}

function byDigest(list: Descriptor[]): Descriptor[] {
  return [...list].sort((a, b) => a.digest.localeCompare(b.digest));
}

describe('referrers', () => {
  let reg: TestRegistry;
  let subject: PushedImage;
  let subjectDescriptor: Descriptor;
  const expected: Descriptor[] = [];

  before(async () => {
    reg = await startRegistry();
    const repo = 'ref/repo';
    subject = await pushImage(reg.url, repo, { reference: 'app' });
    subjectDescriptor = { mediaType: MediaType.OciManifest, digest: subject.digest, size: subject.bytes.length };
    await pushBlob(reg.url, repo, EMPTY_JSON);
    const sbomLayer = await pushBlob(reg.url, repo, '{"packages":[]}', 'application/spdx+json');

    // 1. An artifact with artifactType and annotations.
    const sbom = {
      schemaVersion: 2,
      mediaType: MediaType.OciManifest,
      artifactType: SBOM,
      config: EMPTY_DESCRIPTOR,
      layers: [sbomLayer],
      subject: subjectDescriptor,
      annotations: { 'org.opencontainers.image.created': '2024-01-01T00:00:00Z', 'org.example.format': 'spdx' },
    };
    const a = await pushManifest(reg.url, repo, 'sbom', sbom);
    expected.push({ mediaType: MediaType.OciManifest, digest: a.digest, size: a.bytes.length, artifactType: SBOM, annotations: sbom.annotations });

    // 2. A signature, pushed by digest, no annotations.
    const sig = { schemaVersion: 2, mediaType: MediaType.OciManifest, artifactType: SIGNATURE, config: EMPTY_DESCRIPTOR, layers: [EMPTY_DESCRIPTOR], subject: subjectDescriptor };
    const sigBytes = Buffer.from(JSON.stringify(sig));
    const b = await pushManifest(reg.url, repo, sha256(sigBytes), sigBytes, MediaType.OciManifest);
    expected.push({ mediaType: MediaType.OciManifest, digest: b.digest, size: b.bytes.length, artifactType: SIGNATURE });

    // 3. An image manifest without artifactType: the config media type stands in for it.
    const config = await pushBlob(reg.url, repo, '{"kind":"custom"}', CONFIG_TYPE);
    const custom = { schemaVersion: 2, mediaType: MediaType.OciManifest, config, layers: [], subject: subjectDescriptor };
    const c = await pushManifest(reg.url, repo, 'custom', custom);
    expected.push({ mediaType: MediaType.OciManifest, digest: c.digest, size: c.bytes.length, artifactType: CONFIG_TYPE });

    // 4. An index with a subject and no artifactType: artifactType is omitted.
    const idx = {
      schemaVersion: 2,
      mediaType: MediaType.OciIndex,
      manifests: [{ mediaType: MediaType.OciManifest, digest: a.digest, size: a.bytes.length }],
      subject: subjectDescriptor,
      annotations: { 'org.example.kind': 'bundle' },
    };
    const d = await pushManifest(reg.url, repo, 'bundle', idx);
    expected.push({ mediaType: MediaType.OciIndex, digest: d.digest, size: d.bytes.length, annotations: idx.annotations });

    // Not a referrer of the subject: refers to the SBOM instead.
    await pushManifest(reg.url, repo, 'sig-of-sbom', { ...sig, subject: { mediaType: MediaType.OciManifest, digest: a.digest, size: a.bytes.length } });
    // Not a referrer: no subject at all.
    await pushImage(reg.url, repo, { reference: 'unrelated' });
  });
  after(async () => {
    await reg.close();
  });

  test('lists every manifest whose subject is the digest, with artifactType and annotations', async () => {
    const { res, index } = await referrers(reg, 'ref/repo', subject.digest);
    assert.deepEqual(byDigest(index.manifests), byDigest(expected));
    assert.equal(res.headers.get('oci-filters-applied'), null);
    const idx = index.manifests.find((m) => m.mediaType === MediaType.OciIndex)!;
    assert.ok(!('artifactType' in idx), 'an index without artifactType must not get one');
  });

  test('each descriptor names a manifest that can be pulled with that digest and size', async () => {
    const { index } = await referrers(reg, 'ref/repo', subject.digest);
    for (const d of index.manifests) {
      const res = await fetch(`${reg.url}/v2/ref/repo/manifests/${d.digest}`);
      const body = await expectStatus(res, 200);
      assert.equal(body.length, d.size);
      assert.equal(sha256(body), d.digest);
      assert.equal(res.headers.get('content-type'), d.mediaType);
    }
  });

  test('?artifactType= filters and sets OCI-Filters-Applied', async () => {
    const { res, index } = await referrers(reg, 'ref/repo', subject.digest, `?artifactType=${encodeURIComponent(SBOM)}`);
    assert.equal(res.headers.get('oci-filters-applied'), 'artifactType');
    assert.deepEqual(index.manifests, expected.filter((d) => d.artifactType === SBOM));
    const byConfig = await referrers(reg, 'ref/repo', subject.digest, `?artifactType=${encodeURIComponent(CONFIG_TYPE)}`);
    assert.deepEqual(byConfig.index.manifests, expected.filter((d) => d.artifactType === CONFIG_TYPE));
    const none = await referrers(reg, 'ref/repo', subject.digest, '?artifactType=application/vnd.example.none');
    assert.deepEqual(none.index.manifests, []);
    assert.equal(none.res.headers.get('oci-filters-applied'), 'artifactType');
  });

  test('referrers of a referrer are listed under its own digest', async () => {
    const sbom = expected[0]!;
    const { index } = await referrers(reg, 'ref/repo', sbom.digest);
    assert.equal(index.manifests.length, 1);
    assert.equal(index.manifests[0]!.artifactType, SIGNATURE);
  });

  test('a digest with no referrers answers 200 with an empty list', async () => {
    const { index } = await referrers(reg, 'ref/repo', sha256('nothing refers to this'));
    assert.deepEqual(index.manifests, []);
  });

  test('an unknown repository answers 200 with an empty list, never 404', async () => {
    const { index } = await referrers(reg, 'ref/never-pushed', subject.digest);
    assert.deepEqual(index.manifests, []);
  });

  test('referrers are scoped to the repository', async () => {
    await pushBlob(reg.url, 'ref/elsewhere', EMPTY_JSON);
    const sig = { schemaVersion: 2, mediaType: MediaType.OciManifest, artifactType: SIGNATURE, config: EMPTY_DESCRIPTOR, layers: [EMPTY_DESCRIPTOR], subject: subjectDescriptor };
    await pushManifest(reg.url, 'ref/elsewhere', 'sig', sig);
    assert.equal((await referrers(reg, 'ref/elsewhere', subject.digest)).index.manifests.length, 1);
    assert.deepEqual(byDigest((await referrers(reg, 'ref/repo', subject.digest)).index.manifests), byDigest(expected));
  });

  test('a deleted referrer leaves the list', async () => {
    const repo = 'ref/deleting';
    await pushBlob(reg.url, repo, EMPTY_JSON);
    const sig = { schemaVersion: 2, mediaType: MediaType.OciManifest, artifactType: SIGNATURE, config: EMPTY_DESCRIPTOR, layers: [EMPTY_DESCRIPTOR], subject: subjectDescriptor };
    const pushed = await pushManifest(reg.url, repo, 'sig', sig);
    assert.equal((await referrers(reg, repo, subject.digest)).index.manifests.length, 1);
    await expectStatus(await fetch(`${reg.url}/v2/${repo}/manifests/${pushed.digest}`, { method: 'DELETE' }), 202);
    assert.deepEqual((await referrers(reg, repo, subject.digest)).index.manifests, []);
  });

  test('an invalid digest is 400', async () => {
    for (const bad of ['sha256:abc', 'latest', 'sha256:' + 'g'.repeat(64)]) {
      await expectError(await fetch(`${reg.url}/v2/ref/repo/referrers/${bad}`), 400, 'DIGEST_INVALID');
    }
  });
});
