// Helpers for the management API tests: a registry with access control on, credentials,
// JSON requests, and a blob push with given credentials that reports the status.
import assert from 'node:assert/strict';
import { startRegistry, type StartOptions, type TestRegistry } from './registry.js';
import { randomBytes, sha256 } from './oci.js';

export const ADMIN = { username: 'admin', password: 'admin-password-1' };

/** A registry with access control on and a first admin; failed logins are not throttled here. */
export function startAuthRegistry(extra: Record<string, unknown> = {}, options: StartOptions = {}): Promise<TestRegistry> {
  const settings = {
    auth: {
      enabled: true,
      initialAdminUsername: ADMIN.username,
      initialAdminPassword: ADMIN.password,
      throttleSlowAfter: 10_000,
      throttleRefuseAfter: 10_000,
    },
    ...extra,
  };
  return startRegistry(settings, undefined, options);
}

export interface Credentials {
  username: string;
  password: string;
}

export function basic(c: Credentials): string {
  return `Basic ${Buffer.from(`${c.username}:${c.password}`).toString('base64')}`;
}

/** The Authorization header of these credentials, for /v2 requests. */
export function authHeaders(c: Credentials): Record<string, string> {
  return { Authorization: basic(c) };
}

export interface ApiResponse {
  status: number;
  headers: Headers;
  text: string;
  json: any;
}

export interface ApiRequest {
  as?: Credentials | { bearer: string } | undefined;
  body?: unknown;
  /** Sent as is (not JSON-encoded) when given together with a string body. */
  contentType?: string;
  headers?: Record<string, string>;
}

export async function api(reg: TestRegistry, method: string, path: string, req: ApiRequest = {}): Promise<ApiResponse> {
  const headers: Record<string, string> = { ...req.headers };
  if (req.as) headers['Authorization'] = 'bearer' in req.as ? `Bearer ${req.as.bearer}` : basic(req.as);
  let body: string | undefined;
  if (req.body !== undefined) {
    body = typeof req.body === 'string' && req.contentType !== undefined ? req.body : JSON.stringify(req.body);
    headers['Content-Type'] = req.contentType ?? 'application/json';
  }
  const res = await fetch(`${reg.url}/api/v1${path}`, { method, headers, ...(body !== undefined ? { body } : {}) });
  const text = await res.text();
  let json: unknown;
  try {
    json = text === '' ? undefined : JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, headers: res.headers, text, json };
}

/** Assert the status; on a mismatch the message shows the body. */
export function expect(res: ApiResponse, status: number, code?: string): ApiResponse {
  assert.equal(res.status, status, `expected ${status}, got ${res.status}: ${res.text.slice(0, 400)}`);
  if (code !== undefined) {
    assert.equal(res.json?.errors?.[0]?.code, code, `expected error ${code}: ${res.text.slice(0, 400)}`);
    assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
  }
  return res;
}

/** Create a user as the admin. */
export async function createUser(reg: TestRegistry, username: string, admin = false): Promise<Credentials> {
  const password = `${username}-password-1`;
  expect(await api(reg, 'POST', '/users', { as: ADMIN, body: { username, password, admin } }), 201);
  return { username, password };
}

/** Push a small blob with these credentials (monolithic POST); the status of the answer. */
export async function tryPushBlob(reg: TestRegistry, repo: string, credentials: Credentials | undefined): Promise<number> {
  const bytes = randomBytes(64);
  const res = await fetch(`${reg.url}/v2/${repo}/blobs/uploads/?digest=${sha256(bytes)}`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/octet-stream', ...(credentials ? { Authorization: basic(credentials) } : {}) },
    body: bytes,
  });
  await res.arrayBuffer();
  return res.status;
}

/** The admin's view of the audit log for one action. */
export async function auditEvents(reg: TestRegistry, query: Record<string, string>) {
  await reg.app.auditor.flush();
  const res = expect(await api(reg, 'GET', `/audit?${new URLSearchParams(query).toString()}`, { as: ADMIN }), 200);
  return res.json.events as { id: number; actor: string; action: string; repository: string | null; detail: Record<string, unknown> | null }[];
}

/** Fails when a password hash or a known secret shows up in a response body. */
export function assertNoSecrets(text: string, secrets: string[] = []): void {
  assert.doesNotMatch(text, /\$argon2id\$|\$2[aby]\$|passwordHash|password_hash|secretHash|secret_hash/);
  for (const s of secrets) assert.ok(!text.includes(s), 'a secret appears in a response');
}

/** A registry with access control on and namespace `team`: owner olivia, reader rita, and oscar, who is not a member. */
export interface TeamRegistry {
  reg: TestRegistry;
  owner: Credentials;
  reader: Credentials;
  outsider: Credentials;
}

export async function startTeamRegistry(extra: Record<string, unknown> = {}, options: StartOptions = {}): Promise<TeamRegistry> {
  const reg = await startAuthRegistry(extra, options);
  const owner = await createUser(reg, 'olivia');
  const reader = await createUser(reg, 'rita');
  const outsider = await createUser(reg, 'oscar');
  expect(await api(reg, 'POST', '/namespaces', { as: owner, body: { name: 'team' } }), 201);
  expect(await api(reg, 'PUT', '/namespaces/team/members/rita', { as: owner, body: { role: 'reader' } }), 201);
  return { reg, owner, reader, outsider };
}
