// LDAP logins against a real OpenLDAP (slapd on loopback): Basic auth on /v2 and the token
// endpoint with directory passwords, accounts made on first login, group → namespace role
// rules checked through real pushes and pulls, roles re-read at each login, local accounts
// beside the directory, no filter injection, ldaps:// and StartTLS, a directory that is down.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startRegistry, type TestRegistry } from '../helpers/registry.js';
import { ADMIN, api, expect } from '../helpers/api.js';
import { basicAuth, bearerAuth, requestToken, type Credentials } from '../helpers/auth.js';
import { pushImage, expectStatus, checkErrorBody } from '../helpers/oci.js';
import { GROUPS, PEOPLE, SERVICE_DN, SERVICE_PASSWORD, groupDn, ldapSection, startSlapd, type Slapd } from '../helpers/slapd.js';
import { freePort } from '../helpers/proxy.js';
import { fillFilter, LdapDirectory } from '../../src/auth/ldap.js';

const alice: Credentials = { username: 'alice', password: 'alice-secret' };
const bob: Credentials = { username: 'bob', password: 'bob-secret' };
const carol: Credentials = { username: 'carol', password: 'carol-secret' };
/** A directory person named like the registry's local admin. */
const fakeAdmin: Credentials = { username: ADMIN.username, password: 'directory-admin-secret' };

function ldapSettings(slapd: Slapd, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    auth: { enabled: true, initialAdminUsername: ADMIN.username, initialAdminPassword: ADMIN.password, throttleSlowAfter: 10_000, throttleRefuseAfter: 10_000 },
    ldap: ldapSection(slapd, {
      adminGroups: [groupDn('registry-admins')],
      roleRules: [
        { group: groupDn('team-a-dev'), namespace: 'team-a', role: 'developer' },
        { group: groupDn('team-a-read'), namespace: 'team-a', role: 'reader' },
        { group: groupDn('team-a-lead'), namespace: 'team-a', role: 'owner' },
      ],
      cacheTtlMs: 0,
      ...extra,
    }),
  };
}

async function v2Status(reg: TestRegistry, creds: Credentials): Promise<number> {
  const res = await fetch(`${reg.url}/v2/`, { headers: basicAuth(creds) });
  await res.arrayBuffer();
  return res.status;
}

/** The actions a token request for pull,push,delete on the repository was granted. */
async function grantedActions(reg: TestRegistry, creds: Credentials, repo: string): Promise<string[]> {
  const answer = await requestToken(reg.url, creds, [`repository:${repo}:pull,push,delete`]);
  assert.equal(answer.status, 200, answer.text);
  const scope = String(answer.body['scope'] ?? '');
  return scope === '' ? [] : scope.split(':')[2]!.split(',').sort();
}

describe('LDAP logins', () => {
  let slapd: Slapd;
  let reg: TestRegistry;
  before(async () => {
    slapd = await startSlapd(
      [
        { uid: 'alice', password: alice.password },
        { uid: 'bob', password: bob.password },
        { uid: 'carol', password: carol.password },
        { uid: 'admin', password: fakeAdmin.password },
      ],
      {
        'team-a-dev': ['alice'],
        'team-a-read': ['bob'],
        'team-a-lead': ['carol'],
        'registry-admins': ['carol'],
      },
    );
    reg = await startRegistry(ldapSettings(slapd));
  });
  after(async () => {
    await reg?.close();
    await slapd?.stop();
  });

  test('a directory user logs in with Basic on /v2 and is created with the roles of their groups', async () => {
    assert.equal(await v2Status(reg, alice), 200);
    const users = expect(await api(reg, 'GET', '/users', { as: ADMIN }), 200).json;
    const created = (users.users ?? users).find((u: { username: string }) => u.username === 'alice');
    assert.ok(created, 'alice was created');
    assert.equal(created.admin, false);
    const members = expect(await api(reg, 'GET', '/namespaces/team-a/members', { as: ADMIN }), 200).json;
    assert.deepEqual(
      (members.members ?? members).map((m: { username: string; role: string }) => [m.username, m.role]),
      [['alice', 'developer']],
    );
  });

  test('role rules decide pushes and pulls (Basic and tokens)', async () => {
    // alice: developer of team-a → push and pull, no delete.
    const image = await pushImage(reg.url, 'team-a/app', { reference: 'v1', headers: basicAuth(alice) });
    assert.deepEqual(await grantedActions(reg, alice, 'team-a/app'), ['pull', 'push']);
    const del = await fetch(`${reg.url}/v2/team-a/app/manifests/${image.digest}`, { method: 'DELETE', headers: basicAuth(alice) });
    checkErrorBody(await del.text(), 'DENIED');
    assert.equal(del.status, 403);

    // bob: reader → pulls with a token, cannot push.
    assert.deepEqual(await grantedActions(reg, bob, 'team-a/app'), ['pull']);
    const token = (await requestToken(reg.url, bob, ['repository:team-a/app:pull'])).body['token'] as string;
    await expectStatus(await fetch(`${reg.url}/v2/team-a/app/manifests/v1`, { headers: { ...bearerAuth(token), Accept: image.manifest.mediaType } }), 200);
    const push = await fetch(`${reg.url}/v2/team-a/app/blobs/uploads/`, { method: 'POST', headers: basicAuth(bob) });
    assert.equal(push.status, 403);
    await push.arrayBuffer();

    // carol: owner of team-a and a registry admin (from her groups) → everything.
    assert.deepEqual(await grantedActions(reg, carol, 'team-a/app'), ['delete', 'pull', 'push']);
    expect(await api(reg, 'GET', '/users', { as: carol }), 200);
    assert.deepEqual(await grantedActions(reg, carol, 'elsewhere/app'), ['delete', 'pull', 'push'], 'an admin may act anywhere');
  });

  test('roles and admin rights follow the groups at each login', async () => {
    await slapd.setMembership('team-a-dev', 'bob', true);
    try {
      assert.deepEqual(await grantedActions(reg, bob, 'team-a/app'), ['pull', 'push'], 'the stronger of two rules');
      await pushImage(reg.url, 'team-a/app', { reference: 'bob', headers: basicAuth(bob) });
    } finally {
      await slapd.setMembership('team-a-dev', 'bob', false);
    }
    assert.deepEqual(await grantedActions(reg, bob, 'team-a/app'), ['pull']);

    // groupOfNames needs a member: the group gets another one before bob leaves.
    await slapd.setMembership('team-a-read', 'alice', true);
    await slapd.setMembership('team-a-read', 'bob', false);
    assert.deepEqual(await grantedActions(reg, bob, 'team-a/app'), [], 'no rule gives bob a role any more');
    const members = expect(await api(reg, 'GET', '/namespaces/team-a/members', { as: ADMIN }), 200).json;
    assert.ok(!(members.members ?? members).some((m: { username: string }) => m.username === 'bob'));

    await slapd.setMembership('registry-admins', 'alice', true);
    expect(await api(reg, 'GET', '/users', { as: alice }), 200);
    await slapd.setMembership('registry-admins', 'alice', false);
    expect(await api(reg, 'GET', '/users', { as: alice }), 403, 'DENIED');
  });

  test('wrong passwords, unknown users and filter injection are refused', async () => {
    assert.equal(await v2Status(reg, { username: 'alice', password: 'wrong' }), 401);
    assert.equal(await v2Status(reg, { username: 'nobody', password: 'whatever' }), 401);
    assert.equal(await v2Status(reg, { username: 'alice', password: '' }), 401, 'an empty password is not an anonymous bind');
    for (const username of ['*', 'a*', 'alice)(uid=*', '*)(|(uid=*', 'alice)(|(objectClass=*)', 'alice\\2a', 'Alice', 'ALICE']) {
      assert.equal(await v2Status(reg, { username, password: alice.password }), 401, username);
    }
  });

  test('groups from memberOf when no group search is configured', async () => {
    const viaMemberOf = await startRegistry(ldapSettings(slapd, { groupBaseDn: undefined }));
    try {
      await slapd.setMembership('team-a-lead', 'bob', true);
      assert.deepEqual(await grantedActions(viaMemberOf, bob, 'team-a/app'), ['delete', 'pull', 'push']);
      await slapd.setMembership('team-a-lead', 'bob', false);
      assert.deepEqual(await grantedActions(viaMemberOf, bob, 'team-a/app'), []);
    } finally {
      await viaMemberOf.close();
    }
  });

  test('filter values are escaped: a wildcard or a parenthesis in a name matches nothing', async () => {
    assert.equal(fillFilter('(&(uid={username})(x={dn}))', { username: 'al*)(|(uid=*', dn: 'cn=a\\,b' }), '(&(uid=al\\2a\\29\\28|\\28uid=\\2a)(x=cn=a\\5c,b))');
    const directory = new LdapDirectory({
      url: slapd.url,
      startTls: false,
      bindDn: SERVICE_DN,
      bindPassword: SERVICE_PASSWORD,
      userBaseDn: PEOPLE,
      userFilter: '(uid={username})',
      groupBaseDn: GROUPS,
      groupFilter: '(member={dn})',
      connectTimeoutMs: 2_000,
      timeoutMs: 5_000,
    });
    assert.ok(await directory.authenticate('alice', alice.password));
    // Unescaped, "al*" would find alice's entry and her password would bind.
    for (const name of ['al*', '*', 'alice)(uid=*', 'x)(|(uid=alice)']) assert.equal(await directory.authenticate(name, alice.password), undefined, name);
  });

  test('local accounts keep working and cannot be taken over from the directory', async () => {
    assert.equal(await v2Status(reg, ADMIN), 200);
    assert.equal(await v2Status(reg, fakeAdmin), 401, 'the directory password of a person named like a local account');
    expect(await api(reg, 'POST', '/users', { as: ADMIN, body: { username: 'dora', password: 'dora-password-1', admin: false } }), 201);
    assert.equal(await v2Status(reg, { username: 'dora', password: 'dora-password-1' }), 200);
  });
});

describe('LDAP over TLS, and a directory that is down', () => {
  let slapd: Slapd;
  before(async () => {
    slapd = await startSlapd([{ uid: 'alice', password: alice.password }], { 'team-a-dev': ['alice'], 'registry-admins': ['alice'] });
  });
  after(async () => {
    await slapd?.stop();
  });

  test('ldaps:// and StartTLS with the CA file; a certificate nobody vouches for is refused', async () => {
    for (const settings of [{ url: slapd.ldapsUrl, caFile: slapd.caFile }, { url: slapd.url, startTls: true, caFile: slapd.caFile }]) {
      const reg = await startRegistry(ldapSettings(slapd, settings));
      try {
        assert.equal(await v2Status(reg, alice), 200, JSON.stringify(settings));
      } finally {
        await reg.close();
      }
    }
    const untrusted = await startRegistry(ldapSettings(slapd, { url: slapd.ldapsUrl }));
    try {
      const res = await fetch(`${untrusted.url}/v2/`, { headers: basicAuth(alice) });
      assert.equal(res.status, 503);
      checkErrorBody(await res.text(), 'UNAVAILABLE');
    } finally {
      await untrusted.close();
    }
  });

  test('with the directory unreachable, directory logins get 503 and local accounts still work', async () => {
    const port = await freePort();
    const reg = await startRegistry(ldapSettings(slapd, { url: `ldap://127.0.0.1:${port}`, connectTimeoutMs: 500 }));
    try {
      const started = Date.now();
      const res = await fetch(`${reg.url}/v2/`, { headers: basicAuth(alice) });
      assert.equal(res.status, 503);
      checkErrorBody(await res.text(), 'UNAVAILABLE');
      assert.ok(Date.now() - started < 5_000);
      assert.equal(await v2Status(reg, ADMIN), 200);
    } finally {
      await reg.close();
    }
  });
});
