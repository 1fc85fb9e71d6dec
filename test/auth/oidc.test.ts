// OpenID Connect single sign-on against a real provider (oidc-provider on loopback): web UI
// logins create the account with the roles its groups give (checked through real pushes and
// pulls with personal CLI secrets, with fetch and skopeo), the command-line handshake run as
// a process (`registry login --oidc`), revocation, and the checks of the flow: state, browser
// binding, replay, nonce, PKCE, the provider's issuer, and names of local accounts.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { startRegistry, CLI, type TestRegistry } from '../helpers/registry.js';
import { ADMIN, api, expect } from '../helpers/api.js';
import { basicAuth, type Credentials } from '../helpers/auth.js';
import { pushImage } from '../helpers/oci.js';
import { freePort } from '../helpers/proxy.js';
import { hasCommand, run } from '../helpers/exec.js';
import { browse, CookieJar, startOidcProvider, type TestProvider } from '../helpers/oidc-provider.js';

function oidcSettings(port: number, provider: Pick<TestProvider, 'issuer' | 'clientId' | 'clientSecret'>): Record<string, unknown> {
  return {
    http: { port },
    auth: { enabled: true, initialAdminUsername: ADMIN.username, initialAdminPassword: ADMIN.password, throttleSlowAfter: 10_000, throttleRefuseAfter: 10_000 },
    oidc: {
      issuer: provider.issuer,
      clientId: provider.clientId,
      clientSecret: provider.clientSecret,
      redirectUrl: `http://127.0.0.1:${port}/api/v1/oidc/callback`,
      scopes: ['openid', 'profile', 'groups'],
      displayName: 'Test IdP',
      adminGroups: ['registry-admins'],
      roleRules: [
        { group: 'team-a-dev', namespace: 'team-a', role: 'developer' },
        { group: 'team-a-read', namespace: 'team-a', role: 'reader' },
        { group: 'team-b-dev', namespace: 'team-b', role: 'developer' },
      ],
    },
  };
}

/** A CLI secret for `login` through the handshake, driven over HTTP (the process test is below). */
async function cliSecret(reg: TestRegistry, login: string): Promise<Credentials> {
  const started = await fetch(`${reg.url}/api/v1/oidc/cli-logins`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ label: 'test' }) });
  assert.equal(started.status, 201);
  const { id, pollToken, loginUrl } = (await started.json()) as { id: string; pollToken: string; loginUrl: string };
  const poll = () => fetch(`${reg.url}/api/v1/oidc/cli-logins/${id}/poll`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ pollToken }) });
  const pending = await poll();
  assert.equal(pending.status, 202);
  await pending.arrayBuffer();
  const page = await browse(loginUrl, new CookieJar(), { login });
  assert.equal(page.response?.status, 200, page.body);
  const done = await poll();
  assert.equal(done.status, 200);
  const body = (await done.json()) as { username: string; secret: string };
  assert.match(body.secret, /^rcs_[A-Za-z0-9_-]{43}$/);
  const again = await poll();
  assert.equal(again.status, 404, 'the secret is handed out once');
  await again.arrayBuffer();
  return { username: body.username, password: body.secret };
}

async function v2Status(reg: TestRegistry, creds: Credentials): Promise<number> {
  const res = await fetch(`${reg.url}/v2/`, { headers: basicAuth(creds) });
  await res.arrayBuffer();
  return res.status;
}

async function pushStatus(reg: TestRegistry, repo: string, creds: Credentials): Promise<number> {
  const res = await fetch(`${reg.url}/v2/${repo}/blobs/uploads/`, { method: 'POST', headers: basicAuth(creds) });
  await res.arrayBuffer();
  return res.status;
}

describe('OIDC single sign-on', { timeout: 180_000 }, () => {
  let provider: TestProvider;
  let reg: TestRegistry;
  before(async () => {
    const port = await freePort();
    provider = await startOidcProvider(`http://127.0.0.1:${port}/api/v1/oidc/callback`, {
      alice: { username: 'alice', groups: ['team-a-dev'] },
      bob: { username: 'Bob', groups: ['team-a-read'] },
      carol: { username: 'carol', groups: ['registry-admins'] },
      dave: { username: 'dave', groups: ['team-a-dev'] },
      mallory: { username: 'not a name!', groups: [] },
    });
    reg = await startRegistry(oidcSettings(port, provider));
    // team-b exists, and alice has no role in it.
    expect(await api(reg, 'POST', '/namespaces', { as: ADMIN, body: { name: 'team-b', visibility: 'private' } }), 201);
  });
  after(async () => {
    await reg?.close();
    await provider?.stop();
  });

  test('GET /api/v1/oidc tells the UI that single sign-on is on', async () => {
    const body = expect(await api(reg, 'GET', '/oidc'), 200).json;
    assert.deepEqual(body, { enabled: true, displayName: 'Test IdP', loginUrl: '/api/v1/oidc/login', webLogin: true });
  });

  test('a web UI login creates the account with the roles of its groups and opens a session', async () => {
    const jar = new CookieJar();
    const flow = await browse(`${reg.url}/api/v1/oidc/login`, jar, { login: 'alice', stopAt: (u) => u.origin === reg.url && u.pathname === '/' });
    const authorize = flow.visited.find((u) => u.pathname === '/auth' && u.searchParams.has('client_id'))!;
    assert.equal(authorize.searchParams.get('code_challenge_method'), 'S256');
    assert.ok(authorize.searchParams.get('state') && authorize.searchParams.get('nonce'));
    assert.equal(flow.response?.status, 302, flow.body);
    assert.equal(flow.response?.headers.get('location'), '/');
    assert.ok(jar.get('registry_session'), 'the session cookie is set');
    assert.equal(jar.get('registry_oidc_flow'), undefined, 'the flow cookie is cleared');
    const session = await fetch(`${reg.url}/api/v1/session`, { headers: { Cookie: `registry_session=${jar.get('registry_session')}` } });
    const view = (await session.json()) as { user: { name: string; admin: boolean; namespaces: { namespace: string; role: string }[] } };
    assert.equal(view.user.name, 'alice');
    assert.equal(view.user.admin, false);
    assert.deepEqual(view.user.namespaces, [{ namespace: 'team-a', role: 'developer' }]);
    const audit = expect(await api(reg, 'GET', '/audit?action=login&actor=alice', { as: ADMIN }), 200).json;
    assert.ok((audit.events ?? audit).some((e: { detail?: { via?: string } }) => e.detail?.via === 'oidc'), 'the login is audited');
    // A person from the provider has no password here.
    assert.equal(await v2Status(reg, { username: 'alice', password: '!directory' }), 401);
  });

  test('admin groups make administrators; names are lower-cased', async () => {
    const carol = await cliSecret(reg, 'carol');
    expect(await api(reg, 'GET', '/users', { as: carol }), 200);
    const bob = await cliSecret(reg, 'bob');
    assert.equal(bob.username, 'bob');
    expect(await api(reg, 'GET', '/users', { as: bob }), 403, 'DENIED');
  });

  test('CLI secrets push and pull by the roles the groups give (fetch and skopeo)', async () => {
    const alice = await cliSecret(reg, 'alice');
    const bob = await cliSecret(reg, 'bob');
    assert.equal(await v2Status(reg, alice), 200);
    await pushImage(reg.url, 'team-a/app', { reference: 'v1', headers: basicAuth(alice) });
    assert.equal(await pushStatus(reg, 'team-b/app', alice), 403, 'no role in team-b');
    const pull = await fetch(`${reg.url}/v2/team-a/app/manifests/v1`, { headers: { ...basicAuth(bob), Accept: 'application/vnd.oci.image.manifest.v1+json' } });
    assert.equal(pull.status, 200);
    await pull.arrayBuffer();
    assert.equal(await pushStatus(reg, 'team-a/app', bob), 403, 'a reader cannot push');
    // The wrong user's name with a good secret is refused.
    assert.equal(await v2Status(reg, { username: 'bob', password: alice.password }), 401);

    if (await hasCommand('skopeo')) {
      const skopeo = (...args: string[]) => run('skopeo', ['--insecure-policy', ...args], { timeoutMs: 90_000 });
      const creds = `${alice.username}:${alice.password}`;
      await skopeo('copy', '--src-tls-verify=false', '--dest-tls-verify=false', '--src-creds', creds, '--dest-creds', creds, `docker://${reg.host}/team-a/app:v1`, `docker://${reg.host}/team-a/copy:v1`);
      const copied = await fetch(`${reg.url}/v2/team-a/copy/manifests/v1`, { method: 'HEAD', headers: { ...basicAuth(bob), Accept: 'application/vnd.oci.image.manifest.v1+json' } });
      assert.equal(copied.status, 200);
      await assert.rejects(skopeo('copy', '--src-tls-verify=false', '--dest-tls-verify=false', '--src-creds', creds, '--dest-creds', creds, `docker://${reg.host}/team-a/app:v1`, `docker://${reg.host}/team-b/copy:v1`), /denied|unauthorized|403/i);
    }
  });

  test('roles follow the groups at each login', async () => {
    provider.people.get('alice')!.groups = ['team-b-dev'];
    try {
      const alice = await cliSecret(reg, 'alice');
      assert.equal(await pushStatus(reg, 'team-b/app', alice), 202);
      assert.equal(await pushStatus(reg, 'team-a/app', alice), 403, 'the team-a role is gone');
    } finally {
      provider.people.get('alice')!.groups = ['team-a-dev'];
    }
  });

  test('`registry login --oidc` runs the handshake as a process and prints a working secret', async () => {
    const child = spawn(process.execPath, [CLI, 'login', '--oidc', reg.url, '--json', '--label', 'laptop'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('close', resolve));
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    try {
      const loginUrl = await new Promise<string>((resolve, reject) => {
        child.stderr.on('data', (d: Buffer) => {
          stderr += d.toString();
          const m = /(http:\/\/\S+\/api\/v1\/oidc\/login\?cli=\S+)/.exec(stderr);
          if (m) resolve(m[1]!);
        });
        child.once('close', () => reject(new Error(`the command ended early: ${stderr}`)));
      });
      const code = /code when you are done: (\S+)/.exec(stderr)?.[1];
      const page = await browse(loginUrl, new CookieJar(), { login: 'dave' });
      assert.equal(page.response?.status, 200);
      assert.ok(code && page.body.includes(code), 'the browser shows the code the command line printed');
      assert.equal(await exited, 0, stderr);
    } finally {
      clearTimeout(timer);
      if (child.exitCode === null) child.kill('SIGKILL');
    }
    const result = JSON.parse(stdout) as { username: string; secret: string; secretId: string };
    assert.equal(result.username, 'dave');
    const dave = { username: 'dave', password: result.secret };
    assert.equal(await pushStatus(reg, 'team-a/cli', dave), 202);
    const listed = expect(await api(reg, 'GET', '/me/cli-secrets', { as: dave }), 200).json;
    assert.deepEqual(
      listed.secrets.map((s: { id: string; label: string; revoked: boolean }) => [s.id, s.label, s.revoked]),
      [[result.secretId, 'laptop', false]],
    );
    assert.ok(!JSON.stringify(listed).includes(result.secret), 'the secret is never shown again');
  });

  test('revoked secrets and secrets of disabled accounts stop working at once', async () => {
    const alice = await cliSecret(reg, 'alice');
    const other = await cliSecret(reg, 'alice');
    const mine = expect(await api(reg, 'GET', '/me/cli-secrets', { as: alice }), 200).json.secrets as { id: string }[];
    const hash = (s: string) => createHash('sha256').update(s).digest('hex');
    assert.ok(hash(alice.password) !== hash(other.password));
    const aliceId = mine[mine.length - 1]!.id;
    // The newest first: `other` was made last.
    const otherId = mine[0]!.id;
    expect(await api(reg, 'DELETE', `/me/cli-secrets/${otherId}`, { as: alice }), 204);
    assert.equal(await v2Status(reg, other), 401);
    assert.equal(await v2Status(reg, alice), 200, 'the other secret still works');
    expect(await api(reg, 'DELETE', `/me/cli-secrets/${otherId}`, { as: alice }), 404);
    // An administrator revokes for the user.
    const bob = await cliSecret(reg, 'bob');
    const bobs = expect(await api(reg, 'GET', '/users/bob/cli-secrets', { as: ADMIN }), 200).json.secrets as { id: string; revoked: boolean }[];
    for (const s of bobs.filter((s) => !s.revoked)) expect(await api(reg, 'DELETE', `/users/bob/cli-secrets/${s.id}`, { as: ADMIN }), 204);
    assert.equal(await v2Status(reg, bob), 401);
    expect(await api(reg, 'GET', '/users/bob/cli-secrets', { as: alice }), 403, 'DENIED');
    // A disabled account's secrets stop too.
    expect(await api(reg, 'PATCH', '/users/alice', { as: ADMIN, body: { disabled: true } }), 200);
    try {
      assert.equal(await v2Status(reg, alice), 401);
    } finally {
      expect(await api(reg, 'PATCH', '/users/alice', { as: ADMIN, body: { disabled: false } }), 200);
    }
    assert.equal(await v2Status(reg, alice), 200);
    assert.ok(aliceId);
    const audit = expect(await api(reg, 'GET', '/audit?action=cli-secret.revoke', { as: ADMIN }), 200).json;
    assert.ok((audit.events ?? audit).length >= 2, 'revocations are audited');
  });

  test('a tampered state, a replayed callback and a callback in another browser are refused', async () => {
    const jar = new CookieJar();
    const stopped = await browse(`${reg.url}/api/v1/oidc/login`, jar, { login: 'alice', stopAt: (u) => u.pathname === '/api/v1/oidc/callback' });
    const callback = stopped.stoppedAt!;
    assert.ok(callback.searchParams.get('code'));
    // Another browser (no flow cookie) cannot finish it: no login CSRF.
    const elsewhere = await fetch(callback, { redirect: 'manual' });
    assert.equal(elsewhere.status, 401);
    await elsewhere.arrayBuffer();

    const jar2 = new CookieJar();
    const second = await browse(`${reg.url}/api/v1/oidc/login`, jar2, { login: 'alice', stopAt: (u) => u.pathname === '/api/v1/oidc/callback' });
    const tampered = new URL(second.stoppedAt!);
    tampered.searchParams.set('state', 'x'.repeat(43));
    const badState = await fetch(tampered, { redirect: 'manual', headers: { Cookie: jar2.header() } });
    assert.equal(badState.status, 401);
    assert.match(await badState.text(), /"code":"UNAUTHORIZED"/);
    const good = await fetch(second.stoppedAt!, { redirect: 'manual', headers: { Cookie: jar2.header() } });
    assert.equal(good.status, 302);
    await good.arrayBuffer();
    const replay = await fetch(second.stoppedAt!, { redirect: 'manual', headers: { Cookie: jar2.header() } });
    assert.equal(replay.status, 401, 'a callback is used once');
    await replay.arrayBuffer();
  });

  test('an ID token with another nonce, or a code without the right PKCE verifier, is refused', async () => {
    const badNonce = await browse(`${reg.url}/api/v1/oidc/login`, new CookieJar(), {
      login: 'alice',
      rewriteAuthorization: (u) => {
        u.searchParams.set('nonce', 'attacker-nonce');
        return u;
      },
    });
    assert.equal(badNonce.response?.status, 401, badNonce.body);
    assert.match(badNonce.body, /nonce/);
    const badPkce = await browse(`${reg.url}/api/v1/oidc/login`, new CookieJar(), {
      login: 'alice',
      rewriteAuthorization: (u) => {
        u.searchParams.set('code_challenge', createHash('sha256').update('another verifier').digest('base64url'));
        return u;
      },
    });
    assert.equal(badPkce.response?.status, 401, badPkce.body);
    assert.match(badPkce.body, /invalid_grant|PKCE|verif/i);
  });

  test('names of local accounts and invalid names are not taken over', async () => {
    expect(await api(reg, 'POST', '/users', { as: ADMIN, body: { username: 'erin', password: 'erin-password-1' } }), 201);
    provider.people.set('erin', { username: 'erin', groups: ['registry-admins'] });
    const taken = await browse(`${reg.url}/api/v1/oidc/login`, new CookieJar(), { login: 'erin' });
    assert.equal(taken.response?.status, 403, taken.body);
    const invalid = await browse(`${reg.url}/api/v1/oidc/login`, new CookieJar(), { login: 'mallory' });
    assert.equal(invalid.response?.status, 401, invalid.body);
    // Another subject with alice's name is not alice.
    provider.people.set('alice-impostor', { username: 'alice', groups: ['registry-admins'] });
    const impostor = await browse(`${reg.url}/api/v1/oidc/login`, new CookieJar(), { login: 'alice-impostor' });
    assert.equal(impostor.response?.status, 403, impostor.body);
  });
});

describe('OIDC with a provider whose issuer is not the configured one', { timeout: 60_000 }, () => {
  test('the login is refused (503) before the browser is sent anywhere', async () => {
    const port = await freePort();
    const provider = await startOidcProvider(`http://127.0.0.1:${port}/api/v1/oidc/callback`, {});
    // The same server under another name: its metadata names 127.0.0.1, not localhost.
    const reg = await startRegistry(oidcSettings(port, { ...provider, issuer: provider.issuer.replace('127.0.0.1', 'localhost') }));
    try {
      const res = await fetch(`${reg.url}/api/v1/oidc/login`, { redirect: 'manual' });
      assert.equal(res.status, 503);
      assert.match(await res.text(), /"code":"UNAVAILABLE"/);
    } finally {
      await reg.close();
      await provider.stop();
    }
  });
});
