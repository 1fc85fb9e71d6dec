// Quotas per namespace: stored bytes (each distinct blob counted once per namespace) and the
// repository count, enforced at blob commit (monolithic POST, chunked PUT), mount, and
// repository creation; read and set through /api/v1/namespaces/{name}/quota.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startRegistry, type TestRegistry } from '../helpers/registry.js';
import { ADMIN, api, auditEvents, basic, createUser, expect, startAuthRegistry, startTeamRegistry, type Credentials } from '../helpers/api.js';
import { expectError, expectStatus, locationOf, pushBlob, randomBytes, sha256, withDigest } from '../helpers/oci.js';

function auth(c: Credentials): Record<string, string> {
  return { Authorization: basic(c) };
}

function monolithic(reg: TestRegistry, repo: string, bytes: Buffer<ArrayBuffer>, headers: Record<string, string>): Promise<Response> {
  return fetch(`${reg.url}/v2/${repo}/blobs/uploads/?digest=${sha256(bytes)}`, {
    method: 'POST',
    headers: { ...headers, 'Content-Type': 'application/octet-stream' },
    body: bytes,
  });
}

/** POST, PATCH, then PUT: the answer to the PUT. */
async function chunked(reg: TestRegistry, repo: string, bytes: Buffer<ArrayBuffer>, headers: Record<string, string>): Promise<Response> {
  const start = await fetch(`${reg.url}/v2/${repo}/blobs/uploads/`, { method: 'POST', headers: { ...headers, 'Content-Length': '0' } });
  await expectStatus(start, 202);
  const patch = await fetch(locationOf(start, reg.url), {
    method: 'PATCH',
    headers: { ...headers, 'Content-Type': 'application/octet-stream', 'Content-Range': `0-${bytes.length - 1}` },
    body: bytes,
  });
  await expectStatus(patch, 202);
  return fetch(withDigest(locationOf(patch, reg.url), sha256(bytes)), { method: 'PUT', headers: { ...headers, 'Content-Length': '0' } });
}

function mount(reg: TestRegistry, repo: string, digest: string, from: string, headers: Record<string, string>): Promise<Response> {
  return fetch(`${reg.url}/v2/${repo}/blobs/uploads/?mount=${digest}&from=${from}`, { method: 'POST', headers: { ...headers, 'Content-Length': '0' } });
}

describe('namespace quotas (access control on)', () => {
  let reg: TestRegistry;
  let owner: Credentials;
  let reader: Credentials;
  let outsider: Credentials;
  const shared = randomBytes(400);
  before(async () => {
    ({ reg, owner, reader, outsider } = await startTeamRegistry());
  });
  after(async () => {
    await reg.close();
  });

  test('usage without limits; members read it, outsiders do not see it', async () => {
    const empty = expect(await api(reg, 'GET', '/namespaces/team/quota', { as: owner }), 200);
    assert.deepEqual(empty.json, { namespace: 'team', limitBytes: null, usedBytes: 0, limitRepositories: null, repositories: 0 });
    expect(await api(reg, 'GET', '/namespaces/team/quota', { as: reader }), 200);
    expect(await api(reg, 'GET', '/namespaces/team/quota', { as: outsider }), 404, 'NAME_UNKNOWN');
    expect(await api(reg, 'GET', '/namespaces/team/quota'), 401, 'UNAUTHORIZED');
  });

  test('only administrators set a quota; the change is audited', async () => {
    expect(await api(reg, 'PUT', '/namespaces/team/quota', { as: owner, body: { limitBytes: 1000 } }), 403, 'DENIED');
    expect(await api(reg, 'PUT', '/namespaces/team/quota', { as: reader, body: { limitBytes: 1000 } }), 403, 'DENIED');
    expect(await api(reg, 'PUT', '/namespaces/team/quota', { as: ADMIN, body: { limitBytes: -1 } }), 400, 'UNSUPPORTED');
    expect(await api(reg, 'PUT', '/namespaces/nothing/quota', { as: ADMIN, body: { limitBytes: 1 } }), 404, 'NAME_UNKNOWN');
    const set = expect(await api(reg, 'PUT', '/namespaces/team/quota', { as: ADMIN, body: { limitBytes: 1000 } }), 200);
    assert.deepEqual(set.json, { namespace: 'team', limitBytes: 1000, usedBytes: 0, limitRepositories: null, repositories: 0 });
    const events = await auditEvents(reg, { action: 'quota.set' });
    assert.equal(events[0]?.actor, 'admin');
    assert.deepEqual(events[0]?.detail, { namespace: 'team', limitBytes: 1000, limitRepositories: null, previous: null });
  });

  test('a blob is counted once per namespace, whichever repositories link it', async () => {
    await expectStatus(await monolithic(reg, 'team/a', shared, auth(owner)), 201);
    await expectStatus(await monolithic(reg, 'team/b', shared, auth(owner)), 201);
    await expectStatus(await mount(reg, 'team/c', sha256(shared), 'team/a', auth(owner)), 201);
    const quota = expect(await api(reg, 'GET', '/namespaces/team/quota', { as: reader }), 200).json;
    assert.equal(quota.usedBytes, 400);
    assert.equal(quota.repositories, 3);
    // Another namespace holding the same blob is counted there, not here.
    await pushBlob(reg.url, 'olivia/x', shared, undefined, auth(owner));
    assert.equal(expect(await api(reg, 'GET', '/namespaces/team/quota', { as: owner }), 200).json.usedBytes, 400);
  });

  test('a push over the byte limit is refused with the limit and the usage', async () => {
    const big = randomBytes(700);
    const mono = await expectError(await monolithic(reg, 'team/a', big, auth(owner)), 403, 'DENIED');
    assert.equal(mono.errors[0]!.message, 'storage quota of namespace team exceeded: limit 1000 bytes, used 400 bytes, this blob needs 700 more');
    assert.deepEqual(mono.errors[0]!.detail, { namespace: 'team', limitBytes: 1000, usedBytes: 400, blobSize: 700, digest: sha256(big) });
    const put = await expectError(await chunked(reg, 'team/a', big, auth(owner)), 403, 'DENIED');
    assert.match(put.errors[0]!.message ?? '', /limit 1000 bytes, used 400 bytes/);
    // A mount from another namespace adds the blob here: refused too.
    await pushBlob(reg.url, 'olivia/x', big, undefined, auth(owner));
    const mounted = await expectError(await mount(reg, 'team/a', sha256(big), 'olivia/x', auth(owner)), 403, 'DENIED');
    assert.match(mounted.errors[0]!.message ?? '', /limit 1000 bytes, used 400 bytes/);
    // Nothing was linked.
    assert.equal((await fetch(`${reg.url}/v2/team/a/blobs/${sha256(big)}`, { method: 'HEAD', headers: auth(owner) })).status, 404);
    // Exactly up to the limit is fine; a blob the namespace holds already costs nothing.
    await expectStatus(await chunked(reg, 'team/a', randomBytes(600), auth(owner)), 201);
    await expectStatus(await monolithic(reg, 'team/b', shared, auth(owner)), 201);
    assert.equal(expect(await api(reg, 'GET', '/namespaces/team/quota', { as: owner }), 200).json.usedBytes, 1000);
    await expectError(await monolithic(reg, 'team/a', randomBytes(1), auth(owner)), 403, 'DENIED');
  });

  test('concurrent pushes cannot together exceed the limit', async () => {
    expect(await api(reg, 'POST', '/namespaces', { as: ADMIN, body: { name: 'burst' } }), 201);
    expect(await api(reg, 'PUT', '/namespaces/burst/quota', { as: ADMIN, body: { limitBytes: 10_000 } }), 200);
    const blobs = Array.from({ length: 8 }, () => randomBytes(3000));
    const results = await Promise.all(
      blobs.map(async (b, i) => {
        const res = await monolithic(reg, `burst/r${i % 2}`, b, auth(ADMIN));
        return { status: res.status, text: await res.text() };
      }),
    );
    const accepted = results.filter((r) => r.status === 201).length;
    assert.equal(accepted, 3, results.map((r) => r.status).join());
    for (const r of results.filter((x) => x.status !== 201)) {
      assert.equal(r.status, 403, r.text);
      assert.match(r.text, /storage quota of namespace burst exceeded: limit 10000 bytes, used \d+ bytes/);
    }
    const usage = expect(await api(reg, 'GET', '/namespaces/burst/quota', { as: ADMIN }), 200);
    assert.equal(usage.json.usedBytes, 9000);
  });

  test('a repository count limit refuses new repositories, not pushes to existing ones', async () => {
    const set = expect(await api(reg, 'PUT', '/namespaces/team/quota', { as: ADMIN, body: { limitBytes: null, limitRepositories: 3 } }), 200);
    assert.deepEqual(set.json, { namespace: 'team', limitBytes: null, usedBytes: 1000, limitRepositories: 3, repositories: 3 });
    const started = await fetch(`${reg.url}/v2/team/d/blobs/uploads/`, { method: 'POST', headers: { ...auth(owner), 'Content-Length': '0' } });
    const body = await expectError(started, 403, 'DENIED');
    assert.equal(body.errors[0]!.message, 'repository quota of namespace team reached: limit 3 repositories, 3 in use');
    await expectError(await monolithic(reg, 'team/d', randomBytes(10), auth(owner)), 403, 'DENIED');
    await expectError(await mount(reg, 'team/d', sha256(shared), 'team/a', auth(owner)), 403, 'DENIED');
    await expectStatus(await monolithic(reg, 'team/a', randomBytes(10), auth(owner)), 201);
    assert.equal(expect(await api(reg, 'GET', '/namespaces/team/quota', { as: owner }), 200).json.repositories, 3);
    const events = await auditEvents(reg, { action: 'quota.set' });
    assert.deepEqual(events[0]?.detail, { namespace: 'team', limitBytes: null, limitRepositories: 3, previous: { limitBytes: 1000, limitRepositories: null } });
  });

  test('a namespace whose name prefixes another is counted apart', async () => {
    expect(await api(reg, 'POST', '/namespaces', { as: owner, body: { name: 'team2' } }), 201);
    await pushBlob(reg.url, 'team2/a', randomBytes(50), undefined, auth(owner));
    const quota = expect(await api(reg, 'GET', '/namespaces/team/quota', { as: owner }), 200).json;
    assert.equal(quota.repositories, 3);
    assert.equal(expect(await api(reg, 'GET', '/namespaces/team2/quota', { as: owner }), 200).json.usedBytes, 50);
  });
});

describe('namespace quotas (access control off)', () => {
  let reg: TestRegistry;
  before(async () => {
    reg = await startRegistry();
  });
  after(async () => {
    await reg.close();
  });

  test('a quota stored for a namespace name is enforced', async () => {
    await reg.app.policies.store.setQuota({ namespace: 'lib', limitBytes: 100, limitRepositories: 1 });
    await pushBlob(reg.url, 'lib/one', randomBytes(60));
    const body = await expectError(await monolithic(reg, 'lib/one', randomBytes(50), {}), 403, 'DENIED');
    assert.equal(body.errors[0]!.message, 'storage quota of namespace lib exceeded: limit 100 bytes, used 60 bytes, this blob needs 50 more');
    await expectError(await monolithic(reg, 'lib/two', randomBytes(5), {}), 403, 'DENIED');
    await pushBlob(reg.url, 'other/two', randomBytes(500));
  });
});
