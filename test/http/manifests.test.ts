// GET / HEAD / PUT / DELETE /v2/<name>/manifests/<reference>: every manifest type, validation,
// references, limits, deletes and Accept negotiation.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startRegistry, type TestRegistry } from '../helpers/registry.js';
import {
  EMPTY_DESCRIPTOR,
  EMPTY_JSON,
  MediaType,
  descriptorOf,
  expectError,
  expectStatus,
  locationOf,
  manifestBytes,
  pushBlob,
  pushImage,
  pushIndex,
  pushManifest,
  putManifest,
  randomBytes,
  rawRequest,
  sha256,
  type Descriptor,
} from '../helpers/oci.js';

async function getManifest(reg: TestRegistry, repo: string, reference: string, accept?: string): Promise<Response> {
  return fetch(`${reg.url}/v2/${repo}/manifests/${reference}`, accept === undefined ? {} : { headers: { Accept: accept } });
}

async function tagsOf(reg: TestRegistry, repo: string): Promise<string[]> {
  const res = await fetch(`${reg.url}/v2/${repo}/tags/list`);
  const body = JSON.parse((await expectStatus(res, 200)).toString()) as { tags: string[] };
  return body.tags;
}

describe('manifests', () => {
  let reg: TestRegistry;
  before(async () => {
    reg = await startRegistry();
  });
  after(async () => {
    await reg.close();
  });

  test('PUT an OCI image manifest by tag: 201, Location and the digest of the exact bytes', async () => {
    const config = await pushBlob(reg.url, 'img/oci', JSON.stringify({ architecture: 'amd64', os: 'linux' }), MediaType.OciConfig);
    const layer = await pushBlob(reg.url, 'img/oci', randomBytes(1000), MediaType.OciLayer);
    // Unusual formatting: the registry must keep these bytes exactly, not re-serialise them.
    const text = `{\n   "schemaVersion" : 2,\n   "mediaType": "${MediaType.OciManifest}",\n   "config": ${JSON.stringify(config)},\n   "layers": [ ${JSON.stringify(layer)} ],\n   "annotations": {"x": "é ✓"}\n}\n`;
    const bytes = Buffer.from(text);
    const res = await putManifest(reg.url, 'img/oci', 'v1', bytes, MediaType.OciManifest);
    await expectStatus(res, 201);
    const digest = sha256(bytes);
    assert.equal(res.headers.get('docker-content-digest'), digest);
    const location = locationOf(res, reg.url);
    assert.equal(location.pathname, `/v2/img/oci/manifests/${digest}`);

    for (const url of [`${reg.url}/v2/img/oci/manifests/v1`, `${reg.url}/v2/img/oci/manifests/${digest}`, location.toString()]) {
      const get = await fetch(url, { headers: { Accept: MediaType.OciManifest } });
      const body = await expectStatus(get, 200);
      assert.ok(body.equals(bytes), `${url} did not return the pushed bytes`);
      assert.equal(get.headers.get('content-type'), MediaType.OciManifest);
      assert.equal(get.headers.get('docker-content-digest'), digest);
      assert.equal(get.headers.get('content-length'), String(bytes.length));
    }
  });

  test('HEAD returns Content-Length, Content-Type and Docker-Content-Digest without a body', async () => {
    const image = await pushImage(reg.url, 'img/head', { reference: 'latest' });
    for (const ref of ['latest', image.digest]) {
      const res = await rawRequest(reg.url, 'HEAD', `/v2/img/head/manifests/${ref}`, { Accept: MediaType.OciManifest });
      assert.equal(res.status, 200);
      assert.equal(res.headers['content-length'], String(image.bytes.length));
      assert.equal(res.headers['docker-content-digest'], image.digest);
      assert.equal(res.headers['content-type'], MediaType.OciManifest);
      assert.equal(res.body.length, 0);
    }
    const missing = await rawRequest(reg.url, 'HEAD', '/v2/img/head/manifests/nope');
    assert.equal(missing.status, 404);
    assert.equal(missing.body.length, 0);
  });

  test('PUT by digest reference stores the manifest without a tag', async () => {
    const image = await pushImage(reg.url, 'img/bydigest');
    assert.equal(locationOf(image.response, reg.url).pathname, `/v2/img/bydigest/manifests/${image.digest}`);
    const body = await expectStatus(await getManifest(reg, 'img/bydigest', image.digest), 200);
    assert.ok(body.equals(image.bytes));
    assert.deepEqual(await tagsOf(reg, 'img/bydigest'), []);
  });

  test('PUT by a digest that does not match the body is 400 DIGEST_INVALID', async () => {
    const image = await pushImage(reg.url, 'img/mismatch');
    const other = Buffer.from(JSON.stringify({ ...image.manifest, annotations: { changed: 'yes' } }));
    await expectError(await putManifest(reg.url, 'img/mismatch', image.digest, other, MediaType.OciManifest), 400, 'DIGEST_INVALID');
    await expectError(await getManifest(reg, 'img/mismatch', sha256(other)), 404, 'MANIFEST_UNKNOWN');
    // The manifest under that digest is still the original one.
    assert.ok((await expectStatus(await getManifest(reg, 'img/mismatch', image.digest), 200)).equals(image.bytes));
  });

  test('missing layers are 400 MANIFEST_BLOB_UNKNOWN, one error per missing blob with detail.digest', async () => {
    const config = await pushBlob(reg.url, 'img/missing', '{"os":"linux","architecture":"arm64"}', MediaType.OciConfig);
    const present = await pushBlob(reg.url, 'img/missing', randomBytes(10), MediaType.OciLayer);
    const absent1 = descriptorOf(MediaType.OciLayer, randomBytes(20));
    const absent2 = descriptorOf(MediaType.OciLayer, randomBytes(30));
    const manifest = { schemaVersion: 2, mediaType: MediaType.OciManifest, config, layers: [absent1, present, absent2] };
    const body = await expectError(await putManifest(reg.url, 'img/missing', 'v1', manifest), 400, 'MANIFEST_BLOB_UNKNOWN');
    assert.equal(body.errors.length, 2);
    for (const e of body.errors) assert.equal(e.code, 'MANIFEST_BLOB_UNKNOWN');
    assert.deepEqual(body.errors.map((e) => (e.detail as { digest: string }).digest).sort(), [absent1.digest, absent2.digest].sort());
    await expectError(await getManifest(reg, 'img/missing', 'v1'), 404, 'MANIFEST_UNKNOWN');
  });

  test('a missing config blob is reported too', async () => {
    const layer = await pushBlob(reg.url, 'img/noconfig', randomBytes(10), MediaType.OciLayer);
    const config = descriptorOf(MediaType.OciConfig, '{"never":"pushed"}');
    const body = await expectError(
      await putManifest(reg.url, 'img/noconfig', 'v1', { schemaVersion: 2, mediaType: MediaType.OciManifest, config, layers: [layer] }),
      400,
      'MANIFEST_BLOB_UNKNOWN',
    );
    assert.deepEqual(body.errors.map((e) => e.detail), [{ digest: config.digest }]);
  });

  test('blobs of another repository do not satisfy a manifest', async () => {
    const image = await pushImage(reg.url, 'img/owner');
    const body = await expectError(await putManifest(reg.url, 'img/borrower', 'v1', image.bytes, MediaType.OciManifest), 400, 'MANIFEST_BLOB_UNKNOWN');
    assert.equal(body.errors.length, 2);
  });

  test('an OCI index is stored and served with its media type', async () => {
    const pushed = await pushIndex(reg.url, 'img/index', 'multi');
    const res = await getManifest(reg, 'img/index', 'multi', MediaType.OciIndex);
    assert.ok((await expectStatus(res, 200)).equals(pushed.bytes));
    assert.equal(res.headers.get('content-type'), MediaType.OciIndex);
    assert.equal(res.headers.get('docker-content-digest'), pushed.digest);
  });

  test('an OCI index whose child manifest is missing is refused with MANIFEST_BLOB_UNKNOWN naming the child', async () => {
    const present = await pushImage(reg.url, 'img/badindex');
    const missing = sha256('no such manifest');
    const index = {
      schemaVersion: 2,
      mediaType: MediaType.OciIndex,
      manifests: [
        { mediaType: MediaType.OciManifest, digest: present.digest, size: present.bytes.length },
        { mediaType: MediaType.OciManifest, digest: missing, size: 123 },
      ],
    };
    const body = await expectError(await putManifest(reg.url, 'img/badindex', 'multi', index), 400, 'MANIFEST_BLOB_UNKNOWN');
    assert.deepEqual(body.errors.map((e) => e.detail), [{ digest: missing }]);
    await expectError(await getManifest(reg, 'img/badindex', 'multi'), 404, 'MANIFEST_UNKNOWN');
  });

  test('Docker schema 2 manifest and manifest list', async () => {
    const image = await pushImage(reg.url, 'img/docker', { docker: true, reference: 'v2' });
    const res = await getManifest(reg, 'img/docker', 'v2', MediaType.DockerManifest);
    assert.ok((await expectStatus(res, 200)).equals(image.bytes));
    assert.equal(res.headers.get('content-type'), MediaType.DockerManifest);

    const list = {
      schemaVersion: 2,
      mediaType: MediaType.DockerManifestList,
      manifests: [{ mediaType: MediaType.DockerManifest, digest: image.digest, size: image.bytes.length, platform: { architecture: 'amd64', os: 'linux' } }],
    };
    const pushed = await pushManifest(reg.url, 'img/docker', 'list', list);
    const got = await getManifest(reg, 'img/docker', 'list', `${MediaType.DockerManifestList}, ${MediaType.DockerManifest}`);
    assert.ok((await expectStatus(got, 200)).equals(pushed.bytes));
    assert.equal(got.headers.get('content-type'), MediaType.DockerManifestList);
  });

  test('an OCI artifact: artifactType with the empty config blob', async () => {
    const empty = await pushBlob(reg.url, 'img/artifact', EMPTY_JSON, MediaType.OciEmpty);
    assert.deepEqual(empty, EMPTY_DESCRIPTOR);
    assert.equal(EMPTY_DESCRIPTOR.size, 2);
    const payload = await pushBlob(reg.url, 'img/artifact', '{"sbom":true}', 'application/vnd.example.sbom.v1+json');
    const artifact = {
      schemaVersion: 2,
      mediaType: MediaType.OciManifest,
      artifactType: 'application/vnd.example.sbom.v1',
      config: EMPTY_DESCRIPTOR,
      layers: [payload],
    };
    const pushed = await pushManifest(reg.url, 'img/artifact', 'sbom', artifact);
    const res = await getManifest(reg, 'img/artifact', 'sbom');
    assert.ok((await expectStatus(res, 200)).equals(pushed.bytes));
    assert.equal(res.headers.get('content-type'), MediaType.OciManifest);
    // An artifact whose only layer is the empty blob too.
    await pushManifest(reg.url, 'img/artifact', 'empty', { ...artifact, layers: [EMPTY_DESCRIPTOR] });
  });

  test('the media type may come from Content-Type alone; parameters on it are ignored', async () => {
    const image = await pushImage(reg.url, 'img/ctype');
    const { mediaType: _omitted, ...withoutMediaType } = image.manifest;
    const bytes = manifestBytes(withoutMediaType);
    await pushManifest(reg.url, 'img/ctype', 'bare', bytes, MediaType.OciManifest);
    const res = await getManifest(reg, 'img/ctype', 'bare');
    assert.equal(res.headers.get('content-type'), MediaType.OciManifest);
    assert.ok((await expectStatus(res, 200)).equals(bytes));
    await pushManifest(reg.url, 'img/ctype', 'params', image.bytes, `${MediaType.OciManifest}; charset=utf-8`);
  });

  test('malformed manifests are 400 MANIFEST_INVALID', async () => {
    const image = await pushImage(reg.url, 'img/invalid');
    const m = image.manifest as unknown as Record<string, unknown>;
    const cases: [string, Buffer, string | undefined][] = [
      ['invalid JSON', Buffer.from('{"schemaVersion": 2, '), MediaType.OciManifest],
      ['a JSON array', Buffer.from('[]'), MediaType.OciManifest],
      ['schemaVersion 1', manifestBytes({ ...m, schemaVersion: 1 }), MediaType.OciManifest],
      ['schemaVersion 3', manifestBytes({ ...m, schemaVersion: 3 }), MediaType.OciManifest],
      ['schemaVersion missing', manifestBytes({ ...m, schemaVersion: undefined }), MediaType.OciManifest],
      ['Content-Type differs from mediaType', image.bytes, MediaType.OciIndex],
      ['Content-Type of another manifest kind', image.bytes, MediaType.DockerManifest],
      ['unknown mediaType', manifestBytes({ ...m, mediaType: 'application/vnd.example.nope+json' }), 'application/vnd.example.nope+json'],
      ['layers not an array', manifestBytes({ ...m, layers: {} }), MediaType.OciManifest],
      ['config without digest', manifestBytes({ ...m, config: { mediaType: MediaType.OciConfig, size: 2 } }), MediaType.OciManifest],
      ['descriptor with a bad digest', manifestBytes({ ...m, config: { ...image.config, digest: 'sha256:zz' } }), MediaType.OciManifest],
      ['negative size', manifestBytes({ ...m, config: { ...image.config, size: -1 } }), MediaType.OciManifest],
    ];
    for (const [what, body, type] of cases) {
      const res = await putManifest(reg.url, 'img/invalid', 'bad', body, type);
      const text = await res.text();
      assert.equal(res.status, 400, `${what}: ${res.status} ${text}`);
      const parsed = JSON.parse(text) as { errors: { code: string }[] };
      assert.equal(parsed.errors[0]!.code, 'MANIFEST_INVALID', `${what}: ${text}`);
    }
    await expectError(await getManifest(reg, 'img/invalid', 'bad'), 404, 'MANIFEST_UNKNOWN');
  });

  test('invalid tags are 400 TAG_INVALID', async () => {
    const image = await pushImage(reg.url, 'img/tags');
    for (const tag of ['-leading-dash', '.leading-dot', 'a'.repeat(129), 'has+plus']) {
      await expectError(await putManifest(reg.url, 'img/tags', tag, image.bytes, MediaType.OciManifest), 400, 'TAG_INVALID');
    }
    // The longest valid tag is fine.
    await pushManifest(reg.url, 'img/tags', 'a'.repeat(128), image.bytes, MediaType.OciManifest);
  });

  test('an unknown tag or digest is 404 MANIFEST_UNKNOWN', async () => {
    await pushImage(reg.url, 'img/unknown', { reference: 'exists' });
    await expectError(await getManifest(reg, 'img/unknown', 'nope'), 404, 'MANIFEST_UNKNOWN');
    await expectError(await getManifest(reg, 'img/unknown', sha256('nothing')), 404, 'MANIFEST_UNKNOWN');
    const res = await getManifest(reg, 'never/pushed', 'latest');
    assert.equal(res.status, 404);
    await res.arrayBuffer();
    await expectError(await getManifest(reg, 'img/unknown', 'sha256:short'), 400, 'DIGEST_INVALID');
  });

  test('re-tagging moves the tag to the new manifest', async () => {
    const first = await pushImage(reg.url, 'img/retag', { reference: 'latest' });
    const second = await pushImage(reg.url, 'img/retag', { reference: 'latest' });
    assert.notEqual(first.digest, second.digest);
    const res = await getManifest(reg, 'img/retag', 'latest');
    assert.equal(res.headers.get('docker-content-digest'), second.digest);
    assert.ok((await expectStatus(res, 200)).equals(second.bytes));
    // The first is still there by digest.
    await expectStatus(await getManifest(reg, 'img/retag', first.digest), 200);
  });

  test('a manifest with subject gets OCI-Subject on the PUT response', async () => {
    const subject = await pushImage(reg.url, 'img/subject', { reference: 'base' });
    const subjectDescriptor: Descriptor = { mediaType: MediaType.OciManifest, digest: subject.digest, size: subject.bytes.length };
    await pushBlob(reg.url, 'img/subject', EMPTY_JSON);
    const referrer = {
      schemaVersion: 2,
      mediaType: MediaType.OciManifest,
      artifactType: 'application/vnd.example.signature.v1',
      config: EMPTY_DESCRIPTOR,
      layers: [EMPTY_DESCRIPTOR],
      subject: subjectDescriptor,
    };
    const pushed = await pushManifest(reg.url, 'img/subject', sha256(manifestBytes(referrer)), referrer);
    assert.equal(pushed.response.headers.get('oci-subject'), subject.digest);
    // Without a subject there is no such header.
    assert.equal(subject.response.headers.get('oci-subject'), null);
  });

  test('a manifest may name a subject that does not exist (yet)', async () => {
    await pushBlob(reg.url, 'img/dangling', EMPTY_JSON);
    const absent = sha256('subject pushed later');
    const referrer = {
      schemaVersion: 2,
      mediaType: MediaType.OciManifest,
      artifactType: 'application/vnd.example.signature.v1',
      config: EMPTY_DESCRIPTOR,
      layers: [EMPTY_DESCRIPTOR],
      subject: { mediaType: MediaType.OciManifest, digest: absent, size: 10 },
    };
    const pushed = await pushManifest(reg.url, 'img/dangling', 'sig', referrer);
    assert.equal(pushed.response.headers.get('oci-subject'), absent);
  });

  test('DELETE by digest: 202, then the manifest and its tags are gone', async () => {
    const image = await pushImage(reg.url, 'img/delete', { reference: 'one' });
    await pushManifest(reg.url, 'img/delete', 'two', image.bytes, MediaType.OciManifest);
    const keep = await pushImage(reg.url, 'img/delete', { reference: 'keep' });
    assert.deepEqual(await tagsOf(reg, 'img/delete'), ['keep', 'one', 'two']);
    const res = await fetch(`${reg.url}/v2/img/delete/manifests/${image.digest}`, { method: 'DELETE' });
    await expectStatus(res, 202);
    await expectError(await getManifest(reg, 'img/delete', image.digest), 404, 'MANIFEST_UNKNOWN');
    await expectError(await getManifest(reg, 'img/delete', 'one'), 404, 'MANIFEST_UNKNOWN');
    await expectError(await getManifest(reg, 'img/delete', 'two'), 404, 'MANIFEST_UNKNOWN');
    assert.deepEqual(await tagsOf(reg, 'img/delete'), ['keep']);
    assert.ok((await expectStatus(await getManifest(reg, 'img/delete', 'keep'), 200)).equals(keep.bytes));
    await expectError(await fetch(`${reg.url}/v2/img/delete/manifests/${image.digest}`, { method: 'DELETE' }), 404, 'MANIFEST_UNKNOWN');
  });

  test('DELETE by tag: 202, the tag is gone, the manifest stays by digest', async () => {
    const image = await pushImage(reg.url, 'img/untag', { reference: 'gone' });
    await expectStatus(await fetch(`${reg.url}/v2/img/untag/manifests/gone`, { method: 'DELETE' }), 202);
    await expectError(await getManifest(reg, 'img/untag', 'gone'), 404, 'MANIFEST_UNKNOWN');
    assert.ok((await expectStatus(await getManifest(reg, 'img/untag', image.digest), 200)).equals(image.bytes));
    assert.deepEqual(await tagsOf(reg, 'img/untag'), []);
    await expectError(await fetch(`${reg.url}/v2/img/untag/manifests/gone`, { method: 'DELETE' }), 404, 'MANIFEST_UNKNOWN');
  });

  test('Accept negotiation: a Docker-only client does not get an OCI index; */* or no Accept does', async () => {
    const child = await pushImage(reg.url, 'img/negotiate');
    const index = {
      schemaVersion: 2,
      mediaType: MediaType.OciIndex,
      manifests: [{ mediaType: MediaType.OciManifest, digest: child.digest, size: child.bytes.length }],
    };
    const pushed = await pushManifest(reg.url, 'img/negotiate', 'idx', index);
    await expectError(await getManifest(reg, 'img/negotiate', 'idx', MediaType.DockerManifest), 404, 'MANIFEST_UNKNOWN');
    await expectError(await getManifest(reg, 'img/negotiate', 'idx', `${MediaType.DockerManifest}, ${MediaType.DockerManifestList}`), 404, 'MANIFEST_UNKNOWN');
    await expectError(await getManifest(reg, 'img/negotiate', pushed.digest, MediaType.DockerManifest), 404, 'MANIFEST_UNKNOWN');
    const head = await rawRequest(reg.url, 'HEAD', '/v2/img/negotiate/manifests/idx', { Accept: MediaType.DockerManifest });
    assert.equal(head.status, 404);

    for (const accept of ['*/*', `${MediaType.DockerManifest}, */*`, `${MediaType.DockerManifest}, ${MediaType.OciIndex}`, `${MediaType.OciIndex};q=0.5`, 'application/*']) {
      const res = await getManifest(reg, 'img/negotiate', 'idx', accept);
      assert.ok((await expectStatus(res, 200)).equals(pushed.bytes), accept);
      assert.equal(res.headers.get('content-type'), MediaType.OciIndex);
    }
    // No Accept header at all (fetch always sends one, so use a raw request).
    const bare = await rawRequest(reg.url, 'GET', '/v2/img/negotiate/manifests/idx');
    assert.equal(bare.status, 200);
    assert.ok(bare.body.equals(pushed.bytes));
    assert.equal(bare.headers['content-type'], MediaType.OciIndex);
  });
});

describe('manifest size limit', () => {
  let reg: TestRegistry;
  before(async () => {
    reg = await startRegistry({ limits: { manifestMaxBytes: 1000 } });
  });
  after(async () => {
    await reg.close();
  });

  test('a manifest over the configured limit is 413, with or without Content-Length', async () => {
    const image = await pushImage(reg.url, 'limit/repo');
    assert.ok(image.bytes.length < 1000);
    const big = manifestBytes({ ...image.manifest, annotations: { padding: 'x'.repeat(1500) } });
    assert.ok(big.length > 1000);
    const res = await putManifest(reg.url, 'limit/repo', 'big', big, MediaType.OciManifest);
    assert.equal(res.status, 413);
    await res.arrayBuffer();
    // Streamed (chunked encoding): the limit still holds.
    const streamed = await fetch(`${reg.url}/v2/limit/repo/manifests/big`, {
      method: 'PUT',
      headers: { 'Content-Type': MediaType.OciManifest },
      body: new ReadableStream({
        start(controller) {
          controller.enqueue(big.subarray(0, 600));
          controller.enqueue(big.subarray(600));
          controller.close();
        },
      }),
      duplex: 'half',
    } as RequestInit);
    assert.equal(streamed.status, 413);
    await streamed.arrayBuffer();
    await expectError(await getManifest(reg, 'limit/repo', 'big'), 404, 'MANIFEST_UNKNOWN');
    // Exactly at the limit is accepted.
    const padding = 1000 - manifestBytes({ ...image.manifest, annotations: { padding: '' } }).length;
    const exact = manifestBytes({ ...image.manifest, annotations: { padding: 'y'.repeat(padding) } });
    assert.equal(exact.length, 1000);
    await pushManifest(reg.url, 'limit/repo', 'exact', exact, MediaType.OciManifest);
  });
});

describe('deletes disabled', () => {
  let reg: TestRegistry;
  before(async () => {
    reg = await startRegistry({ deletes: { enabled: false } });
  });
  after(async () => {
    await reg.close();
  });

  test('DELETE of a manifest, a tag or a blob is 405 UNSUPPORTED and changes nothing', async () => {
    const image = await pushImage(reg.url, 'nodelete/repo', { reference: 'latest' });
    await expectError(await fetch(`${reg.url}/v2/nodelete/repo/manifests/${image.digest}`, { method: 'DELETE' }), 405, 'UNSUPPORTED');
    await expectError(await fetch(`${reg.url}/v2/nodelete/repo/manifests/latest`, { method: 'DELETE' }), 405, 'UNSUPPORTED');
    await expectError(await fetch(`${reg.url}/v2/nodelete/repo/blobs/${image.layers[0]!.digest}`, { method: 'DELETE' }), 405, 'UNSUPPORTED');
    assert.ok((await expectStatus(await getManifest(reg, 'nodelete/repo', 'latest'), 200)).equals(image.bytes));
    await expectStatus(await fetch(`${reg.url}/v2/nodelete/repo/blobs/${image.layers[0]!.digest}`), 200);
  });
});
