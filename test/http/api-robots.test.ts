// Management API: robot accounts. The secret is shown once, works as Basic credentials on
// /v2 within the robot's actions and namespace, and stops working on revocation or expiry.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { TestRegistry } from '../helpers/registry.js';
import { ADMIN, api, assertNoSecrets, auditEvents, basic, createUser, expect, startAuthRegistry, tryPushBlob, type Credentials } from '../helpers/api.js';

describe('management API: robots', () => {
  let reg: TestRegistry;
  let owner: Credentials;
  let maintainer: Credentials;
  let outsider: Credentials;
  before(async () => {
    reg = await startAuthRegistry();
    owner = await createUser(reg, 'olivia');
    maintainer = await createUser(reg, 'max');
    outsider = await createUser(reg, 'oscar');
    expect(await api(reg, 'POST', '/namespaces', { as: owner, body: { name: 'ci' } }), 201);
    expect(await api(reg, 'PUT', '/namespaces/ci/members/max', { as: owner, body: { role: 'maintainer' } }), 201);
  });
  after(async () => {
    await reg.close();
  });

  test('an owner creates a namespace robot: its secret is shown once and pushes with Basic auth', async () => {
    const created = expect(await api(reg, 'POST', '/namespaces/ci/robots', { as: owner, body: { name: 'builder', actions: ['pull', 'push'], expiresInDays: 30 } }), 201);
    assert.equal(created.json.name, 'robot$ci+builder');
    assert.equal(created.json.namespace, 'ci');
    assert.deepEqual(created.json.actions, ['pull', 'push']);
    assert.equal(created.json.createdBy, 'olivia');
    assert.equal(created.json.revoked, false);
    const expiresIn = new Date(created.json.expiresAt).getTime() - Date.now();
    assert.ok(expiresIn > 29 * 86_400_000 && expiresIn <= 30 * 86_400_000);
    const secret = created.json.secret as string;
    assert.ok(secret.length >= 32);
    assertNoSecrets(created.text);

    const robot = { username: 'robot$ci+builder', password: secret };
    assert.equal(await tryPushBlob(reg, 'ci/app', robot), 201);
    // Only in its namespace, only its actions.
    assert.equal(await tryPushBlob(reg, 'olivia/app', robot), 403);
    const del = await fetch(`${reg.url}/v2/ci/app/manifests/sha256:${'0'.repeat(64)}`, { method: 'DELETE', headers: { Authorization: basic(robot) } });
    assert.equal(del.status, 403);
    await del.arrayBuffer();

    // Listed without the secret; the secret never appears again.
    const list = expect(await api(reg, 'GET', '/namespaces/ci/robots', { as: owner }), 200);
    assert.equal(list.json.robots.length, 1);
    assert.equal(list.json.robots[0].secret, undefined);
    assert.ok(list.json.robots[0].lastUsedAt !== null);
    assertNoSecrets(list.text, [secret]);
    const adminList = expect(await api(reg, 'GET', '/namespaces/ci/robots', { as: ADMIN }), 200);
    assertNoSecrets(adminList.text, [secret]);
    const audit = expect(await api(reg, 'GET', '/audit?limit=1000', { as: ADMIN }), 200);
    assertNoSecrets(audit.text, [secret]);

    const events = await auditEvents(reg, { action: 'robot.create' });
    assert.equal(events[0]?.actor, 'olivia');
    assert.equal(events[0]?.detail?.['robot'], 'robot$ci+builder');
    assert.deepEqual(events[0]?.detail?.['actions'], ['pull', 'push']);

    // A robot cannot use the management API beyond /me.
    const me = expect(await api(reg, 'GET', '/me', { as: robot }), 200);
    assert.deepEqual(me.json, { kind: 'robot', name: 'robot$ci+builder', namespace: 'ci', actions: ['pull', 'push'] });
    expect(await api(reg, 'GET', '/namespaces/ci/robots', { as: robot }), 403, 'DENIED');
    expect(await api(reg, 'POST', '/namespaces/ci/robots', { as: robot, body: { name: 'x', actions: ['pull'] } }), 403, 'DENIED');

    // Revoked: refused on /v2, still listed as revoked, revocation audited.
    expect(await api(reg, 'DELETE', '/namespaces/ci/robots/builder', { as: owner }), 204);
    assert.equal(await tryPushBlob(reg, 'ci/app', robot), 401);
    const after = expect(await api(reg, 'GET', '/namespaces/ci/robots', { as: owner }), 200);
    assert.equal(after.json.robots[0].revoked, true);
    const revokes = await auditEvents(reg, { action: 'robot.revoke' });
    assert.deepEqual(revokes[0]?.detail, { robot: 'robot$ci+builder', namespace: 'ci' });
    // The name stays taken.
    expect(await api(reg, 'POST', '/namespaces/ci/robots', { as: owner, body: { name: 'builder', actions: ['pull'] } }), 409, 'UNSUPPORTED');
  });

  test('a robot past its expiry is refused, even right after a successful login', async () => {
    const expiresAt = new Date(Date.now() + 1500).toISOString();
    const created = expect(await api(reg, 'POST', '/namespaces/ci/robots', { as: ADMIN, body: { name: 'shortlived', actions: ['push'], expiresAt } }), 201);
    const robot = { username: created.json.name as string, password: created.json.secret as string };
    assert.equal(await tryPushBlob(reg, 'ci/app', robot), 201);
    await new Promise((r) => setTimeout(r, 1700));
    assert.equal(await tryPushBlob(reg, 'ci/app', robot), 401);
    const list = expect(await api(reg, 'GET', '/namespaces/ci/robots', { as: owner }), 200);
    assert.equal(list.json.robots.find((r: { name: string }) => r.name === 'robot$ci+shortlived').expired, true);
  });

  test('robot input is validated', async () => {
    const bad = [
      { name: 'Bad Name', actions: ['pull'] },
      { name: 'a+b', actions: ['pull'] },
      { name: 'ok', actions: [] },
      { name: 'ok', actions: ['admin'] },
      { name: 'ok', actions: ['pull'], expiresAt: '2000-01-01T00:00:00Z' },
      { name: 'ok', actions: ['pull'], expiresAt: 'tomorrow' },
      { name: 'ok', actions: ['pull'], expiresInDays: 0 },
      { name: 'ok', actions: ['pull'], expiresInDays: 1, expiresAt: new Date(Date.now() + 86_400_000).toISOString() },
      { name: 'ok', actions: ['pull'], secret: 'chosen-by-me' },
    ];
    for (const body of bad) expect(await api(reg, 'POST', '/namespaces/ci/robots', { as: owner, body }), 400, 'UNSUPPORTED');
    expect(await api(reg, 'POST', '/namespaces/ci/robots', { as: owner, body: JSON.stringify({ name: 'ok', actions: ['pull'] }), contentType: 'text/plain' }), 415, 'UNSUPPORTED');
    const robots = expect(await api(reg, 'GET', '/namespaces/ci/robots', { as: owner }), 200).json.robots as { name: string }[];
    assert.ok(!robots.some((r) => r.name === 'robot$ci+ok'));
  });

  test('namespace robots: only owners and admins manage them', async () => {
    expect(await api(reg, 'GET', '/namespaces/ci/robots', { as: maintainer }), 403, 'DENIED');
    expect(await api(reg, 'POST', '/namespaces/ci/robots', { as: maintainer, body: { name: 'm', actions: ['pull'] } }), 403, 'DENIED');
    expect(await api(reg, 'GET', '/namespaces/ci/robots', { as: outsider }), 404, 'NAME_UNKNOWN');
    expect(await api(reg, 'POST', '/namespaces/ci/robots', { as: outsider, body: { name: 'o', actions: ['pull'] } }), 404, 'NAME_UNKNOWN');
    expect(await api(reg, 'GET', '/namespaces/ci/robots'), 401, 'UNAUTHORIZED');
    const created = expect(await api(reg, 'POST', '/namespaces/ci/robots', { as: ADMIN, body: { name: 'reader', actions: ['pull'] } }), 201);
    assert.equal(created.json.expiresAt, null);
    expect(await api(reg, 'DELETE', '/namespaces/ci/robots/reader', { as: maintainer }), 403, 'DENIED');
    expect(await api(reg, 'DELETE', '/namespaces/ci/robots/robot$ci+reader', { as: outsider }), 404, 'NAME_UNKNOWN');
    expect(await api(reg, 'DELETE', '/namespaces/ci/robots/nothing', { as: owner }), 404, 'NAME_UNKNOWN');
    // Full names work too, but only for robots of this namespace.
    expect(await api(reg, 'POST', '/namespaces', { as: owner, body: { name: 'other' } }), 201);
    expect(await api(reg, 'DELETE', '/namespaces/other/robots/robot$ci+reader', { as: owner }), 404, 'NAME_UNKNOWN');
    expect(await api(reg, 'DELETE', '/namespaces/ci/robots/robot$ci+reader', { as: owner }), 204);
  });

  test('system-wide robots: admins only; they act in every namespace', async () => {
    expect(await api(reg, 'GET', '/robots', { as: owner }), 403, 'DENIED');
    expect(await api(reg, 'POST', '/robots', { as: owner, body: { name: 'mirror', actions: ['pull'] } }), 403, 'DENIED');
    expect(await api(reg, 'POST', '/robots', { body: { name: 'mirror', actions: ['pull'] } }), 401, 'UNAUTHORIZED');
    const created = expect(await api(reg, 'POST', '/robots', { as: ADMIN, body: { name: 'mirror', actions: ['pull', 'push'] } }), 201);
    assert.equal(created.json.name, 'robot$mirror');
    assert.equal(created.json.namespace, null);
    const robot = { username: 'robot$mirror', password: created.json.secret as string };
    assert.equal(await tryPushBlob(reg, 'ci/app', robot), 201);
    assert.equal(await tryPushBlob(reg, 'olivia/app', robot), 201);

    const list = expect(await api(reg, 'GET', '/robots', { as: ADMIN }), 200);
    assert.deepEqual(
      list.json.robots.map((r: { name: string }) => r.name),
      ['robot$mirror'],
    );
    assertNoSecrets(list.text, [robot.password]);
    expect(await api(reg, 'DELETE', '/robots/mirror', { as: owner }), 403, 'DENIED');
    // A namespace robot is not revoked through /robots.
    expect(await api(reg, 'DELETE', '/robots/robot$ci+shortlived', { as: ADMIN }), 404, 'NAME_UNKNOWN');
    expect(await api(reg, 'DELETE', '/robots/mirror', { as: ADMIN }), 204);
    assert.equal(await tryPushBlob(reg, 'ci/app', robot), 401);
    const revokes = await auditEvents(reg, { action: 'robot.revoke', actor: 'admin' });
    assert.deepEqual(revokes[0]?.detail, { robot: 'robot$mirror', namespace: null });
  });

  test('deleting a namespace removes its robots', async () => {
    const created = expect(await api(reg, 'POST', '/namespaces/other/robots', { as: owner, body: { name: 'gone', actions: ['push'] } }), 201);
    const robot = { username: created.json.name as string, password: created.json.secret as string };
    assert.equal(await tryPushBlob(reg, 'other/app', robot), 201);
    expect(await api(reg, 'DELETE', '/namespaces/other', { as: owner }), 204);
    assert.equal(await tryPushBlob(reg, 'other/app', robot), 401);
  });
});
