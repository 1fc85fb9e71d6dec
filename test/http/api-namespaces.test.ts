// Management API: /api/v1/namespaces and their members, with the authorisation of admin,
// owner, member, outsider and anonymous callers, and the effect of roles on /v2.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { TestRegistry } from '../helpers/registry.js';
import { ADMIN, api, auditEvents, createUser, expect, startAuthRegistry, tryPushBlob, type Credentials } from '../helpers/api.js';

describe('management API: namespaces and members', () => {
  let reg: TestRegistry;
  let owner: Credentials;
  let dev: Credentials;
  let outsider: Credentials;
  before(async () => {
    reg = await startAuthRegistry();
    owner = await createUser(reg, 'olivia');
    dev = await createUser(reg, 'dan');
    outsider = await createUser(reg, 'oscar');
  });
  after(async () => {
    await reg.close();
  });

  test('a user creates a namespace and becomes its owner; the creation is audited', async () => {
    const res = expect(await api(reg, 'POST', '/namespaces', { as: owner, body: { name: 'team' } }), 201);
    assert.equal(res.json.name, 'team');
    assert.equal(res.json.visibility, 'private');
    assert.equal(res.json.role, 'owner');
    assert.equal(res.headers.get('location'), '/api/v1/namespaces/team');
    const members = expect(await api(reg, 'GET', '/namespaces/team/members', { as: owner }), 200);
    assert.deepEqual(members.json.members, [{ username: 'olivia', role: 'owner' }]);
    const events = await auditEvents(reg, { action: 'namespace.create', actor: 'olivia' });
    assert.deepEqual(events[0]?.detail, { namespace: 'team', visibility: 'private', owner: 'olivia' });
  });

  test('namespace creation: conflicts, other users\' names, bad names, anonymous', async () => {
    expect(await api(reg, 'POST', '/namespaces', { as: outsider, body: { name: 'team' } }), 409, 'UNSUPPORTED');
    expect(await api(reg, 'POST', '/namespaces', { as: outsider, body: { name: 'dan' } }), 403, 'DENIED');
    expect(await api(reg, 'POST', '/namespaces', { as: outsider, body: { name: 'Team X' } }), 400, 'UNSUPPORTED');
    expect(await api(reg, 'POST', '/namespaces', { as: outsider, body: { name: 'side', owner: 'dan' } }), 403, 'DENIED');
    expect(await api(reg, 'POST', '/namespaces', { body: { name: 'anon' } }), 401, 'UNAUTHORIZED');
    // A user may create the namespace named after themselves.
    expect(await api(reg, 'POST', '/namespaces', { as: outsider, body: { name: 'oscar', visibility: 'public' } }), 201);
  });

  test('an admin creates any namespace, optionally naming its owner', async () => {
    const res = expect(await api(reg, 'POST', '/namespaces', { as: ADMIN, body: { name: 'dan', owner: 'dan', visibility: 'public' } }), 201);
    assert.equal(res.json.role, null);
    const members = expect(await api(reg, 'GET', '/namespaces/dan/members', { as: dev }), 200);
    assert.deepEqual(members.json.members, [{ username: 'dan', role: 'owner' }]);
    expect(await api(reg, 'POST', '/namespaces', { as: ADMIN, body: { name: 'infra' } }), 201);
    expect(await api(reg, 'POST', '/namespaces', { as: ADMIN, body: { name: 'ghost', owner: 'nobody' } }), 404, 'NAME_UNKNOWN');
  });

  test('listing and reading: private namespaces are visible to admins and members only', async () => {
    const names = async (who: Credentials) => (expect(await api(reg, 'GET', '/namespaces', { as: who }), 200).json.namespaces as { name: string }[]).map((n) => n.name);
    assert.deepEqual(await names(ADMIN), ['dan', 'infra', 'oscar', 'team']);
    assert.deepEqual(await names(owner), ['dan', 'oscar', 'team']);
    assert.deepEqual(await names(outsider), ['dan', 'oscar']);
    const mine = expect(await api(reg, 'GET', '/namespaces', { as: owner }), 200).json.namespaces.find((n: { name: string }) => n.name === 'team');
    assert.equal(mine.role, 'owner');

    expect(await api(reg, 'GET', '/namespaces/team', { as: owner }), 200);
    expect(await api(reg, 'GET', '/namespaces/team', { as: ADMIN }), 200);
    expect(await api(reg, 'GET', '/namespaces/team', { as: outsider }), 404, 'NAME_UNKNOWN');
    expect(await api(reg, 'GET', '/namespaces/team'), 401, 'UNAUTHORIZED');
    expect(await api(reg, 'GET', '/namespaces/nothing', { as: ADMIN }), 404, 'NAME_UNKNOWN');
  });

  test('owners and admins manage members; members read them; each change is audited', async () => {
    const added = expect(await api(reg, 'PUT', '/namespaces/team/members/dan', { as: owner, body: { role: 'developer' } }), 201);
    assert.deepEqual(added.json, { username: 'dan', role: 'developer' });
    expect(await api(reg, 'GET', '/namespaces/team/members/dan', { as: dev }), 200);
    expect(await api(reg, 'GET', '/namespaces/team/members', { as: dev }), 200);
    // A developer cannot manage members; an outsider does not see the namespace.
    expect(await api(reg, 'PUT', '/namespaces/team/members/oscar', { as: dev, body: { role: 'reader' } }), 403, 'DENIED');
    expect(await api(reg, 'PUT', '/namespaces/team/members/oscar', { as: outsider, body: { role: 'owner' } }), 404, 'NAME_UNKNOWN');
    expect(await api(reg, 'GET', '/namespaces/team/members', { as: outsider }), 404, 'NAME_UNKNOWN');
    expect(await api(reg, 'DELETE', '/namespaces/team/members/olivia', { as: dev }), 403, 'DENIED');
    // Bad input.
    expect(await api(reg, 'PUT', '/namespaces/team/members/nobody', { as: owner, body: { role: 'reader' } }), 404, 'NAME_UNKNOWN');
    expect(await api(reg, 'PUT', '/namespaces/team/members/dan', { as: owner, body: { role: 'god' } }), 400, 'UNSUPPORTED');
    expect(await api(reg, 'PUT', '/namespaces/team/members/dan', { as: owner, body: 'role=owner', contentType: 'application/x-www-form-urlencoded' }), 415, 'UNSUPPORTED');
    expect(await api(reg, 'GET', '/namespaces/team/members/oscar', { as: owner }), 404, 'NAME_UNKNOWN');

    // The role decides what /v2 allows: developer pushes, reader does not, outsider neither.
    assert.equal(await tryPushBlob(reg, 'team/app', dev), 201);
    assert.equal(await tryPushBlob(reg, 'team/app', outsider), 403);
    const changed = expect(await api(reg, 'PUT', '/namespaces/team/members/dan', { as: ADMIN, body: { role: 'reader' } }), 200);
    assert.equal(changed.json.role, 'reader');
    assert.equal(await tryPushBlob(reg, 'team/app', dev), 403);

    const sets = await auditEvents(reg, { action: 'member.set' });
    assert.deepEqual(sets[0]?.detail, { namespace: 'team', username: 'dan', role: 'reader', previous: 'developer' });
    assert.equal(sets[0]?.actor, 'admin');
    assert.deepEqual(sets[1]?.detail, { namespace: 'team', username: 'dan', role: 'developer', previous: null });
    assert.equal(sets[1]?.actor, 'olivia');

    expect(await api(reg, 'DELETE', '/namespaces/team/members/dan', { as: owner }), 204);
    expect(await api(reg, 'DELETE', '/namespaces/team/members/dan', { as: owner }), 404, 'NAME_UNKNOWN');
    const removes = await auditEvents(reg, { action: 'member.remove' });
    assert.deepEqual(removes[0]?.detail, { namespace: 'team', username: 'dan' });
    const pull = await fetch(`${reg.url}/v2/team/app/tags/list`, { headers: { Authorization: `Basic ${Buffer.from(`${dev.username}:${dev.password}`).toString('base64')}` } });
    assert.equal(pull.status, 403);
    await pull.arrayBuffer();
  });

  test('an owner cannot remove or demote the last owner; an admin can', async () => {
    expect(await api(reg, 'DELETE', '/namespaces/team/members/olivia', { as: owner }), 409, 'UNSUPPORTED');
    expect(await api(reg, 'PUT', '/namespaces/team/members/olivia', { as: owner, body: { role: 'reader' } }), 409, 'UNSUPPORTED');
    expect(await api(reg, 'PUT', '/namespaces/infra/members/oscar', { as: ADMIN, body: { role: 'owner' } }), 201);
    expect(await api(reg, 'DELETE', '/namespaces/infra/members/oscar', { as: ADMIN }), 204);
  });

  test('owners and admins change the visibility; others cannot', async () => {
    expect(await api(reg, 'PATCH', '/namespaces/team', { as: outsider, body: { visibility: 'public' } }), 404, 'NAME_UNKNOWN');
    expect(await api(reg, 'PUT', '/namespaces/team/members/dan', { as: owner, body: { role: 'maintainer' } }), 201);
    expect(await api(reg, 'PATCH', '/namespaces/team', { as: dev, body: { visibility: 'public' } }), 403, 'DENIED');
    expect(await api(reg, 'PATCH', '/namespaces/team', { as: owner, body: { visibility: 'hidden' } }), 400, 'UNSUPPORTED');
    const res = expect(await api(reg, 'PATCH', '/namespaces/team', { as: owner, body: { visibility: 'public' } }), 200);
    assert.equal(res.json.visibility, 'public');
    // Public: an outsider sees it and may pull, but not list its members or change it.
    expect(await api(reg, 'GET', '/namespaces/team', { as: outsider }), 200);
    expect(await api(reg, 'GET', '/namespaces/team/members', { as: outsider }), 403, 'DENIED');
    expect(await api(reg, 'PATCH', '/namespaces/team', { as: outsider, body: { visibility: 'private' } }), 403, 'DENIED');
    const tags = await fetch(`${reg.url}/v2/team/app/tags/list`);
    assert.notEqual(tags.status, 401);
    await tags.arrayBuffer();
    expect(await api(reg, 'PATCH', '/namespaces/team', { as: ADMIN, body: { visibility: 'private' } }), 200);
    const events = await auditEvents(reg, { action: 'namespace.update' });
    assert.deepEqual(events[0]?.detail, { namespace: 'team', visibility: 'private', previous: 'public' });
    assert.deepEqual(events[1]?.detail, { namespace: 'team', visibility: 'public', previous: 'private' });
  });

  test('owners and admins delete namespaces (members go with them); others cannot', async () => {
    expect(await api(reg, 'DELETE', '/namespaces/team', { as: dev }), 403, 'DENIED');
    expect(await api(reg, 'DELETE', '/namespaces/team', { as: outsider }), 404, 'NAME_UNKNOWN');
    expect(await api(reg, 'DELETE', '/namespaces/team'), 401, 'UNAUTHORIZED');
    expect(await api(reg, 'DELETE', '/namespaces/team', { as: owner }), 204);
    expect(await api(reg, 'GET', '/namespaces/team', { as: ADMIN }), 404, 'NAME_UNKNOWN');
    const me = expect(await api(reg, 'GET', '/me', { as: owner }), 200);
    assert.deepEqual(me.json.memberships, []);
    expect(await api(reg, 'DELETE', '/namespaces/infra', { as: ADMIN }), 204);
    const events = await auditEvents(reg, { action: 'namespace.delete' });
    assert.deepEqual(
      events.map((e) => [e.actor, e.detail?.['namespace']]),
      [
        ['admin', 'infra'],
        ['olivia', 'team'],
      ],
    );
  });
});
