// TOTP second factor: enrolment through the management API (secret, otpauth:// URI, QR code),
// codes computed here from the secret (RFC 6238, written independently of src/), the ±1 step
// window, replays refused, recovery codes single use, logins on /token, /v2 and the API,
// robots unaffected, enforcement for administrators and owners.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import type { TestRegistry } from '../helpers/registry.js';
import { ADMIN, api, createUser, expect, startAuthRegistry, type Credentials } from '../helpers/api.js';
import { basicAuth, postToken, requestToken } from '../helpers/auth.js';
import { checkErrorBody, pushImage } from '../helpers/oci.js';
import { hotp } from '../../src/auth/totp.js';

function fromBase32(text: string): Buffer {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = '';
  for (const c of text.replace(/=+$/, '')) bits += alphabet.indexOf(c).toString(2).padStart(5, '0');
  const bytes: number[] = [];
  for (let i = 0; i + 8 <= bits.length; i += 8) bytes.push(parseInt(bits.slice(i, i + 8), 2));
  return Buffer.from(bytes);
}

/** RFC 6238 with SHA-1, 30 s, 6 digits, for the step `offset` steps from now. */
function code(secret: string, offset = 0): string {
  const counter = Math.floor(Date.now() / 30_000) + offset;
  const message = Buffer.alloc(8);
  message.writeUInt32BE(Math.floor(counter / 2 ** 32), 0);
  message.writeUInt32BE(counter >>> 0, 4);
  const mac = createHmac('sha1', fromBase32(secret)).update(message).digest();
  const o = mac[19]! & 0xf;
  return String((mac.readUInt32BE(o) & 0x7fffffff) % 1_000_000).padStart(6, '0');
}

/** Wait for a fresh 30 s step when less than `needMs` is left of this one, so a test's codes all fall in one step. */
async function roomInStep(needMs = 8_000): Promise<void> {
  const left = 30_000 - (Date.now() % 30_000);
  if (left < needMs) await new Promise((r) => setTimeout(r, left + 50));
}

async function tokenStatus(reg: TestRegistry, creds: Credentials, otp?: string): Promise<{ status: number; text: string }> {
  const answer = await requestToken(reg.url, creds, ['repository:maria/app:pull'], {});
  if (otp === undefined) return answer;
  const url = new URL('/token', reg.url);
  url.searchParams.set('service', 'registry');
  url.searchParams.append('scope', 'repository:maria/app:pull');
  const res = await fetch(url, { headers: { ...basicAuth(creds), 'X-Registry-OTP': otp } });
  return { status: res.status, text: await res.text() };
}

/** Enrol and confirm TOTP for this user; the secret and the recovery codes. */
async function enrol(reg: TestRegistry, creds: Credentials): Promise<{ secret: string; recoveryCodes: string[] }> {
  const started = expect(await api(reg, 'POST', '/me/mfa/totp', { as: creds }), 201).json;
  const confirmed = expect(await api(reg, 'POST', '/me/mfa/totp/confirm', { as: creds, body: { code: code(started.secret, -1) } }), 200).json;
  return { secret: started.secret, recoveryCodes: confirmed.recoveryCodes };
}

/** A web UI session (cookie and CSRF token, as headers for `api`) and the login's answer. */
async function uiSession(reg: TestRegistry, creds: Credentials, otp?: string): Promise<{ status: number; body: any; headers: Record<string, string> }> {
  const res = await fetch(`${reg.url}/api/v1/session`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ username: creds.username, password: creds.password, ...(otp !== undefined ? { otp } : {}) }),
  });
  const body = (await res.json()) as any;
  const cookie = (res.headers.get('set-cookie') ?? '').split(';')[0]!;
  return { status: res.status, body, headers: { Cookie: cookie, 'X-CSRF-Token': body?.csrfToken ?? '' } };
}

test('HOTP and TOTP match the RFC test vectors', () => {
  const key = Buffer.from('12345678901234567890');
  // RFC 4226 appendix D.
  assert.deepEqual(
    [0, 1, 2, 9].map((c) => hotp(key, c)),
    ['755224', '287082', '359152', '520489'],
  );
  // RFC 6238 appendix B (SHA-1), low 8 digits.
  assert.equal(hotp(key, Math.floor(59 / 30), 8), '94287082');
  assert.equal(hotp(key, Math.floor(1111111109 / 30), 8), '07081804');
  assert.equal(hotp(key, Math.floor(20000000000 / 30), 8), '65353130');
});

describe('TOTP second factor', () => {
  let reg: TestRegistry;
  let maria: Credentials;
  let secret: string;
  let recovery: string[];
  before(async () => {
    reg = await startAuthRegistry();
    maria = await createUser(reg, 'maria');
  });
  after(async () => {
    await reg.close();
  });

  let oldRefresh: string;

  test('enrolment gives a secret, an otpauth:// URI and a QR code, and is confirmed by a first code', async () => {
    const offline = await postToken(reg.url, { grant_type: 'password', service: 'registry', client_id: 't', access_type: 'offline', username: maria.username, password: maria.password });
    assert.equal(offline.status, 200);
    oldRefresh = offline.body['refresh_token'] as string;
    expect(await api(reg, 'POST', '/me/mfa/totp/confirm', { as: maria, body: { code: '123456' } }), 400, 'UNSUPPORTED');
    const started = expect(await api(reg, 'POST', '/me/mfa/totp', { as: maria }), 201).json;
    assert.match(started.secret, /^[A-Z2-7]{32}$/);
    const uri = new URL(started.otpauthUri);
    assert.equal(uri.protocol, 'otpauth:');
    assert.equal(uri.host, 'totp');
    assert.equal(decodeURIComponent(uri.pathname), '/registry:maria');
    assert.equal(uri.searchParams.get('secret'), started.secret);
    assert.equal(uri.searchParams.get('issuer'), 'registry');
    assert.match(started.qrCode, /^data:image\/svg\+xml;base64,/);
    assert.match(Buffer.from(started.qrCode.split(',')[1], 'base64').toString('utf8'), /^<svg[\s\S]*<\/svg>\s*$/);
    assert.equal(expect(await api(reg, 'GET', '/me/mfa', { as: maria }), 200).json.totp, 'pending');
    // Not on until confirmed: the password alone still works.
    assert.equal((await tokenStatus(reg, maria)).status, 200);

    expect(await api(reg, 'POST', '/me/mfa/totp/confirm', { as: maria, body: { code: code(started.secret, 5) } }), 400, 'UNSUPPORTED');
    await roomInStep();
    const confirmed = expect(await api(reg, 'POST', '/me/mfa/totp/confirm', { as: maria, body: { code: code(started.secret, -1) } }), 200).json;
    assert.equal(confirmed.recoveryCodes.length, 10);
    assert.equal(new Set(confirmed.recoveryCodes).size, 10);
    secret = started.secret;
    recovery = confirmed.recoveryCodes;
    const status = expect(await api(reg, 'GET', '/me/mfa', { as: maria, headers: { 'X-Registry-OTP': recovery.pop()! } }), 200).json;
    assert.deepEqual(status, { totp: 'on', recoveryCodesLeft: 9, required: false });
    expect(await api(reg, 'POST', '/me/mfa/totp', { as: maria, headers: { 'X-Registry-OTP': recovery.pop()! } }), 409, 'UNSUPPORTED');
  });

  test('a password alone no longer logs in; a code does, within one step either side, once', async () => {
    await roomInStep();
    const noCode = await tokenStatus(reg, maria);
    assert.equal(noCode.status, 401);
    assert.match(noCode.text, /second factor/);
    const v2 = await fetch(`${reg.url}/v2/`, { headers: basicAuth(maria) });
    assert.equal(v2.status, 401, 'Basic on /v2 cannot carry a code');
    checkErrorBody(await v2.text(), 'UNAUTHORIZED');
    const api401 = expect(await api(reg, 'GET', '/me', { as: maria }), 401, 'UNAUTHORIZED');
    assert.deepEqual(api401.json.errors[0].detail, { secondFactor: 'totp' }, 'the client is told a code is needed');

    assert.equal((await tokenStatus(reg, { ...maria, password: 'wrong-password' }, code(secret, 0))).status, 401, 'a code does not stand in for the password');
    assert.equal((await tokenStatus(reg, maria, code(secret, 0))).status, 200);
    assert.equal((await tokenStatus(reg, maria, code(secret, 0))).status, 401, 'replay refused');
    assert.equal((await tokenStatus(reg, maria, code(secret, -1))).status, 401, 'a step before the last one accepted is refused');
    assert.equal((await tokenStatus(reg, maria, code(secret, 2))).status, 401, 'two steps ahead is outside the window');
    assert.equal((await tokenStatus(reg, maria, code(secret, 1))).status, 200, 'one step ahead (clock skew)');
    assert.equal((await tokenStatus(reg, maria, code(secret, 1))).status, 401, 'replay refused');
    assert.equal((await tokenStatus(reg, maria, '000000')).status, 401);

    const failures = (await reg.app.access.queryAudit({ limit: 100, actor: 'maria', action: 'login.failed' })).filter((e) => e.detail?.['reason'] === 'second factor');
    assert.ok(failures.length >= 4);
  });

  test('a refresh token from before the second factor is refused; one got with a code works', async () => {
    const refused = await postToken(reg.url, { grant_type: 'refresh_token', service: 'registry', client_id: 't', refresh_token: oldRefresh });
    assert.equal(refused.status, 401);
    // Token times are whole seconds: one from the second the factor was turned on is refused too.
    await new Promise((r) => setTimeout(r, 1_000 - (Date.now() % 1_000) + 20));
    const fresh = await postToken(reg.url, { grant_type: 'password', service: 'registry', client_id: 't', access_type: 'offline', username: maria.username, password: maria.password, otp: recovery.pop()! });
    assert.equal(fresh.status, 200, fresh.text);
    const refreshed = await postToken(reg.url, { grant_type: 'refresh_token', service: 'registry', client_id: 't', refresh_token: fresh.body['refresh_token'] as string });
    assert.equal(refreshed.status, 200, refreshed.text);
  });

  test('recovery codes log in once each, also on the management API', async () => {
    const one = recovery.pop()!;
    assert.equal((await tokenStatus(reg, maria, one.toUpperCase())).status, 200, 'case does not matter');
    assert.equal((await tokenStatus(reg, maria, one)).status, 401, 'used already');
    const me = expect(await api(reg, 'GET', '/me', { as: maria, headers: { 'X-Registry-OTP': recovery.pop()! } }), 200).json;
    assert.equal(me.username, 'maria');
    assert.equal(expect(await api(reg, 'GET', '/me/mfa', { as: maria, headers: { 'X-Registry-OTP': recovery.pop()! } }), 200).json.recoveryCodesLeft, 4);
  });

  test('a token from /token with a code works on the API; robots need no code', async () => {
    const token = await requestToken(reg.url, maria, [], {});
    assert.equal(token.status, 401);
    const url = new URL('/token', reg.url);
    url.searchParams.set('service', 'registry');
    const res = await fetch(url, { headers: { ...basicAuth(maria), 'X-Registry-OTP': recovery.pop()! } });
    const bearer = ((await res.json()) as { token: string }).token;
    expect(await api(reg, 'POST', '/namespaces', { as: { bearer }, body: { name: 'maria' } }), 201);
    const robot = expect(await api(reg, 'POST', '/namespaces/maria/robots', { as: { bearer }, body: { name: 'ci', actions: ['pull', 'push'] } }), 201).json;
    await pushImage(reg.url, 'maria/app', { reference: 'v1', headers: basicAuth({ username: robot.name, password: robot.secret }) });
  });

  test('new recovery codes take a code (also in a web UI session); the old ones stop working', async () => {
    expect(await api(reg, 'POST', '/me/mfa/recovery-codes', { as: maria }), 401, 'UNAUTHORIZED');
    const session = await uiSession(reg, maria, recovery.pop()!);
    assert.equal(session.status, 201);
    const noCode = expect(await api(reg, 'POST', '/me/mfa/recovery-codes', { headers: session.headers }), 401, 'UNAUTHORIZED');
    assert.deepEqual(noCode.json.errors[0].detail, { secondFactor: 'totp' });
    expect(await api(reg, 'POST', '/me/mfa/recovery-codes', { headers: { ...session.headers, 'X-Registry-OTP': '000000' } }), 401, 'UNAUTHORIZED');
    const renewed = expect(await api(reg, 'POST', '/me/mfa/recovery-codes', { headers: { ...session.headers, 'X-Registry-OTP': recovery.pop()! } }), 201).json;
    assert.equal(renewed.recoveryCodes.length, 10);
    assert.equal(new Set([...renewed.recoveryCodes, ...recovery]).size, 10 + recovery.length, 'all new');
    assert.equal((await tokenStatus(reg, maria, recovery.pop()!)).status, 401, 'an old code no longer works');
    recovery = renewed.recoveryCodes;
    assert.equal((await tokenStatus(reg, maria, recovery.pop()!)).status, 200, 'a new one does');
    assert.equal(expect(await api(reg, 'GET', '/me/mfa', { headers: session.headers }), 200).json.recoveryCodesLeft, 9);
    // Basic auth with a code in the header: that code is the one asked for.
    recovery = expect(await api(reg, 'POST', '/me/mfa/recovery-codes', { as: maria, headers: { 'X-Registry-OTP': recovery.pop()! } }), 201).json.recoveryCodes;
    assert.equal(recovery.length, 10);
    assert.ok((await reg.app.access.queryAudit({ limit: 100, actor: 'maria' })).some((e) => e.action === 'mfa.recovery-codes'));
  });

  test('removing the second factor takes a code; an administrator may reset it', async () => {
    expect(await api(reg, 'DELETE', '/me/mfa/totp', { as: maria, headers: { 'X-Registry-OTP': recovery.pop()! } }), 204);
    assert.equal((await tokenStatus(reg, maria)).status, 200, 'the password alone works again');
    const events = await reg.app.access.queryAudit({ limit: 100, actor: 'maria' });
    assert.ok(events.some((e) => e.action === 'mfa.enable'));
    assert.ok(events.some((e) => e.action === 'mfa.disable'));

    await roomInStep();
    const again = await enrol(reg, maria);
    expect(await api(reg, 'DELETE', '/users/maria/mfa', { as: ADMIN }), 204);
    assert.equal((await tokenStatus(reg, maria)).status, 200);
    assert.equal((await tokenStatus(reg, maria, again.recoveryCodes[0])).status, 200, 'with no second factor, a code sent is ignored');
    expect(await api(reg, 'DELETE', '/users/maria/mfa', { as: ADMIN }), 404, 'NAME_UNKNOWN');
  });
});

describe('TOTP enforcement per role', () => {
  let reg: TestRegistry;
  before(async () => {
    reg = await startAuthRegistry({ mfa: { requireForAdmins: true, requireForOwners: true } });
  });
  after(async () => {
    await reg.close();
  });

  test('administrators and owners must enrol before anything else; others need not', async () => {
    const v2 = await fetch(`${reg.url}/v2/`, { headers: basicAuth(ADMIN) });
    assert.equal(v2.status, 403);
    checkErrorBody(await v2.text(), 'DENIED');
    expect(await api(reg, 'GET', '/users', { as: ADMIN }), 403, 'DENIED');
    assert.equal(expect(await api(reg, 'GET', '/me/mfa', { as: ADMIN }), 200).json.required, true);
    await roomInStep();
    const { secret } = await enrol(reg, ADMIN);
    expect(await api(reg, 'GET', '/users', { as: ADMIN, headers: { 'X-Registry-OTP': code(secret, 0) } }), 200);

    // A plain user is not asked; once an owner, they are.
    const url = new URL('/token', reg.url);
    url.searchParams.set('service', 'registry');
    const bearer = ((await (await fetch(url, { headers: { ...basicAuth(ADMIN), 'X-Registry-OTP': code(secret, 1) } })).json()) as { token: string }).token;
    expect(await api(reg, 'POST', '/users', { as: { bearer }, body: { username: 'olga', password: 'olga-password-1' } }), 201);
    const olga = { username: 'olga', password: 'olga-password-1' };
    expect(await api(reg, 'GET', '/me', { as: olga }), 200);
    expect(await api(reg, 'POST', '/namespaces', { as: olga, body: { name: 'olga' } }), 201);
    expect(await api(reg, 'GET', '/me', { as: olga }), 403, 'DENIED');
    expect(await api(reg, 'POST', '/me/mfa/totp', { as: olga }), 201);
  });

  test('a web UI session of an account that must enrol may only enrol; once it has, the session is whole', async () => {
    const olga = { username: 'olga', password: 'olga-password-1' };
    const session = await uiSession(reg, olga);
    assert.equal(session.status, 201);
    assert.equal(session.body.mustEnrolSecondFactor, true);
    assert.equal(expect(await api(reg, 'GET', '/session', { headers: session.headers }), 200).json.mustEnrolSecondFactor, true);
    const refused = expect(await api(reg, 'GET', '/namespaces', { headers: session.headers }), 403, 'DENIED');
    assert.deepEqual(refused.json.errors[0].detail, { secondFactor: 'enrol' });
    expect(await api(reg, 'PATCH', '/users/olga', { headers: session.headers, body: { password: 'another-password-1' } }), 403, 'DENIED');
    // Registry reads with the cookie get no more than an anonymous client.
    assert.equal((await fetch(`${reg.url}/v2/olga/app/tags/list`, { headers: { Cookie: session.headers['Cookie']! } })).status, 401);

    await roomInStep();
    const started = expect(await api(reg, 'POST', '/me/mfa/totp', { headers: session.headers }), 201).json;
    expect(await api(reg, 'POST', '/me/mfa/totp/confirm', { headers: session.headers, body: { code: code(started.secret, 0) } }), 200);
    assert.equal(expect(await api(reg, 'GET', '/session', { headers: session.headers }), 200).json.mustEnrolSecondFactor, false);
    expect(await api(reg, 'GET', '/namespaces', { headers: session.headers }), 200);
    // A new login needs the code now.
    assert.equal((await uiSession(reg, olga)).status, 401);
    assert.equal((await uiSession(reg, olga, code(started.secret, 1))).status, 201);
  });
});
