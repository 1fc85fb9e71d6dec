// Helpers for tests of access control: accounts and robots made directly in the access store,
// credentials as headers, the token endpoint, the Bearer challenge, and requests sent from a
// chosen loopback address (so login throttling can be told apart per address).
import assert from 'node:assert/strict';
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import type { JWK } from 'jose';
import { hashSecret } from '../../src/auth/authenticate.js';
import type { RepositoryAction, Role, Visibility } from '../../src/auth/model.js';
import type { App } from '../../src/app.js';
import { checkErrorBody } from './oci.js';

export interface Credentials {
  username: string;
  password: string;
}

export const ADMIN: Credentials = { username: 'admin', password: 'admin-pass-1234' };

/** Settings for a registry with access control on and the ADMIN account. */
export function authSettings(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { auth: { enabled: true, initialAdminUsername: ADMIN.username, initialAdminPassword: ADMIN.password, ...extra } };
}

export function basicHeader(creds: Credentials): string {
  return `Basic ${Buffer.from(`${creds.username}:${creds.password}`).toString('base64')}`;
}

export function basicAuth(creds: Credentials | undefined): Record<string, string> {
  return creds ? { Authorization: basicHeader(creds) } : {};
}

export function bearerAuth(token: string): Record<string, string> {
  return { Authorization: `Bearer ${token}` };
}

export async function addUser(app: App, username: string, password: string, admin = false): Promise<Credentials> {
  await app.access.createUser({ username, passwordHash: await hashSecret(password), admin });
  return { username, password };
}

/** The registry's token-signing key (private JWK), to forge tokens exactly as it issues them. */
export async function signingKeyOf(app: App): Promise<JWK & { kid: string }> {
  const stored = await app.access.getOrSetSetting('auth.token.signing-key', () => {
    throw new Error('the registry has no signing key');
  });
  return JSON.parse(stored) as JWK & { kid: string };
}

export async function addNamespace(app: App, name: string, visibility: Visibility, members: Record<string, Role> = {}): Promise<void> {
  await app.access.ensureNamespace(name, visibility);
  for (const [username, role] of Object.entries(members)) await app.access.setMember(name, username, role);
}

export async function addRobot(app: App, name: string, namespace: string | null, actions: RepositoryAction[], secret: string): Promise<Credentials> {
  await app.access.createRobot({ name, namespace, secretHash: await hashSecret(secret), actions, expiresAt: null, createdBy: 'admin' });
  return { username: name, password: secret };
}

export interface TokenAnswer {
  status: number;
  body: Record<string, unknown>;
  text: string;
  headers: Headers;
}

/** GET /token with these scopes, with Basic credentials or anonymously. */
export async function requestToken(base: string, creds: Credentials | undefined, scopes: string[], extra: Record<string, string> = {}): Promise<TokenAnswer> {
  const url = new URL('/token', base);
  url.searchParams.set('service', 'registry');
  for (const s of scopes) url.searchParams.append('scope', s);
  for (const [k, v] of Object.entries(extra)) url.searchParams.set(k, v);
  const res = await fetch(url, { headers: basicAuth(creds) });
  const text = await res.text();
  let body: Record<string, unknown> = {};
  try {
    body = JSON.parse(text) as Record<string, unknown>;
  } catch {
    // not JSON; the caller looks at the status
  }
  return { status: res.status, body, text, headers: res.headers };
}

/** A token for these scopes; asserts the endpoint answered 200. */
export async function tokenFor(base: string, creds: Credentials | undefined, scopes: string[]): Promise<string> {
  const answer = await requestToken(base, creds, scopes);
  assert.equal(answer.status, 200, `token for ${creds?.username ?? 'anonymous'} ${scopes.join(' ')}: ${answer.text.slice(0, 300)}`);
  assert.equal(typeof answer.body['token'], 'string');
  return answer.body['token'] as string;
}

/** POST /token with an OAuth2 form. */
export async function postToken(base: string, form: Record<string, string | string[]>): Promise<TokenAnswer> {
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(form)) for (const value of Array.isArray(v) ? v : [v]) params.append(k, value);
  const res = await fetch(new URL('/token', base), {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    body: params.toString(),
  });
  const text = await res.text();
  let body: Record<string, unknown> = {};
  try {
    body = JSON.parse(text) as Record<string, unknown>;
  } catch {
    // not JSON
  }
  return { status: res.status, body, text, headers: res.headers };
}

export interface JwtParts {
  header: Record<string, unknown>;
  payload: Record<string, unknown>;
}

/** The header and claims of a JWT (unverified). */
export function decodeJwt(token: string): JwtParts {
  const [h, p] = token.split('.');
  assert.ok(h && p, 'not a JWT');
  return {
    header: JSON.parse(Buffer.from(h, 'base64url').toString('utf8')) as Record<string, unknown>,
    payload: JSON.parse(Buffer.from(p, 'base64url').toString('utf8')) as Record<string, unknown>,
  };
}

/** The parameters of a `Bearer k="v",...` challenge, or undefined when it is not one. */
export function parseChallenge(header: string | null | undefined): Record<string, string> | undefined {
  if (!header) return undefined;
  const m = /^Bearer\s+(.*)$/i.exec(header.trim());
  if (!m) return undefined;
  const params: Record<string, string> = {};
  const re = /([a-z_]+)="([^"]*)"\s*(?:,\s*|$)/gy;
  let part: RegExpExecArray | null;
  let consumed = 0;
  while ((part = re.exec(m[1]!)) !== null) {
    params[part[1]!] = part[2]!;
    consumed = re.lastIndex;
  }
  assert.equal(consumed, m[1]!.length, `malformed challenge: ${header}`);
  return params;
}

export interface ExpectedChallenge {
  scope?: string;
  error?: string;
}

/**
 * Check a 401: UNAUTHORIZED error body (unless HEAD) and a Bearer challenge naming the token
 * endpoint of `base`, the service, and exactly the scope and error given (absent when not given).
 */
export function checkChallenge(base: string, status: number, headers: Headers, text: string, expected: ExpectedChallenge, method = 'GET'): string[] {
  const problems: string[] = [];
  if (status !== 401) problems.push(`status ${status}, wanted 401: ${text.slice(0, 200)}`);
  if (method !== 'HEAD') {
    try {
      checkErrorBody(text, 'UNAUTHORIZED');
    } catch (err) {
      problems.push((err as Error).message.split('\n')[0]!);
    }
  }
  const challenge = parseChallenge(headers.get('www-authenticate'));
  if (!challenge) {
    problems.push(`no Bearer challenge (WWW-Authenticate: ${headers.get('www-authenticate')})`);
    return problems;
  }
  const want: Record<string, string> = { realm: `${base}/token`, service: 'registry' };
  if (expected.scope !== undefined) want['scope'] = expected.scope;
  if (expected.error !== undefined) want['error'] = expected.error;
  const a = JSON.stringify(Object.entries(challenge).sort());
  const b = JSON.stringify(Object.entries(want).sort());
  if (a !== b) problems.push(`challenge ${a}, wanted ${b}`);
  return problems;
}

export async function expectChallenge(base: string, res: Response, expected: ExpectedChallenge): Promise<void> {
  const text = await res.text();
  const problems = checkChallenge(base, res.status, res.headers, text, expected);
  assert.deepEqual(problems, [], problems.join('; '));
}

export interface SimpleResponse {
  status: number;
  headers: IncomingHttpHeaders;
  text: string;
}

/** An HTTP request sent from `localAddress` (any 127.x.y.z works on Linux loopback). */
export function requestFrom(localAddress: string, url: string | URL, init: { method?: string; headers?: Record<string, string>; body?: string } = {}): Promise<SimpleResponse> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const body = init.body === undefined ? undefined : Buffer.from(init.body);
    const req = httpRequest(
      {
        host: u.hostname,
        port: u.port,
        path: u.pathname + u.search,
        method: init.method ?? 'GET',
        localAddress,
        headers: { ...init.headers, ...(body ? { 'Content-Length': String(body.length) } : {}) },
        timeout: 15_000,
      },
      (res) => {
        const parts: Buffer[] = [];
        res.on('data', (c: Buffer) => parts.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text: Buffer.concat(parts).toString('utf8') }));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`${init.method ?? 'GET'} ${u.pathname} timed out`)));
    req.on('error', reject);
    req.end(body);
  });
}

/** Poll `check` until it returns true (audit records are written just after the response). */
export async function eventually(check: () => Promise<boolean>, what: string, timeoutMs = 5_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > until) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** A loopback address of its own (not 127.0.0.1), so throttling counters start at zero for it. */
export function freshAddress(): string {
  const b = () => 1 + Math.floor(Math.random() * 254);
  return `127.${b()}.${b()}.${b()}`;
}
