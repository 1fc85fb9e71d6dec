// Promotion through the management API with real pushes: a multi-arch index with a referrer
// and a cosign-style signature tag is copied to another namespace without new bytes; the
// target's permissions and immutable tags apply; a move removes the source tag; audited.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { TestRegistry } from '../helpers/registry.js';
import { runCli } from '../helpers/cli.js';
import { cosignSign, ecKeyPair } from '../helpers/signing.js';
import { ADMIN, api, auditEvents, basic, expect, startTeamRegistry, type Credentials } from '../helpers/api.js';
import { MediaType, pushImage, pushManifest, type PushedImage } from '../helpers/oci.js';

function auth(c: Credentials): Record<string, string> {
  return { Authorization: basic(c) };
}

async function storedBlobs(reg: TestRegistry): Promise<number> {
  let n = 0;
  for await (const _ of reg.app.blobStore.listBlobs()) n++;
  return n;
}

async function get(reg: TestRegistry, path: string, as: Credentials): Promise<{ status: number; body: string }> {
  const res = await fetch(`${reg.url}${path}`, { headers: { ...auth(as), Accept: [MediaType.OciIndex, MediaType.OciManifest].join(', ') } });
  return { status: res.status, body: await res.text() };
}

describe('promotion', () => {
  let reg: TestRegistry;
  let owner: Credentials;
  let reader: Credentials;
  let index: { digest: string };
  let platforms: PushedImage[];
  let referrer: PushedImage;
  let sigTag: string;
  before(async () => {
    ({ reg, owner, reader } = await startTeamRegistry({ scan: { enabled: false } }));
    expect(await api(reg, 'POST', '/namespaces', { as: ADMIN, body: { name: 'prod' } }), 201);
    const h = auth(owner);
    platforms = [await pushImage(reg.url, 'team/app', { headers: h, layers: 2 }), await pushImage(reg.url, 'team/app', { headers: h })];
    const indexBody = {
      schemaVersion: 2,
      mediaType: MediaType.OciIndex,
      manifests: platforms.map((p, i) => ({ mediaType: MediaType.OciManifest, digest: p.digest, size: p.bytes.length, platform: { os: 'linux', architecture: i ? 'arm64' : 'amd64' } })),
    };
    index = await pushManifest(reg.url, 'team/app', 'v1', indexBody, MediaType.OciIndex, h);
    const subject = { mediaType: MediaType.OciIndex, digest: index.digest, size: Buffer.byteLength(JSON.stringify(indexBody)) };
    referrer = await pushImage(reg.url, 'team/app', { subject, headers: h });
    sigTag = `${index.digest.replace(':', '-')}.sig`;
    await pushImage(reg.url, 'team/app', { reference: sigTag, headers: h });
  });
  after(async () => {
    await reg.close();
  });

  test('the target needs push permission; the copy takes platforms, referrers and signature tags, and no new bytes', async () => {
    const body = { source: { repository: 'team/app', reference: 'v1' }, target: { repository: 'prod/app' } };
    expect(await api(reg, 'POST', '/promote', { as: owner, body }), 403, 'DENIED');
    expect(await api(reg, 'POST', '/promote', { as: reader, body: { ...body, target: { repository: 'team/other' } } }), 403, 'DENIED');
    expect(await api(reg, 'PUT', '/namespaces/prod/members/olivia', { as: ADMIN, body: { role: 'developer' } }), 201);
    expect(await api(reg, 'POST', '/promote', { as: owner, body: { ...body, source: { repository: 'team/app', reference: 'nope' } } }), 404, 'MANIFEST_UNKNOWN');

    const blobsBefore = await storedBlobs(reg);
    const res = expect(await api(reg, 'POST', '/promote', { as: owner, body }), 201).json;
    assert.equal(res.digest, index.digest);
    assert.equal(res.targetTag, 'v1');
    assert.deepEqual([...res.manifests].sort(), [index.digest, ...platforms.map((p) => p.digest), referrer.digest, res.manifests.find((d: string) => ![index.digest, referrer.digest, ...platforms.map((p) => p.digest)].includes(d))].sort());
    assert.equal(res.manifests.length, 5);
    assert.deepEqual(res.tags, [sigTag]);
    assert.equal(await storedBlobs(reg), blobsBefore, 'no bytes were copied');

    const pulled = await get(reg, '/v2/prod/app/manifests/v1', owner);
    assert.equal(pulled.status, 200);
    for (const p of platforms) {
      assert.equal((await get(reg, `/v2/prod/app/manifests/${p.digest}`, owner)).status, 200);
      for (const layer of p.layers) {
        const blob = await fetch(`${reg.url}/v2/prod/app/blobs/${layer.digest}`, { headers: auth(owner) });
        assert.equal(Buffer.from(await blob.arrayBuffer()).length, layer.size);
      }
    }
    const referrers = JSON.parse((await get(reg, `/v2/prod/app/referrers/${index.digest}`, owner)).body) as { manifests: { digest: string }[] };
    assert.deepEqual(referrers.manifests.map((m) => m.digest), [referrer.digest]);
    const tags = JSON.parse((await get(reg, '/v2/prod/app/tags/list', owner)).body) as { tags: string[] };
    assert.deepEqual(tags.tags.sort(), [sigTag, 'v1'].sort());
    // The source is untouched.
    assert.equal((await get(reg, '/v2/team/app/manifests/v1', owner)).status, 200);

    const events = await auditEvents(reg, { action: 'promote' });
    assert.equal(events.length, 1);
    assert.equal(events[0]!.actor, 'olivia');
    assert.equal(events[0]!.repository, 'prod/app');
  });

  test("the target's immutable tags apply; a move removes the source tag", async () => {
    expect(await api(reg, 'POST', '/namespaces/prod/immutable-rules', { as: ADMIN, body: { pattern: 'v*' } }), 201);
    const other = await pushImage(reg.url, 'team/app', { reference: 'v2', headers: auth(owner) });
    const refused = await api(reg, 'POST', '/promote', { as: owner, body: { source: { repository: 'team/app', reference: 'v2' }, target: { repository: 'prod/app', tag: 'v1' } } });
    expect(refused, 403, 'DENIED');
    assert.match(JSON.stringify(refused.json), /tag v1 is immutable/);

    const moved = expect(await api(reg, 'POST', '/promote', { as: owner, body: { source: { repository: 'team/app', reference: 'v2' }, target: { repository: 'prod/app' }, move: true } }), 201).json;
    assert.equal(moved.moved, true);
    assert.equal((await get(reg, '/v2/prod/app/manifests/v2', owner)).status, 200);
    assert.equal((await get(reg, '/v2/team/app/manifests/v2', owner)).status, 404);
    // The manifest itself stays in the source (only the tag moved).
    assert.equal((await get(reg, `/v2/team/app/manifests/${other.digest}`, owner)).status, 200);
    expect(await api(reg, 'POST', '/promote', { as: owner, body: { source: { repository: 'team/app', reference: other.digest }, target: { repository: 'prod/app' }, move: true } }), 400, 'UNSUPPORTED');
  });

  test('registry promote does the same from the command line', async () => {
    const img = await pushImage(reg.url, 'team/cli', { reference: 'rc1', headers: auth(owner) });
    const res = await runCli(reg, ['promote', 'team/cli:rc1', 'prod/cli:stable', '--json']);
    assert.equal(res.code, 0, res.stderr);
    const result = JSON.parse(res.stdout) as { digest: string; targetTag: string };
    assert.deepEqual([result.digest, result.targetTag], [img.digest, 'stable']);
    assert.equal((await get(reg, '/v2/prod/cli/manifests/stable', owner)).status, 200);
    const text = await runCli(reg, ['promote', `team/cli@${img.digest}`, 'prod/cli:copy']);
    assert.match(text.stdout, new RegExp(`promoted team/cli@${img.digest} to prod/cli:copy: 1 manifest\\(s\\), 2 blob\\(s\\) linked`));
    const bad = await runCli(reg, ['promote', 'team/cli', 'prod/cli']);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /the source needs a tag or digest/);
  });

  test("the target namespace's pull policy gates promotion: only signed images enter", async () => {
    expect(await api(reg, 'POST', '/namespaces', { as: ADMIN, body: { name: 'secure' } }), 201);
    expect(await api(reg, 'PUT', '/namespaces/secure/members/olivia', { as: ADMIN, body: { role: 'developer' } }), 201);
    const key = ecKeyPair();
    expect(await api(reg, 'POST', '/namespaces/secure/signing-keys', { as: ADMIN, body: { name: 'release', publicKey: key.publicPem } }), 201);
    expect(await api(reg, 'PUT', '/namespaces/secure/pull-policy', { as: ADMIN, body: { requireSignature: true } }), 200);

    const img = await pushImage(reg.url, 'team/gated', { reference: 'v1', headers: auth(owner) });
    const body = { source: { repository: 'team/gated', reference: 'v1' }, target: { repository: 'secure/gated' } };
    const refused = await api(reg, 'POST', '/promote', { as: owner, body });
    expect(refused, 403, 'DENIED');
    assert.match(JSON.stringify(refused.json), /has no valid signature \(namespace secure requires one\)/);
    assert.equal((await get(reg, '/v2/secure/gated/manifests/v1', ADMIN)).status, 404, 'not tagged in the target');

    // Signed in the source with the key the target trusts: the signature comes along and passes.
    await cosignSign(reg.url, 'team/gated', img.digest, key.privateKey, { headers: auth(owner) });
    const promoted = expect(await api(reg, 'POST', '/promote', { as: owner, body }), 201).json;
    assert.deepEqual(promoted.tags, [`${img.digest.replace(':', '-')}.sig`]);
    assert.equal((await get(reg, '/v2/secure/gated/manifests/v1', owner)).status, 200);
  });
});
