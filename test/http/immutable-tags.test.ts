// Immutable tags: rules per namespace (globs over tag names) that refuse to move or delete a
// tag once pushed; managed through /api/v1/namespaces/{name}/immutable-rules; enforced with
// access control on and off.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startRegistry, type TestRegistry } from '../helpers/registry.js';
import { ADMIN, api, auditEvents, basic, createUser, expect, startAuthRegistry, startTeamRegistry, type Credentials } from '../helpers/api.js';
import { expectError, pushImage, pushManifest, putManifest, sha256 } from '../helpers/oci.js';

function auth(c: Credentials): Record<string, string> {
  return { Authorization: basic(c) };
}

async function deleteManifest(reg: TestRegistry, repo: string, reference: string, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(`${reg.url}/v2/${repo}/manifests/${reference}`, { method: 'DELETE', headers });
}

async function tagDigest(reg: TestRegistry, repo: string, tag: string, headers: Record<string, string> = {}): Promise<string | null> {
  const res = await fetch(`${reg.url}/v2/${repo}/manifests/${tag}`, { method: 'HEAD', headers: { ...headers, Accept: 'application/vnd.oci.image.manifest.v1+json' } });
  return res.status === 200 ? res.headers.get('docker-content-digest') : null;
}

describe('immutable tags (access control on)', () => {
  let reg: TestRegistry;
  let owner: Credentials;
  let reader: Credentials;
  let outsider: Credentials;
  let ruleId: string;
  before(async () => {
    ({ reg, owner, reader, outsider } = await startTeamRegistry());
  });
  after(async () => {
    await reg.close();
  });

  test('owners and admins add rules; readers and outsiders cannot; additions are audited', async () => {
    expect(await api(reg, 'POST', '/namespaces/team/immutable-rules', { as: reader, body: { pattern: 'v*' } }), 403, 'DENIED');
    expect(await api(reg, 'POST', '/namespaces/team/immutable-rules', { as: outsider, body: { pattern: 'v*' } }), 404, 'NAME_UNKNOWN');
    expect(await api(reg, 'POST', '/namespaces/team/immutable-rules', { body: { pattern: 'v*' } }), 401, 'UNAUTHORIZED');
    const created = expect(await api(reg, 'POST', '/namespaces/team/immutable-rules', { as: owner, body: { pattern: 'v*' } }), 201);
    assert.equal(created.json.pattern, 'v*');
    assert.equal(created.json.namespace, 'team');
    assert.equal(created.json.createdBy, 'olivia');
    ruleId = created.json.id;
    assert.equal(created.headers.get('location'), `/api/v1/namespaces/team/immutable-rules/${ruleId}`);
    expect(await api(reg, 'POST', '/namespaces/team/immutable-rules', { as: ADMIN, body: { pattern: 'release-??' } }), 201);
    expect(await api(reg, 'POST', '/namespaces/team/immutable-rules', { as: owner, body: { pattern: 'v*' } }), 409, 'UNSUPPORTED');
    expect(await api(reg, 'POST', '/namespaces/team/immutable-rules', { as: owner, body: { pattern: 'bad/pattern' } }), 400, 'UNSUPPORTED');
    expect(await api(reg, 'POST', '/namespaces/team/immutable-rules', { as: owner, body: { pattern: '' } }), 400, 'UNSUPPORTED');

    const list = expect(await api(reg, 'GET', '/namespaces/team/immutable-rules', { as: reader }), 200);
    assert.deepEqual(list.json.rules.map((r: { pattern: string }) => r.pattern).sort(), ['release-??', 'v*']);
    expect(await api(reg, 'GET', '/namespaces/team/immutable-rules', { as: outsider }), 404, 'NAME_UNKNOWN');

    const events = await auditEvents(reg, { action: 'immutable-rule.create' });
    const mine = events.find((e) => e.actor === 'olivia');
    assert.deepEqual(mine?.detail, { namespace: 'team', pattern: 'v*', id: ruleId });
    assert.ok(events.some((e) => e.actor === 'admin' && e.detail?.['pattern'] === 'release-??'));
  });

  test('concurrent first pushes of an immutable tag: exactly one wins, the others are refused', async () => {
    const images = [];
    for (let i = 0; i < 12; i++) images.push(await pushImage(reg.url, 'team/race', { headers: auth(owner) }));
    const results = await Promise.all(
      images.map(async (img) => {
        const res = await putManifest(reg.url, 'team/race', 'v9.9', img.bytes, img.manifest.mediaType, auth(owner));
        return { img, status: res.status, text: await res.text() };
      }),
    );
    const won = results.filter((r) => r.status === 201);
    assert.equal(won.length, 1, results.map((r) => r.status).join());
    for (const r of results.filter((x) => x.status !== 201)) {
      assert.equal(r.status, 403, r.text);
      assert.match(r.text, /"code":"DENIED".*tag v9.9 is immutable/);
    }
    assert.equal(await tagDigest(reg, 'team/race', 'v9.9', auth(owner)), won[0]!.img.digest);
  });

  test('an immutable tag can be pushed once and re-pushed with the same digest, never moved', async () => {
    const first = await pushImage(reg.url, 'team/app', { reference: 'v1.0', headers: auth(owner) });
    // Idempotent re-push of the same manifest.
    await pushManifest(reg.url, 'team/app', 'v1.0', first.bytes, first.manifest.mediaType, auth(owner));
    // Another image to the same tag: refused, naming the rule.
    const other = await pushImage(reg.url, 'team/app', { headers: auth(owner) });
    const res = await putManifest(reg.url, 'team/app', 'v1.0', other.bytes, other.manifest.mediaType, auth(owner));
    const body = await expectError(res, 403, 'DENIED');
    assert.equal(body.errors[0]!.message, "tag v1.0 is immutable (rule 'v*' of namespace team)");
    assert.equal(await tagDigest(reg, 'team/app', 'v1.0', auth(owner)), first.digest);
    // release-?? matches release-01 but not release-1.
    await pushImage(reg.url, 'team/app', { reference: 'release-01', headers: auth(owner) });
    await pushImage(reg.url, 'team/app', { reference: 'release-1', headers: auth(owner) });
    await pushImage(reg.url, 'team/app', { reference: 'release-1', headers: auth(owner) });
    const moved = await putManifest(reg.url, 'team/app', 'release-01', other.bytes, other.manifest.mediaType, auth(owner));
    const movedBody = await expectError(moved, 403, 'DENIED');
    assert.match(movedBody.errors[0]!.message ?? '', /rule 'release-\?\?' of namespace team/);
    // Tags no rule matches move freely.
    await pushImage(reg.url, 'team/app', { reference: 'latest', headers: auth(owner) });
    await pushManifest(reg.url, 'team/app', 'latest', other.bytes, other.manifest.mediaType, auth(owner));
    assert.equal(await tagDigest(reg, 'team/app', 'latest', auth(owner)), other.digest);
  });

  test('deleting an immutable tag, or the manifest it points at, is refused', async () => {
    const digest = (await tagDigest(reg, 'team/app', 'v1.0', auth(owner)))!;
    const byTag = await expectError(await deleteManifest(reg, 'team/app', 'v1.0', auth(owner)), 403, 'DENIED');
    assert.equal(byTag.errors[0]!.message, "tag v1.0 is immutable (rule 'v*' of namespace team)");
    const byDigest = await expectError(await deleteManifest(reg, 'team/app', digest, auth(owner)), 403, 'DENIED');
    assert.equal(byDigest.errors[0]!.message, "tag v1.0 is immutable (rule 'v*' of namespace team)");
    assert.equal(await tagDigest(reg, 'team/app', 'v1.0', auth(owner)), digest);
    // A mutable tag and a manifest only mutable tags point at can go.
    const loose = await pushImage(reg.url, 'team/app', { reference: 'scratch', headers: auth(owner) });
    assert.equal((await deleteManifest(reg, 'team/app', loose.digest, auth(owner))).status, 202);
    // An unknown immutable-looking tag is simply unknown.
    await expectError(await deleteManifest(reg, 'team/app', 'v9.9', auth(owner)), 404, 'MANIFEST_UNKNOWN');
  });

  test('rules are per namespace', async () => {
    await pushImage(reg.url, 'olivia/app', { reference: 'v1.0', headers: auth(owner) });
    await pushImage(reg.url, 'olivia/app', { reference: 'v1.0', headers: auth(owner) });
  });

  test('removing a rule (owner) frees its tags; removal is audited; readers cannot remove', async () => {
    expect(await api(reg, 'DELETE', `/namespaces/team/immutable-rules/${ruleId}`, { as: reader }), 403, 'DENIED');
    expect(await api(reg, 'DELETE', `/namespaces/team/immutable-rules/${ruleId}`, { as: owner }), 204);
    expect(await api(reg, 'DELETE', `/namespaces/team/immutable-rules/${ruleId}`, { as: owner }), 404, 'NAME_UNKNOWN');
    const events = await auditEvents(reg, { action: 'immutable-rule.delete' });
    assert.deepEqual(events[0]?.detail, { namespace: 'team', pattern: 'v*', id: ruleId });
    assert.equal(events[0]?.actor, 'olivia');
    const next = await pushImage(reg.url, 'team/app', { reference: 'v1.0', headers: auth(owner) });
    assert.equal(await tagDigest(reg, 'team/app', 'v1.0', auth(owner)), next.digest);
    assert.equal((await deleteManifest(reg, 'team/app', 'v1.0', auth(owner))).status, 202);
  });

  test('the OpenAPI document describes the policy endpoints', async () => {
    const doc = expect(await api(reg, 'GET', '/openapi.json'), 200).json;
    for (const p of ['/namespaces/{name}/immutable-rules', '/namespaces/{name}/immutable-rules/{id}', '/namespaces/{name}/quota', '/repositories/{repository}/tags']) {
      assert.ok(doc.paths[p], `${p} is described`);
    }
  });
});

describe('immutable tags (access control off)', () => {
  let reg: TestRegistry;
  before(async () => {
    reg = await startRegistry();
  });
  after(async () => {
    await reg.close();
  });

  test('rules stored for a namespace name are enforced without access control', async () => {
    await reg.app.policies.store.addImmutableRule({ namespace: 'lib', pattern: '*', createdBy: 'test' });
    const a = await pushImage(reg.url, 'lib/tool', { reference: 'stable' });
    // Same digest again: fine.
    await pushManifest(reg.url, 'lib/tool', 'stable', a.bytes, a.manifest.mediaType);
    const b = await pushImage(reg.url, 'lib/tool');
    const body = await expectError(await putManifest(reg.url, 'lib/tool', 'stable', b.bytes, b.manifest.mediaType), 403, 'DENIED');
    assert.equal(body.errors[0]!.message, "tag stable is immutable (rule '*' of namespace lib)");
    await expectError(await deleteManifest(reg, 'lib/tool', 'stable'), 403, 'DENIED');
    await expectError(await deleteManifest(reg, 'lib/tool', a.digest), 403, 'DENIED');
    // A manifest no tag points at can still be deleted.
    assert.equal((await deleteManifest(reg, 'lib/tool', b.digest)).status, 202);
    // Other namespaces are unaffected.
    await pushImage(reg.url, 'free/app', { reference: 'stable' });
    const c = await pushImage(reg.url, 'free/app');
    await pushManifest(reg.url, 'free/app', 'stable', c.bytes, c.manifest.mediaType);
    assert.equal(await tagDigest(reg, 'free/app', 'stable'), c.digest);
    assert.equal(sha256(a.bytes), a.digest);
  });
});
