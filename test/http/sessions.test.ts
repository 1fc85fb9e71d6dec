// Web UI sessions: POST /api/v1/session logs in with a password and sets an HttpOnly,
// SameSite=Strict cookie (Secure behind HTTPS); the cookie authenticates reads, and writes
// only together with the session's CSRF token from a same-origin page; sessions expire and end
// at logout; logins and logouts are audited; failed logins are throttled.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { TestRegistry } from '../helpers/registry.js';
import { ADMIN, api, auditEvents, basic, createUser, expect, startAuthRegistry, startTeamRegistry, type Credentials } from '../helpers/api.js';
import { pushImage } from '../helpers/oci.js';

interface Login {
  status: number;
  setCookie: string;
  cookie: string;
  csrf: string;
  body: any;
}

async function login(reg: TestRegistry, c: Credentials, headers: Record<string, string> = {}): Promise<Login> {
  const res = await fetch(`${reg.url}/api/v1/session`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', ...headers },
    body: JSON.stringify({ username: c.username, password: c.password }),
  });
  const body = await res.json().catch(() => undefined);
  const setCookie = res.headers.get('set-cookie') ?? '';
  return { status: res.status, setCookie, cookie: setCookie.split(';')[0]!, csrf: body?.csrfToken, body };
}

async function withCookie(reg: TestRegistry, method: string, path: string, cookie: string, extra: { csrf?: string; body?: unknown; headers?: Record<string, string> } = {}) {
  const headers: Record<string, string> = { Cookie: cookie, ...extra.headers };
  if (extra.csrf !== undefined) headers['X-CSRF-Token'] = extra.csrf;
  if (extra.body !== undefined) headers['Content-Type'] = 'application/json';
  const res = await fetch(`${reg.url}${path}`, { method, headers, ...(extra.body !== undefined ? { body: JSON.stringify(extra.body) } : {}) });
  const text = await res.text();
  let json: any;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = undefined;
  }
  return { status: res.status, headers: res.headers, text, json };
}

describe('web UI sessions', () => {
  let reg: TestRegistry;
  let owner: Credentials;
  let reader: Credentials;
  before(async () => {
    ({ reg, owner, reader } = await startTeamRegistry());
    await pushImage(reg.url, 'team/app', { reference: 'v1', headers: { Authorization: basic(owner) } });
  });
  after(async () => {
    await reg.close();
  });

  test('a login sets an opaque HttpOnly, SameSite=Strict session cookie and answers the CSRF token', async () => {
    const s = await login(reg, ADMIN);
    assert.equal(s.status, 201);
    assert.match(s.setCookie, /^registry_session=[A-Za-z0-9_-]{43}; /);
    assert.match(s.setCookie, /; HttpOnly/);
    assert.match(s.setCookie, /; SameSite=Strict/);
    assert.match(s.setCookie, /; Path=\//);
    assert.match(s.setCookie, /; Max-Age=43200/);
    assert.doesNotMatch(s.setCookie, /Secure/, 'plain HTTP: no Secure attribute');
    assert.equal(s.body.user.name, 'admin');
    assert.equal(s.body.user.admin, true);
    assert.match(s.csrf, /^[A-Za-z0-9_-]{43}$/);
    assert.notEqual(s.csrf, s.cookie.split('=')[1]);
    const me = await withCookie(reg, 'GET', '/api/v1/session', s.cookie);
    assert.equal(me.status, 200);
    assert.equal(me.json.user.name, 'admin');
    assert.equal(me.json.csrfToken, s.csrf);
  });

  test('behind a TLS proxy (X-Forwarded-Proto: https) the cookie is Secure', async () => {
    const s = await login(reg, reader, { 'X-Forwarded-Proto': 'https' });
    assert.equal(s.status, 201);
    assert.match(s.setCookie, /; Secure/);
  });

  test('without credentials the session endpoint says nobody is logged in, with no password challenge', async () => {
    const res = await fetch(`${reg.url}/api/v1/session`);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('www-authenticate'), null);
    assert.deepEqual(await res.json(), { authEnabled: true, user: null, csrfToken: null, expiresAt: null });
  });

  test('the cookie authenticates reads of the API and of /v2, with the same permissions as the account', async () => {
    const r = await login(reg, reader);
    assert.equal((await withCookie(reg, 'GET', '/api/v1/repositories/team/app/tags', r.cookie)).status, 200);
    const manifest = await withCookie(reg, 'GET', '/v2/team/app/manifests/v1', r.cookie, { headers: { Accept: 'application/vnd.oci.image.manifest.v1+json' } });
    assert.equal(manifest.status, 200);
    // A reader is not an administrator: the API refuses admin resources to the cookie too.
    assert.equal((await withCookie(reg, 'GET', '/api/v1/users', r.cookie)).status, 403);
    assert.equal((await withCookie(reg, 'GET', '/api/v1/audit', r.cookie)).status, 403);
  });

  test('a write with the cookie needs the CSRF token, and a same-origin Origin when one is sent', async () => {
    const s = await login(reg, ADMIN);
    const body = { username: 'csrf-victim', password: 'csrf-victim-password' };
    const missing = await withCookie(reg, 'POST', '/api/v1/users', s.cookie, { body });
    assert.equal(missing.status, 403);
    assert.equal(missing.json.errors[0].code, 'DENIED');
    const wrong = await withCookie(reg, 'POST', '/api/v1/users', s.cookie, { body, csrf: 'x'.repeat(43) });
    assert.equal(wrong.status, 403);
    const crossSite = await withCookie(reg, 'POST', '/api/v1/users', s.cookie, { body, csrf: s.csrf, headers: { Origin: 'https://evil.example' } });
    assert.equal(crossSite.status, 403);
    expect(await api(reg, 'GET', '/users/csrf-victim', { as: ADMIN }), 404);
    const ok = await withCookie(reg, 'POST', '/api/v1/users', s.cookie, { body, csrf: s.csrf, headers: { Origin: reg.url } });
    assert.equal(ok.status, 201, ok.text);
    // Another session's token is no good either.
    const other = await login(reg, ADMIN);
    const swapped = await withCookie(reg, 'DELETE', '/api/v1/users/csrf-victim', s.cookie, { csrf: other.csrf });
    assert.equal(swapped.status, 403);
  });

  test('the cookie never authorises a write on /v2', async () => {
    const s = await login(reg, ADMIN);
    const res = await withCookie(reg, 'POST', '/v2/team/app/blobs/uploads/', s.cookie, { csrf: s.csrf });
    assert.equal(res.status, 401);
  });

  test('logout ends the session (the cookie is cleared and refused afterwards); both are audited', async () => {
    const s = await login(reg, owner);
    const noToken = await withCookie(reg, 'DELETE', '/api/v1/session', s.cookie);
    assert.equal(noToken.status, 403, 'logout needs the CSRF token too');
    const out = await withCookie(reg, 'DELETE', '/api/v1/session', s.cookie, { csrf: s.csrf });
    assert.equal(out.status, 204);
    assert.match(out.headers.get('set-cookie') ?? '', /^registry_session=; .*Max-Age=0/);
    const after = await withCookie(reg, 'GET', '/api/v1/repositories/team/app/tags', s.cookie);
    assert.equal(after.status, 401);
    assert.equal(after.headers.get('www-authenticate'), null, 'no Basic challenge: a browser would pop up a password dialog');
    const me = await withCookie(reg, 'GET', '/api/v1/session', s.cookie);
    assert.equal(me.json.user, null);
    const logins = await auditEvents(reg, { action: 'login', actor: 'olivia' });
    const logouts = await auditEvents(reg, { action: 'logout', actor: 'olivia' });
    assert.ok(logins.length >= 1);
    assert.equal(logouts.length, 1);
  });

  test('a wrong password is refused and audited; robots cannot log in to the UI', async () => {
    const bad = await login(reg, { username: 'rita', password: 'wrong-password' });
    assert.equal(bad.status, 401);
    assert.equal(bad.setCookie, '');
    assert.ok((await auditEvents(reg, { action: 'login.failed', actor: 'rita' })).length >= 1);
    const robot = expect(await api(reg, 'POST', '/namespaces/team/robots', { as: owner, body: { name: 'ci', actions: ['pull'] } }), 201).json;
    const r = await login(reg, { username: robot.name, password: robot.secret });
    assert.equal(r.status, 403);
    assert.equal(r.setCookie, '');
  });

  test('a disabled account loses its sessions at once', async () => {
    const dave = await createUser(reg, 'dave');
    const s = await login(reg, dave);
    assert.equal((await withCookie(reg, 'GET', '/api/v1/session', s.cookie)).json.user.name, 'dave');
    expect(await api(reg, 'PATCH', '/users/dave', { as: ADMIN, body: { disabled: true } }), 200);
    assert.equal((await withCookie(reg, 'GET', '/api/v1/repositories', s.cookie)).status, 401);
  });

  test('a login form cannot be posted cross-site (only application/json is accepted)', async () => {
    const res = await fetch(`${reg.url}/api/v1/session`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      body: `username=admin&password=${ADMIN.password}`,
    });
    assert.equal(res.status, 415);
    assert.equal(res.headers.get('set-cookie'), null);
  });
});

describe('session expiry and login throttling', () => {
  let reg: TestRegistry;
  before(async () => {
    reg = await startAuthRegistry({ ui: { sessionTtlSeconds: 1 } });
  });
  after(async () => {
    await reg.close();
  });

  test('a session stops working when it expires', async () => {
    const s = await login(reg, ADMIN);
    assert.match(s.setCookie, /Max-Age=1;/);
    assert.equal((await withCookie(reg, 'GET', '/api/v1/users', s.cookie)).status, 200);
    await new Promise((r) => setTimeout(r, 1_200));
    assert.equal((await withCookie(reg, 'GET', '/api/v1/users', s.cookie)).status, 401);
    assert.equal((await withCookie(reg, 'GET', '/api/v1/session', s.cookie)).json.user, null);
  });
});

describe('login throttling applies to the UI login', () => {
  let reg: TestRegistry;
  before(async () => {
    reg = await startAuthRegistry({ auth: { enabled: true, initialAdminUsername: ADMIN.username, initialAdminPassword: ADMIN.password, throttleSlowAfter: 100, throttleRefuseAfter: 3 } });
  });
  after(async () => {
    await reg.close();
  });

  test('after too many failures even the right password is refused with 429', async () => {
    for (let i = 0; i < 3; i++) assert.equal((await login(reg, { username: 'admin', password: `wrong-${i}` })).status, 401);
    const s = await login(reg, ADMIN);
    assert.equal(s.status, 429);
    assert.equal(s.setCookie, '');
  });
});
