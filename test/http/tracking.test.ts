// Manifest tracking: pushed at / by on every push, pulls counted in memory and written in
// batches, listed by GET /api/v1/repositories/{name}/tags for callers who may pull.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startRegistry, type TestRegistry } from '../helpers/registry.js';
import { ADMIN, api, basic, createUser, expect, startAuthRegistry, startTeamRegistry, type Credentials } from '../helpers/api.js';
import { eventually } from '../helpers/auth.js';
import { pushImage, pushManifest } from '../helpers/oci.js';

function auth(c: Credentials): Record<string, string> {
  return { Authorization: basic(c) };
}

async function pull(reg: TestRegistry, repo: string, reference: string, headers: Record<string, string> = {}, method = 'GET'): Promise<void> {
  const res = await fetch(`${reg.url}/v2/${repo}/manifests/${reference}`, { method, headers: { ...headers, Accept: 'application/vnd.oci.image.manifest.v1+json' } });
  await res.arrayBuffer();
  assert.equal(res.status, 200);
}

describe('manifest tracking (access control on)', () => {
  let reg: TestRegistry;
  let owner: Credentials;
  let reader: Credentials;
  let outsider: Credentials;
  let v1: string;
  before(async () => {
    ({ reg, owner, reader, outsider } = await startTeamRegistry());
  });
  after(async () => {
    await reg.close();
  });

  test('a push records when and by whom', async () => {
    const before = Date.now();
    v1 = (await pushImage(reg.url, 'team/app', { reference: 'v1', headers: auth(owner) })).digest;
    const res = expect(await api(reg, 'GET', '/repositories/team/app/tags', { as: reader }), 200);
    assert.equal(res.json.repository, 'team/app');
    assert.equal(res.json.tags.length, 1);
    const [tag] = res.json.tags;
    assert.equal(tag.tag, 'v1');
    assert.equal(tag.digest, v1);
    assert.equal(tag.pushedBy, 'olivia');
    assert.ok(Date.parse(tag.pushedAt) >= before - 1000 && Date.parse(tag.pushedAt) <= Date.now() + 1000);
    assert.equal(tag.lastPulledAt, null);
    assert.equal(tag.pullCount, 0);
  });

  test('pulls (GET, not HEAD) are counted in batches, by tag and by digest', async () => {
    const before = Date.now();
    await pull(reg, 'team/app', 'v1', auth(reader));
    await pull(reg, 'team/app', 'v1', auth(reader));
    await pull(reg, 'team/app', v1, auth(owner));
    await pull(reg, 'team/app', 'v1', auth(reader), 'HEAD');
    // Written by the background flush within about a second, without any API call.
    await eventually(async () => {
      const rows = await reg.app.policies.store.listTagStats('team/app', { limit: 10 });
      return rows[0]?.pullCount === 3;
    }, 'the pull batch is written');
    const tag = expect(await api(reg, 'GET', '/repositories/team/app/tags', { as: reader }), 200).json.tags[0];
    assert.equal(tag.pullCount, 3);
    assert.ok(Date.parse(tag.lastPulledAt) >= before - 1000);
    // The API writes what this node counted before answering.
    await pull(reg, 'team/app', 'v1', auth(reader));
    assert.equal(expect(await api(reg, 'GET', '/repositories/team/app/tags', { as: reader }), 200).json.tags[0].pullCount, 4);
  });

  test('a re-push records the new pusher; tags of one manifest share its data', async () => {
    const image = await pushImage(reg.url, 'team/app', { reference: 'v2', headers: auth(owner) });
    await pushManifest(reg.url, 'team/app', 'stable', image.bytes, image.manifest.mediaType, auth(ADMIN));
    const tags = expect(await api(reg, 'GET', '/repositories/team/app/tags', { as: owner }), 200).json.tags as { tag: string; digest: string; pushedBy: string }[];
    assert.deepEqual(
      tags.map((t) => [t.tag, t.pushedBy]),
      [
        ['stable', 'admin'],
        ['v1', 'olivia'],
        ['v2', 'admin'],
      ],
    );
  });

  test('paging with limit and last', async () => {
    const first = expect(await api(reg, 'GET', '/repositories/team/app/tags?limit=2', { as: owner }), 200).json;
    assert.deepEqual(first.tags.map((t: { tag: string }) => t.tag), ['stable', 'v1']);
    assert.equal(first.next, '/api/v1/repositories/team/app/tags?limit=2&last=v1');
    const second = expect(await api(reg, 'GET', '/repositories/team/app/tags?limit=2&last=v1', { as: owner }), 200).json;
    assert.deepEqual(second.tags.map((t: { tag: string }) => t.tag), ['v2']);
    assert.equal(second.next, undefined);
    expect(await api(reg, 'GET', '/repositories/team/app/tags?limit=0', { as: owner }), 400, 'UNSUPPORTED');
  });

  test('only callers who may pull the repository see it', async () => {
    expect(await api(reg, 'GET', '/repositories/team/app/tags', { as: outsider }), 404, 'NAME_UNKNOWN');
    expect(await api(reg, 'GET', '/repositories/team/app/tags'), 401, 'UNAUTHORIZED');
    expect(await api(reg, 'GET', '/repositories/team/app/tags', { as: ADMIN }), 200);
    expect(await api(reg, 'GET', '/repositories/team/none/tags', { as: ADMIN }), 404, 'NAME_UNKNOWN');
    expect(await api(reg, 'GET', '/repositories/team/app/nothing', { as: ADMIN }), 404, 'NAME_UNKNOWN');
    // Public namespaces are readable by everyone authenticated.
    expect(await api(reg, 'PATCH', '/namespaces/team', { as: owner, body: { visibility: 'public' } }), 200);
    expect(await api(reg, 'GET', '/repositories/team/app/tags', { as: outsider }), 200);
  });

  test('deleting a manifest drops its tracking; pulls counted before are dropped quietly', async () => {
    const image = await pushImage(reg.url, 'team/gone', { reference: 'x', headers: auth(owner) });
    await pull(reg, 'team/gone', 'x', auth(owner));
    const res = await fetch(`${reg.url}/v2/team/gone/manifests/${image.digest}`, { method: 'DELETE', headers: auth(owner) });
    assert.equal(res.status, 202);
    await reg.app.policies.flush();
    assert.deepEqual(expect(await api(reg, 'GET', '/repositories/team/gone/tags', { as: owner }), 200).json.tags, []);
    // The manifest can come back, with fresh tracking.
    await pushManifest(reg.url, 'team/gone', 'x', image.bytes, image.manifest.mediaType, auth(owner));
    const tag = expect(await api(reg, 'GET', '/repositories/team/gone/tags', { as: owner }), 200).json.tags[0];
    assert.equal(tag.pullCount, 0);
  });
});

describe('manifest tracking (access control off)', () => {
  let reg: TestRegistry;
  before(async () => {
    reg = await startRegistry();
  });
  after(async () => {
    await reg.close();
  });

  test('pushes are recorded as anonymous and pulls counted', async () => {
    const image = await pushImage(reg.url, 'lib/app', { reference: 'latest' });
    await pull(reg, 'lib/app', 'latest');
    await pull(reg, 'lib/app', image.digest);
    await reg.app.policies.flush();
    const [row] = await reg.app.policies.store.listTagStats('lib/app', { limit: 10 });
    assert.equal(row?.pushedBy, 'anonymous');
    assert.equal(row?.pullCount, 2);
    assert.ok(row?.lastPulledAt instanceof Date);
  });
});
