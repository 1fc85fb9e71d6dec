// Management API: /api/v1/users, /api/v1/me, the OpenAPI document, authentication of API
// calls (Basic, Bearer from /token, never cookies) and JSON-only writes.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { TestRegistry } from '../helpers/registry.js';
import { ADMIN, api, assertNoSecrets, auditEvents, basic, createUser, expect, startAuthRegistry, type Credentials } from '../helpers/api.js';

describe('management API: users', () => {
  let reg: TestRegistry;
  let alice: Credentials;
  before(async () => {
    reg = await startAuthRegistry();
    alice = await createUser(reg, 'alice');
  });
  after(async () => {
    await reg.close();
  });

  test('anonymous calls get 401 UNAUTHORIZED with a Basic challenge', async () => {
    for (const [method, path] of [
      ['GET', '/me'],
      ['GET', '/users'],
      ['POST', '/users'],
      ['GET', '/namespaces'],
      ['GET', '/audit'],
      ['DELETE', '/robots/x'],
    ] as const) {
      const res = expect(await api(reg, method, path, method === 'POST' ? { body: {} } : {}), 401, 'UNAUTHORIZED');
      assert.equal(res.headers.get('www-authenticate'), 'Basic realm="registry"', `${method} ${path}`);
    }
  });

  test('wrong passwords, unknown users and garbage tokens get 401', async () => {
    expect(await api(reg, 'GET', '/me', { as: { username: 'admin', password: 'wrong-password' } }), 401, 'UNAUTHORIZED');
    expect(await api(reg, 'GET', '/me', { as: { username: 'nobody', password: 'whatever-123' } }), 401, 'UNAUTHORIZED');
    const res = expect(await api(reg, 'GET', '/me', { as: { bearer: 'not.a.token' } }), 401, 'UNAUTHORIZED');
    assert.equal(res.headers.get('www-authenticate'), 'Basic realm="registry"');
  });

  test('credentials in a cookie are ignored', async () => {
    expect(await api(reg, 'GET', '/me', { headers: { Cookie: `Authorization=${encodeURIComponent(basic(ADMIN))}; session=${basic(ADMIN)}` } }), 401, 'UNAUTHORIZED');
  });

  test('GET /me describes the caller, with memberships', async () => {
    const res = expect(await api(reg, 'GET', '/me', { as: ADMIN }), 200);
    assert.equal(res.json.kind, 'user');
    assert.equal(res.json.username, 'admin');
    assert.equal(res.json.admin, true);
    assert.deepEqual(res.json.memberships, []);
    assertNoSecrets(res.text, [ADMIN.password]);
    assert.equal(res.headers.get('cache-control'), 'no-store');
  });

  test('a bearer token from /token authenticates API calls', async () => {
    const tokenRes = await fetch(`${reg.url}/token?service=registry`, { headers: { Authorization: basic(alice) } });
    assert.equal(tokenRes.status, 200);
    const { token } = (await tokenRes.json()) as { token: string };
    const res = expect(await api(reg, 'GET', '/me', { as: { bearer: token } }), 200);
    assert.equal(res.json.username, 'alice');
    assert.equal(res.json.admin, false);
  });

  test('admin creates, lists, reads, updates and deletes users; each change is audited', async () => {
    const created = expect(await api(reg, 'POST', '/users', { as: ADMIN, body: { username: 'bob', password: 'bob-password-1' } }), 201);
    assert.deepEqual({ ...created.json, createdAt: undefined }, { username: 'bob', admin: false, disabled: false, createdAt: undefined });
    assert.equal(created.headers.get('location'), '/api/v1/users/bob');
    assertNoSecrets(created.text, ['bob-password-1']);
    expect(await api(reg, 'GET', '/me', { as: { username: 'bob', password: 'bob-password-1' } }), 200);

    const list = expect(await api(reg, 'GET', '/users', { as: ADMIN }), 200);
    assert.deepEqual(
      list.json.users.map((u: { username: string }) => u.username),
      ['admin', 'alice', 'bob'],
    );
    assertNoSecrets(list.text);

    expect(await api(reg, 'GET', '/users/bob', { as: ADMIN }), 200);
    expect(await api(reg, 'GET', '/users/nobody', { as: ADMIN }), 404, 'NAME_UNKNOWN');

    const patched = expect(await api(reg, 'PATCH', '/users/bob', { as: ADMIN, body: { admin: true, password: 'bob-password-2' } }), 200);
    assert.equal(patched.json.admin, true);
    assertNoSecrets(patched.text, ['bob-password-2']);
    expect(await api(reg, 'GET', '/me', { as: { username: 'bob', password: 'bob-password-1' } }), 401, 'UNAUTHORIZED');
    expect(await api(reg, 'GET', '/users', { as: { username: 'bob', password: 'bob-password-2' } }), 200);

    expect(await api(reg, 'PATCH', '/users/bob', { as: ADMIN, body: { disabled: true } }), 200);
    expect(await api(reg, 'GET', '/me', { as: { username: 'bob', password: 'bob-password-2' } }), 401, 'UNAUTHORIZED');

    expect(await api(reg, 'DELETE', '/users/bob', { as: ADMIN }), 204);
    expect(await api(reg, 'GET', '/users/bob', { as: ADMIN }), 404, 'NAME_UNKNOWN');
    expect(await api(reg, 'DELETE', '/users/bob', { as: ADMIN }), 404, 'NAME_UNKNOWN');

    const created2 = await auditEvents(reg, { action: 'user.create', actor: 'admin' });
    assert.ok(created2.some((e) => e.detail?.['username'] === 'bob'));
    const updates = (await auditEvents(reg, { action: 'user.update' })).filter((e) => e.detail?.['username'] === 'bob');
    assert.equal(updates.length, 2);
    assert.ok(updates.some((e) => e.detail?.['password'] === 'changed' && e.detail?.['admin'] === true));
    assert.ok(updates.some((e) => e.detail?.['disabled'] === true));
    const deletes = await auditEvents(reg, { action: 'user.delete' });
    assert.equal(deletes[0]?.detail?.['username'], 'bob');
    assert.equal(deletes[0]?.actor, 'admin');
    // Audit events never carry a password or its hash.
    const all = expect(await api(reg, 'GET', '/audit?limit=1000', { as: ADMIN }), 200);
    assertNoSecrets(all.text, ['bob-password-1', 'bob-password-2', ADMIN.password]);
  });

  test('creating a user that exists is a conflict; bad input is 400 UNSUPPORTED', async () => {
    expect(await api(reg, 'POST', '/users', { as: ADMIN, body: { username: 'alice', password: 'another-pass-1' } }), 409, 'UNSUPPORTED');
    expect(await api(reg, 'POST', '/users', { as: ADMIN, body: { username: 'Bad Name', password: 'another-pass-1' } }), 400, 'UNSUPPORTED');
    expect(await api(reg, 'POST', '/users', { as: ADMIN, body: { username: 'shorty', password: 'short' } }), 400, 'UNSUPPORTED');
    expect(await api(reg, 'POST', '/users', { as: ADMIN, body: { username: 'extra', password: 'long-enough-1', role: 'x' } }), 400, 'UNSUPPORTED');
    expect(await api(reg, 'POST', '/users', { as: ADMIN, body: '{"username": ', contentType: 'application/json' }), 400, 'UNSUPPORTED');
    expect(await api(reg, 'PATCH', '/users/alice', { as: ADMIN, body: {} }), 400, 'UNSUPPORTED');
  });

  test('writes must be application/json: text/plain and form bodies are refused', async () => {
    const payload = JSON.stringify({ username: 'mallory', password: 'mallory-pass-1', admin: true });
    for (const type of ['text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x']) {
      expect(await api(reg, 'POST', '/users', { as: ADMIN, body: payload, contentType: type }), 415, 'UNSUPPORTED');
    }
    const noType = await fetch(`${reg.url}/api/v1/users`, { method: 'POST', headers: { Authorization: basic(ADMIN) }, body: new Blob([payload]) });
    assert.equal(noType.status, 415);
    await noType.arrayBuffer();
    expect(await api(reg, 'GET', '/users/mallory', { as: ADMIN }), 404, 'NAME_UNKNOWN');
    // application/json with parameters is fine.
    expect(await api(reg, 'POST', '/users', { as: ADMIN, body: payload, contentType: 'application/json; charset=utf-8' }), 201);
    expect(await api(reg, 'DELETE', '/users/mallory', { as: ADMIN }), 204);
  });

  test('bodies over 64 KiB are refused', async () => {
    const res = await api(reg, 'POST', '/users', { as: ADMIN, body: { username: 'big', password: 'x'.repeat(70_000) } });
    expect(res, 413, 'SIZE_INVALID');
  });

  test('a user may read themselves and change their own password, nothing else', async () => {
    const carol = await createUser(reg, 'carol');
    expect(await api(reg, 'GET', '/users', { as: carol }), 403, 'DENIED');
    expect(await api(reg, 'POST', '/users', { as: carol, body: { username: 'dave', password: 'dave-password-1' } }), 403, 'DENIED');
    expect(await api(reg, 'GET', '/users/alice', { as: carol }), 403, 'DENIED');
    expect(await api(reg, 'GET', '/users/carol', { as: carol }), 200);
    expect(await api(reg, 'PATCH', '/users/alice', { as: carol, body: { password: 'hijacked-pass-1' } }), 403, 'DENIED');
    expect(await api(reg, 'PATCH', '/users/carol', { as: carol, body: { admin: true } }), 403, 'DENIED');
    expect(await api(reg, 'PATCH', '/users/carol', { as: carol, body: { disabled: false } }), 403, 'DENIED');
    expect(await api(reg, 'DELETE', '/users/alice', { as: carol }), 403, 'DENIED');
    expect(await api(reg, 'PATCH', '/users/carol', { as: carol, body: { password: 'carol-password-2' } }), 200);
    expect(await api(reg, 'GET', '/me', { as: { username: 'carol', password: 'carol-password-2' } }), 200);
    const events = await auditEvents(reg, { action: 'user.update', actor: 'carol' });
    assert.deepEqual(events[0]?.detail, { username: 'carol', password: 'changed' });
  });

  test('a token issued before an account was disabled no longer works on the API', async () => {
    const erin = await createUser(reg, 'erin');
    const tokenRes = await fetch(`${reg.url}/token?service=registry`, { headers: { Authorization: basic(erin) } });
    const { token } = (await tokenRes.json()) as { token: string };
    expect(await api(reg, 'GET', '/me', { as: { bearer: token } }), 200);
    expect(await api(reg, 'PATCH', '/users/erin', { as: ADMIN, body: { disabled: true } }), 200);
    expect(await api(reg, 'GET', '/me', { as: { bearer: token } }), 401, 'UNAUTHORIZED');
  });

  test('the last administrator cannot be demoted, disabled or deleted', async () => {
    expect(await api(reg, 'PATCH', '/users/admin', { as: ADMIN, body: { admin: false } }), 409, 'UNSUPPORTED');
    expect(await api(reg, 'PATCH', '/users/admin', { as: ADMIN, body: { disabled: true } }), 409, 'UNSUPPORTED');
    expect(await api(reg, 'DELETE', '/users/admin', { as: ADMIN }), 409, 'UNSUPPORTED');
    expect(await api(reg, 'GET', '/me', { as: ADMIN }), 200);
  });

  test('GET /api/v1/openapi.json is an OpenAPI 3.1 document describing every route', async () => {
    const res = expect(await api(reg, 'GET', '/openapi.json'), 200);
    assert.equal(res.json.openapi, '3.1.0');
    const paths = Object.keys(res.json.paths);
    for (const p of [
      '/me',
      '/users',
      '/users/{username}',
      '/namespaces',
      '/namespaces/{name}',
      '/namespaces/{name}/members',
      '/namespaces/{name}/members/{username}',
      '/namespaces/{name}/robots',
      '/namespaces/{name}/robots/{robot}',
      '/robots',
      '/robots/{robot}',
      '/audit',
    ]) {
      assert.ok(paths.includes(p), `${p} is described`);
    }
    // Every $ref points at something that exists.
    const refs = [...res.text.matchAll(/"\$ref":"#\/components\/(\w+)\/(\w+)"/g)];
    assert.ok(refs.length > 10);
    for (const [, kind, name] of refs) assert.ok(res.json.components[kind!]?.[name!], `${kind}/${name} exists`);
    // Each operation's path parameters are declared.
    for (const [path, item] of Object.entries(res.json.paths as Record<string, Record<string, { parameters?: { $ref?: string; name?: string }[] }>>)) {
      const wanted = [...path.matchAll(/\{(\w+)\}/g)].map((m) => m[1]);
      for (const op of Object.values(item)) {
        const names = (op.parameters ?? []).map((p) => (p.$ref ? res.json.components.parameters[p.$ref.split('/').pop()!].name : p.name));
        for (const w of wanted) assert.ok(names.includes(w), `${path} declares {${w}}`);
      }
    }
  });

  test('unknown API paths answer 404 in the error format', async () => {
    expect(await api(reg, 'GET', '/nothing-here', { as: ADMIN }), 404, 'NAME_UNKNOWN');
  });
});

describe('management API: absent without access control', () => {
  test('with auth off, /api/v1 does not exist', async () => {
    const { startRegistry } = await import('../helpers/registry.js');
    const reg = await startRegistry();
    try {
      expect(await api(reg, 'GET', '/me'), 404, 'NAME_UNKNOWN');
    } finally {
      await reg.close();
    }
  });
});
