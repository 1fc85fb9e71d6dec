// The token endpoint and the tokens it issues: GET with Basic or anonymously, several scopes at
// once, the grant being the intersection of what was asked and what is allowed, the catalog
// scope, the OAuth2 form (password and refresh_token grants, offline access), refusals (wrong
// password, disabled account, wrong service). Then tokens /v2 must refuse: signed by another
// key, unsigned, HMAC-signed, expired, for another audience or issuer, widened by hand, a
// refresh token. Then failed-login throttling, and that no secret reaches the request log.
//
// Wrong passwords are sent from loopback addresses of their own and for accounts of their own:
// with Redis (TEST_BACKEND=scaleout) failure counters are shared by every registry of the run.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes as nodeRandomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import { SignJWT, UnsecuredJWT, generateKeyPair, importJWK, type JWK } from 'jose';
import { pino } from 'pino';
import { startRegistry, type TestRegistry } from '../helpers/registry.js';
import { MediaType, checkErrorBody, expectError, expectStatus, pushImage, randomBytes, sha256, type PushedImage } from '../helpers/oci.js';
import {
  ADMIN,
  addNamespace,
  addRobot,
  addUser,
  authSettings,
  basicAuth,
  basicHeader,
  bearerAuth,
  checkChallenge,
  decodeJwt,
  expectChallenge,
  freshAddress,
  postToken,
  signingKeyOf,
  requestFrom,
  requestToken,
  tokenFor,
  type Credentials,
} from '../helpers/auth.js';

const unique = () => nodeRandomBytes(4).toString('hex');

describe('token endpoint', () => {
  let reg: TestRegistry;
  let alice: Credentials;
  let bob: Credentials;
  let team: PushedImage;
  let open: PushedImage;

  before(async () => {
    reg = await startRegistry(authSettings());
    alice = await addUser(reg.app, 'alice', 'alice-password-1');
    bob = await addUser(reg.app, 'bob', 'bob-password-1');
    await addNamespace(reg.app, 'team', 'private', { alice: 'developer' });
    await addNamespace(reg.app, 'open', 'public');
    team = await pushImage(reg.url, 'team/app', { reference: 'v1', headers: basicAuth(ADMIN) });
    open = await pushImage(reg.url, 'open/app', { reference: 'v1', headers: basicAuth(ADMIN) });
  });

  after(async () => {
    await reg?.close();
  });

  const accessOf = (token: string) => decodeJwt(token).payload['access'];
  const pullManifest = (repo: string, token: string) =>
    fetch(`${reg.url}/v2/${repo}/manifests/v1`, { headers: { ...bearerAuth(token), Accept: MediaType.OciManifest } });

  test('GET with Basic: a signed ES256 token for the granted scope, usable on /v2', async () => {
    const before = Math.floor(Date.now() / 1000);
    const answer = await requestToken(reg.url, alice, ['repository:team/app:pull,push']);
    assert.equal(answer.status, 200, answer.text);
    assert.equal(answer.headers.get('cache-control'), 'no-store');
    const { token, access_token, expires_in, issued_at } = answer.body as Record<string, unknown>;
    assert.equal(typeof token, 'string');
    assert.equal(access_token, token);
    assert.equal(expires_in, 300);
    assert.ok(Math.abs(Date.parse(issued_at as string) / 1000 - before) < 5);
    assert.equal(answer.body['refresh_token'], undefined, 'no refresh token unless asked');

    const { header, payload } = decodeJwt(token as string);
    assert.equal(header['alg'], 'ES256');
    assert.equal(typeof header['kid'], 'string');
    assert.equal(payload['sub'], 'alice');
    assert.equal(payload['aud'], 'registry');
    assert.equal(payload['iss'], 'registry-token-issuer');
    assert.equal((payload['exp'] as number) - (payload['iat'] as number), 300);
    assert.deepEqual(payload['access'], [{ type: 'repository', name: 'team/app', actions: ['pull', 'push'] }]);

    // The token works: alice pushes and pulls with it.
    const bytes = randomBytes(64);
    const push = await fetch(`${reg.url}/v2/team/app/blobs/uploads/?digest=${sha256(bytes)}`, { method: 'POST', headers: bearerAuth(token as string), body: bytes });
    await expectStatus(push, 201);
    await expectStatus(await pullManifest('team/app', token as string), 200);
  });

  test('GET anonymously: pull of a public namespace, nothing in a private one', async () => {
    const token = await tokenFor(reg.url, undefined, ['repository:open/app:pull,push']);
    assert.deepEqual(accessOf(token), [{ type: 'repository', name: 'open/app', actions: ['pull'] }]);
    assert.equal(decodeJwt(token).payload['sub'], '');
    const res = await pullManifest('open/app', token);
    assert.ok((await expectStatus(res, 200)).equals(open.bytes));

    const none = await tokenFor(reg.url, undefined, ['repository:team/app:pull']);
    assert.deepEqual(accessOf(none), [{ type: 'repository', name: 'team/app', actions: [] }]);
    await expectChallenge(reg.url, await pullManifest('team/app', none), { scope: 'repository:team/app:pull', error: 'insufficient_scope' });
  });

  test('several scopes in one request, as repeated parameters or space-separated', async () => {
    const wanted = [
      { type: 'repository', name: 'team/app', actions: ['pull'] },
      { type: 'repository', name: 'open/app', actions: ['pull'] },
      { type: 'registry', name: 'catalog', actions: ['*'] },
    ];
    const scopes = ['repository:team/app:pull', 'repository:open/app:pull,push', 'registry:catalog:*'];
    const repeated = await tokenFor(reg.url, bob, scopes);
    // bob is no member of team: nothing there; pull (only) in the public namespace; the catalog.
    assert.deepEqual(accessOf(repeated), [{ ...wanted[0]!, actions: [] }, wanted[1], wanted[2]]);
    const spaced = await tokenFor(reg.url, alice, [scopes.join(' ')]);
    assert.deepEqual(accessOf(spaced), wanted);
    await expectStatus(await pullManifest('team/app', spaced), 200);
    await expectStatus(await pullManifest('open/app', spaced), 200);
    const catalog = await fetch(`${reg.url}/v2/_catalog`, { headers: bearerAuth(spaced) });
    assert.deepEqual(JSON.parse((await expectStatus(catalog, 200)).toString()), { repositories: ['open/app', 'team/app'] });
  });

  test('the grant is the intersection of what was asked and what is allowed', async () => {
    const cases: [Credentials, string, string[]][] = [
      [alice, 'repository:team/app:pull,push,delete', ['pull', 'push']],
      [alice, 'repository:team/app:*', ['pull', 'push']],
      [alice, 'repository:team/app:delete', []],
      [alice, 'repository:team/app:pull', ['pull']],
      [bob, 'repository:team/app:pull,push,delete', []],
      [ADMIN, 'repository:team/app:*', ['pull', 'push', 'delete']],
      [ADMIN, 'repository:team/app:push', ['push']],
    ];
    for (const [creds, scope, actions] of cases) {
      const answer = await requestToken(reg.url, creds, [scope]);
      assert.equal(answer.status, 200);
      const name = scope.split(':')[1]!;
      assert.deepEqual(accessOf(answer.body['token'] as string), [{ type: 'repository', name, actions }], `${creds.username} asking ${scope}`);
      // The answer's scope says what was granted, not what was asked.
      assert.equal(answer.body['scope'], actions.length ? `repository:${name}:${actions.join(',')}` : '', `${creds.username} asking ${scope}`);
    }
    // A malformed or unknown scope is left out, not an error.
    const odd = await requestToken(reg.url, alice, ['repository:Team/App:pull', 'nonsense', 'repository:team/app:fly']);
    assert.equal(odd.status, 200);
    assert.deepEqual(accessOf(odd.body['token'] as string), [{ type: 'repository', name: 'team/app', actions: [] }]);
  });

  test('registry:catalog:* lets any authenticated caller list what they may pull', async () => {
    for (const [creds, listed] of [
      [bob, ['open/app']],
      [alice, ['open/app', 'team/app']],
      [undefined, ['open/app']],
    ] as [Credentials | undefined, string[]][]) {
      const token = await tokenFor(reg.url, creds, ['registry:catalog:*']);
      assert.deepEqual(accessOf(token), [{ type: 'registry', name: 'catalog', actions: ['*'] }]);
      const res = await fetch(`${reg.url}/v2/_catalog`, { headers: bearerAuth(token) });
      assert.deepEqual(JSON.parse((await expectStatus(res, 200)).toString()), { repositories: listed });
    }
  });

  test('wrong password or unknown account: 401 UNAUTHORIZED, on /token and with Basic on /v2', async () => {
    const user = await addUser(reg.app, `wrong-${unique()}`, 'right-password-1');
    const from = freshAddress();
    const wrong = { username: user.username, password: 'wrong-password-1' };
    for (const creds of [wrong, { username: `nobody-${unique()}`, password: 'whatever-1' }]) {
      const get = await requestFrom(from, `${reg.url}/token?service=registry&scope=repository:team/app:pull`, { headers: { Authorization: basicHeader(creds) } });
      assert.equal(get.status, 401, get.text);
      checkErrorBody(get.text, 'UNAUTHORIZED');
      assert.doesNotMatch(get.text, /"token"/);
    }
    const post = await requestFrom(from, `${reg.url}/token`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'password', service: 'registry', client_id: 'test', username: wrong.username, password: wrong.password }).toString(),
    });
    assert.equal(post.status, 401, post.text);
    checkErrorBody(post.text, 'UNAUTHORIZED');
    // Basic on /v2 with a wrong password: a 401 that, like every 401, says how to authenticate.
    const v2 = await requestFrom(from, `${reg.url}/v2/team/app/tags/list`, { headers: { Authorization: basicHeader(wrong) } });
    const headers = new Headers(Object.entries(v2.headers).map(([k, v]) => [k, String(v)]));
    assert.deepEqual(checkChallenge(reg.url, v2.status, headers, v2.text, { scope: 'repository:team/app:pull' }), []);
    // The failures are audited, under the name tried, with the address.
    await reg.app.auditor.flush();
    const failed = await reg.app.access.queryAudit({ action: 'login.failed', actor: user.username, limit: 10 });
    assert.equal(failed.length, 3);
    assert.ok(failed.every((e) => e.source === from));
  });

  test('POST grant_type=password with access_type=offline: an access token and a refresh token', async () => {
    const answer = await postToken(reg.url, {
      grant_type: 'password',
      service: 'registry',
      client_id: 'test-client',
      access_type: 'offline',
      username: alice.username,
      password: alice.password,
      scope: 'repository:team/app:pull,push repository:open/app:pull',
    });
    assert.equal(answer.status, 200, answer.text);
    const access = answer.body['access_token'] as string;
    const refresh = answer.body['refresh_token'] as string;
    assert.equal(typeof refresh, 'string');
    assert.deepEqual(accessOf(access), [
      { type: 'repository', name: 'team/app', actions: ['pull', 'push'] },
      { type: 'repository', name: 'open/app', actions: ['pull'] },
    ]);
    assert.equal(decodeJwt(refresh).payload['access'], undefined, 'a refresh token grants nothing by itself');
    await expectStatus(await pullManifest('team/app', access), 200);

    const online = await postToken(reg.url, { grant_type: 'password', service: 'registry', client_id: 'c', username: alice.username, password: alice.password });
    assert.equal(online.status, 200);
    assert.equal(online.body['refresh_token'], undefined, 'no refresh token without access_type=offline');
  });

  test('refresh_token grant: new access tokens until the account is disabled', async () => {
    const carol = await addUser(reg.app, `carol-${unique()}`, 'carol-password-1');
    await reg.app.access.setMember('team', carol.username, 'reader');
    const first = await postToken(reg.url, { grant_type: 'password', service: 'registry', client_id: 'c', access_type: 'offline', username: carol.username, password: carol.password });
    const refresh = first.body['refresh_token'] as string;
    assert.equal(typeof refresh, 'string', first.text);

    const refreshed = await postToken(reg.url, { grant_type: 'refresh_token', service: 'registry', client_id: 'c', refresh_token: refresh, scope: 'repository:team/app:pull,push' });
    assert.equal(refreshed.status, 200, refreshed.text);
    const token = refreshed.body['access_token'] as string;
    assert.equal(decodeJwt(token).payload['sub'], carol.username);
    // Still only what carol may do: a reader pulls, does not push.
    assert.deepEqual(accessOf(token), [{ type: 'repository', name: 'team/app', actions: ['pull'] }]);
    assert.ok((await expectStatus(await pullManifest('team/app', token), 200)).equals(team.bytes));

    await reg.app.access.updateUser(carol.username, { disabled: true });
    const refused = await postToken(reg.url, { grant_type: 'refresh_token', service: 'registry', client_id: 'c', refresh_token: refresh, scope: 'repository:team/app:pull' });
    assert.equal(refused.status, 401, refused.text);
    checkErrorBody(refused.text, 'UNAUTHORIZED');

    await reg.app.access.updateUser(carol.username, { disabled: false });
    const again = await postToken(reg.url, { grant_type: 'refresh_token', service: 'registry', client_id: 'c', refresh_token: refresh });
    assert.equal(again.status, 200, 'the refusal came from the disabled account, not the token');

    const garbage = await postToken(reg.url, { grant_type: 'refresh_token', service: 'registry', client_id: 'c', refresh_token: `${refresh.slice(0, -4)}AAAA` });
    assert.equal(garbage.status, 401);
    // An access token is no refresh token.
    const swapped = await postToken(reg.url, { grant_type: 'refresh_token', service: 'registry', client_id: 'c', refresh_token: token });
    assert.equal(swapped.status, 401);
  });

  test('a robot refresh token stops working once the robot is revoked', async () => {
    const robot = await addRobot(reg.app, `robot$team+r${unique()}`, 'team', ['pull'], 'robot-secret-1');
    const first = await postToken(reg.url, { grant_type: 'password', service: 'registry', client_id: 'c', access_type: 'offline', username: robot.username, password: robot.password });
    assert.equal(first.status, 200, first.text);
    const refresh = first.body['refresh_token'] as string;
    const ok = await postToken(reg.url, { grant_type: 'refresh_token', service: 'registry', client_id: 'c', refresh_token: refresh, scope: 'repository:team/app:pull' });
    assert.equal(ok.status, 200);
    assert.deepEqual(accessOf(ok.body['access_token'] as string), [{ type: 'repository', name: 'team/app', actions: ['pull'] }]);
    await reg.app.access.revokeRobot(robot.username);
    const refused = await postToken(reg.url, { grant_type: 'refresh_token', service: 'registry', client_id: 'c', refresh_token: refresh });
    assert.equal(refused.status, 401);
  });

  test('wrong service or grant type: 400', async () => {
    const get = await fetch(`${reg.url}/token?service=elsewhere&scope=repository:open/app:pull`, { headers: basicAuth(alice) });
    await expectError(get, 400, 'UNSUPPORTED');
    const post = await postToken(reg.url, { grant_type: 'password', service: 'elsewhere', client_id: 'c', username: alice.username, password: alice.password });
    assert.equal(post.status, 400);
    checkErrorBody(post.text, 'UNSUPPORTED');
    const grant = await postToken(reg.url, { grant_type: 'client_credentials', service: 'registry', client_id: 'c' });
    assert.equal(grant.status, 400);
    checkErrorBody(grant.text, 'UNSUPPORTED');
  });
});

describe('tokens /v2 refuses', () => {
  let reg: TestRegistry;
  let alice: Credentials;
  let aliceId: string;
  let signingKey: JWK & { kid: string };

  before(async () => {
    reg = await startRegistry(authSettings());
    alice = await addUser(reg.app, 'alice', 'alice-password-1');
    aliceId = (await reg.app.access.getUser('alice'))!.id;
    await addNamespace(reg.app, 'team', 'private', { alice: 'reader' });
    await pushImage(reg.url, 'team/app', { reference: 'v1', headers: basicAuth(ADMIN) });
    signingKey = await signingKeyOf(reg.app);
  });

  after(async () => {
    await reg?.close();
  });

  const PULL = [{ type: 'repository', name: 'team/app', actions: ['pull'] }];

  /** A token as the registry would issue it, with changes. */
  async function craft(
    change: { key?: Parameters<SignJWT['sign']>[0]; alg?: string; kid?: string; aud?: string; iss?: string; iat?: number; exp?: number; access?: unknown } = {},
  ): Promise<string> {
    const now = Math.floor(Date.now() / 1000);
    const key = change.key ?? (await importJWK(signingKey, 'ES256'));
    return new SignJWT({ kind: 'user', uid: aliceId, adm: false, access: change.access ?? PULL })
      .setProtectedHeader({ alg: change.alg ?? 'ES256', kid: change.kid ?? signingKey.kid, typ: 'JWT' })
      .setIssuer(change.iss ?? 'registry-token-issuer')
      .setAudience(change.aud ?? 'registry')
      .setSubject('alice')
      .setIssuedAt(change.iat ?? now)
      .setNotBefore((change.iat ?? now) - 5)
      .setExpirationTime(change.exp ?? now + 300)
      .setJti(unique())
      .sign(key);
  }

  const pull = (token: string, repo = 'team/app') => fetch(`${reg.url}/v2/${repo}/manifests/v1`, { headers: { ...bearerAuth(token), Accept: MediaType.OciManifest } });
  const refused = (res: Response, scope = 'repository:team/app:pull') => expectChallenge(reg.url, res, { scope, error: 'invalid_token' });

  test('control: a token crafted exactly as the registry issues them is accepted', async () => {
    // Without this, the refusals below could come from a broken test harness.
    await expectStatus(await pull(await craft()), 200);
    await expectStatus(await pull(await tokenFor(reg.url, alice, ['repository:team/app:pull'])), 200);
  });

  test('signed by another ES256 key (same kid)', async () => {
    const { privateKey } = await generateKeyPair('ES256');
    await refused(await pull(await craft({ key: privateKey })));
  });

  test('unsigned: alg none', async () => {
    const now = Math.floor(Date.now() / 1000);
    const token = new UnsecuredJWT({ kind: 'user', uid: aliceId, adm: true, access: PULL })
      .setIssuer('registry-token-issuer')
      .setAudience('registry')
      .setSubject('alice')
      .setIssuedAt(now)
      .setExpirationTime(now + 300)
      .encode();
    assert.equal(decodeJwt(token).header['alg'], 'none');
    await refused(await pull(token));
    // Nor with the signature of a real token appended.
    const real = await tokenFor(reg.url, alice, ['repository:team/app:pull']);
    await refused(await pull(token + real.split('.')[2]));
  });

  test('HMAC-signed with the public key as the secret (algorithm confusion)', async () => {
    const { d: _d, ...publicJwk } = signingKey;
    const token = await craft({ key: new TextEncoder().encode(JSON.stringify(publicJwk)), alg: 'HS256' });
    await refused(await pull(token));
  });

  test('expired', async () => {
    const now = Math.floor(Date.now() / 1000);
    await refused(await pull(await craft({ iat: now - 400, exp: now - 100 })));
  });

  test('for another audience or issuer', async () => {
    await refused(await pull(await craft({ aud: 'another-registry' })));
    await refused(await pull(await craft({ aud: 'registry#refresh' })));
    await refused(await pull(await craft({ iss: 'someone-else' })));
  });

  test('scope widened by hand (claims edited, signature kept)', async () => {
    const token = await tokenFor(reg.url, alice, ['repository:team/app:pull']);
    const [header, payload, signature] = token.split('.');
    const claims = JSON.parse(Buffer.from(payload!, 'base64url').toString('utf8')) as Record<string, unknown>;
    claims['access'] = [{ type: 'repository', name: 'team/app', actions: ['pull', 'push', 'delete'] }];
    claims['adm'] = true;
    const forged = `${header}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.${signature}`;
    const del = await fetch(`${reg.url}/v2/team/app/manifests/v1`, { method: 'DELETE', headers: bearerAuth(forged) });
    await expectChallenge(reg.url, del, { scope: 'repository:team/app:delete', error: 'invalid_token' });
    await expectStatus(await fetch(`${reg.url}/v2/team/app/manifests/v1`, { method: 'HEAD', headers: { ...basicAuth(ADMIN), Accept: MediaType.OciManifest } }), 200);
  });

  test('a refresh token used as an access token', async () => {
    const answer = await postToken(reg.url, {
      grant_type: 'password',
      service: 'registry',
      client_id: 'c',
      access_type: 'offline',
      username: alice.username,
      password: alice.password,
      scope: 'repository:team/app:pull',
    });
    const refresh = answer.body['refresh_token'] as string;
    assert.equal(typeof refresh, 'string', answer.text);
    await refused(await pull(refresh));
    const base = await fetch(`${reg.url}/v2/`, { headers: bearerAuth(refresh) });
    await expectChallenge(reg.url, base, { error: 'invalid_token' });
  });

  test('garbage', async () => {
    for (const token of ['abc', 'a.b.c', `${'x'.repeat(30)}.${'y'.repeat(30)}.${'z'.repeat(30)}`]) await refused(await pull(token));
  });
});

describe('failed-login throttling', () => {
  let reg: TestRegistry;
  const WINDOW = 900;

  before(async () => {
    reg = await startRegistry(authSettings({ throttleSlowAfter: 2, throttleRefuseAfter: 4, throttleWindowSeconds: WINDOW }));
  });

  after(async () => {
    await reg?.close();
  });

  const tokenFrom = (from: string, creds: Credentials) =>
    requestFrom(from, `${reg.url}/token?service=registry&scope=repository:${creds.username}/app:pull`, { headers: { Authorization: basicHeader(creds) } });

  function assertTooMany(res: { status: number; headers: Record<string, unknown>; text: string }, what: string): void {
    assert.equal(res.status, 429, `${what}: ${res.status} ${res.text.slice(0, 200)}`);
    checkErrorBody(res.text, 'TOOMANYREQUESTS');
    const retry = Number(res.headers['retry-after']);
    assert.ok(Number.isInteger(retry) && retry >= 1 && retry <= WINDOW, `${what}: Retry-After ${String(res.headers['retry-after'])}`);
  }

  test('after too many failures an account is refused, even with the right password, from any address', async () => {
    const victim = await addUser(reg.app, `victim-${unique()}`, 'victim-password-1');
    const wrong = { ...victim, password: 'not-the-password' };
    const attacker = freshAddress();
    // The victim logs in first (the registry remembers a good password briefly)...
    assert.equal((await tokenFrom(freshAddress(), victim)).status, 200);
    // ...then someone guesses: answers slow down past 2 failures, and refuse past 4.
    const statuses: number[] = [];
    const times: number[] = [];
    for (let i = 0; i < 4; i++) {
      const started = Date.now();
      statuses.push((await tokenFrom(attacker, wrong)).status);
      times.push(Date.now() - started);
    }
    assert.deepEqual(statuses, [401, 401, 401, 401]);
    assert.ok(times[2]! >= 200 && times[3]! >= 450, `failures past the second are slowed down: ${times.join(', ')} ms`);
    assertTooMany(await tokenFrom(attacker, wrong), 'a fifth guess');

    // The right password no longer helps, wherever it comes from and however it is sent.
    const elsewhere = freshAddress();
    assertTooMany(await tokenFrom(attacker, victim), 'right password, same address');
    assertTooMany(await tokenFrom(elsewhere, victim), 'right password, another address');
    assertTooMany(await requestFrom(elsewhere, `${reg.url}/v2/`, { headers: { Authorization: basicHeader(victim) } }), 'Basic on /v2');
    assertTooMany(
      await requestFrom(elsewhere, `${reg.url}/token`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ grant_type: 'password', service: 'registry', client_id: 'c', username: victim.username, password: victim.password }).toString(),
      }),
      'POST password grant',
    );

    // Another account from that other address is not affected.
    const bystander = await addUser(reg.app, `bystander-${unique()}`, 'bystander-password-1');
    assert.equal((await tokenFrom(elsewhere, bystander)).status, 200);
    assert.equal((await requestFrom(elsewhere, `${reg.url}/v2/`, { headers: { Authorization: basicHeader(bystander) } })).status, 200);
  });

  test('after too many failures from an address, every account is refused from it', async () => {
    const attacker = freshAddress();
    for (let i = 0; i < 4; i++) {
      const res = await tokenFrom(attacker, { username: `guess-${unique()}`, password: 'guess-password' });
      assert.equal(res.status, 401);
    }
    const honest = await addUser(reg.app, `honest-${unique()}`, 'honest-password-1');
    assertTooMany(await tokenFrom(attacker, honest), '/token from the address');
    assertTooMany(await requestFrom(attacker, `${reg.url}/v2/`, { headers: { Authorization: basicHeader(honest) } }), 'Basic on /v2 from the address');
    // The account itself is fine elsewhere.
    assert.equal((await tokenFrom(freshAddress(), honest)).status, 200);
  });
});

describe('secrets stay out of the request log', () => {
  let reg: TestRegistry;
  const lines: string[] = [];

  before(async () => {
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        lines.push(chunk.toString('utf8'));
        done();
      },
    });
    reg = await startRegistry(authSettings(), undefined, { logger: pino({ level: 'debug' }, sink) });
  });

  after(async () => {
    await reg?.close();
  });

  test('passwords, robot secrets, Basic headers, access and refresh tokens never appear', async () => {
    // A name of its own: failure counters may be shared (Redis) with earlier runs.
    const user = await addUser(reg.app, `logged-${unique()}`, 'Pa55word-for-the-log');
    await addNamespace(reg.app, 'logs', 'private', { [user.username]: 'developer' });
    const robot = await addRobot(reg.app, 'robot$logs+ci', 'logs', ['pull', 'push'], 'R0bot-secret-for-the-log');
    const wrongPassword = 'Wr0ng-password-for-the-log';
    const secrets: string[] = [user.password, robot.password, wrongPassword, ADMIN.password, basicHeader(user), basicHeader(robot)];

    // Basic straight to /v2, as a user and as a robot.
    await pushImage(reg.url, 'logs/app', { reference: 'v1', headers: basicAuth(user) });
    await expectStatus(await fetch(`${reg.url}/v2/logs/app/tags/list`, { headers: basicAuth(robot) }), 200);
    // GET /token, then the token on /v2.
    const token = await tokenFor(reg.url, user, ['repository:logs/app:pull,push']);
    await expectStatus(await fetch(`${reg.url}/v2/logs/app/manifests/v1`, { headers: { ...bearerAuth(token), Accept: MediaType.OciManifest } }), 200);
    // The OAuth2 form, offline, and the refresh grant.
    const offline = await postToken(reg.url, { grant_type: 'password', service: 'registry', client_id: 'c', access_type: 'offline', username: robot.username, password: robot.password, scope: 'repository:logs/app:pull' });
    const refresh = offline.body['refresh_token'] as string;
    const refreshed = await postToken(reg.url, { grant_type: 'refresh_token', service: 'registry', client_id: 'c', refresh_token: refresh, scope: 'repository:logs/app:pull' });
    assert.equal(refreshed.status, 200);
    // Failures too (from an address of their own: counters may be shared).
    const from = freshAddress();
    const bad = { username: user.username, password: wrongPassword };
    assert.equal((await requestFrom(from, `${reg.url}/token?service=registry`, { headers: { Authorization: basicHeader(bad) } })).status, 401);
    assert.equal((await requestFrom(from, `${reg.url}/v2/`, { headers: { Authorization: basicHeader(bad) } })).status, 401);
    assert.equal((await requestFrom(from, `${reg.url}/v2/`, { headers: { Authorization: `Bearer ${token}x` } })).status, 401);
    const failedForm = await requestFrom(from, `${reg.url}/token`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'password', service: 'registry', username: user.username, password: wrongPassword }).toString(),
    });
    assert.equal(failedForm.status, 401);

    for (const jwt of [token, offline.body['access_token'] as string, refresh, refreshed.body['access_token'] as string]) {
      assert.equal(typeof jwt, 'string');
      // The whole token, and its signature on its own.
      secrets.push(jwt, jwt.split('.')[2]!);
    }

    await reg.app.auditor.flush();
    const log = lines.join('');
    // The log is there and has a line for each kind of request made.
    const requests = lines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l['msg'] === 'request');
    for (const [method, url] of [
      ['GET', '/token'],
      ['POST', '/token'],
      ['POST', '/v2/logs/app/blobs/uploads/'],
      ['GET', '/v2/logs/app/manifests/v1'],
      ['GET', '/v2/'],
    ]) {
      assert.ok(requests.some((r) => r['method'] === method && String(r['url']).startsWith(url!)), `a log line for ${method} ${url}`);
    }
    for (const secret of secrets) assert.ok(!log.includes(secret), `the log contains a secret (${secret.slice(0, 6)}...)`);

    // Nor the audit log.
    const audit = JSON.stringify(await reg.app.access.queryAudit({ limit: 10_000 }));
    assert.match(audit, /login\.failed/);
    for (const secret of secrets) assert.ok(!audit.includes(secret), `the audit log contains a secret (${secret.slice(0, 6)}...)`);
  });
});
