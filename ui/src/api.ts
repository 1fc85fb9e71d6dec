// Calls to the registry's API from the browser: same origin, the session cookie, and the
// session's CSRF token on every request that changes something.
let csrfToken: string | null = null;

export function setCsrfToken(token: string | null): void {
  csrfToken = token;
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly detail?: unknown,
  ) {
    super(message);
  }

  /** What the server says about the second factor: 'totp' (a code is needed or was wrong), 'enrol' (set one up first). */
  get secondFactor(): string | undefined {
    const detail = this.detail as { secondFactor?: unknown } | undefined;
    return typeof detail?.secondFactor === 'string' ? detail.secondFactor : undefined;
  }
}

export async function api<T>(method: string, path: string, body?: unknown, extraHeaders: Record<string, string> = {}): Promise<T> {
  const headers: Record<string, string> = { Accept: 'application/json', ...extraHeaders };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (method !== 'GET' && csrfToken) headers['X-CSRF-Token'] = csrfToken;
  const res = await fetch(path, { method, headers, credentials: 'same-origin', ...(body !== undefined ? { body: JSON.stringify(body) } : {}) });
  const text = await res.text();
  let json: unknown;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = undefined;
  }
  if (!res.ok) {
    const first = (json as { errors?: { code?: string; message?: string; detail?: unknown }[] } | undefined)?.errors?.[0];
    throw new ApiError(res.status, first?.code ?? 'UNKNOWN', first?.message ?? `${res.status} ${res.statusText}`, first?.detail);
  }
  return json as T;
}

/** A GET of an endpoint this registry may not have (yet): null when it answers 404. */
export async function optional<T>(path: string): Promise<T | null> {
  try {
    return await api<T>('GET', path);
  } catch (err) {
    if (err instanceof ApiError && err.status === 404) return null;
    throw err;
  }
}

export const enc = encodeURIComponent;

export function formatBytes(n: number | null | undefined): string {
  if (n === null || n === undefined) return '–';
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let v = n;
  let i = 0;
  while (v >= 1000 && i < units.length - 1) {
    v /= 1000;
    i++;
  }
  return `${i === 0 ? v : v.toFixed(1)} ${units[i]}`;
}

export function formatTime(iso: string | null | undefined): string {
  if (!iso) return '–';
  const d = new Date(iso);
  return d.toISOString().replace('T', ' ').slice(0, 16) + ' UTC';
}

export function shortDigest(digest: string): string {
  const [alg, hex] = digest.split(':');
  return `${alg}:${(hex ?? '').slice(0, 12)}`;
}

// --- shapes the API answers with

export interface SessionInfo {
  authEnabled: boolean;
  user: { name: string; kind: string; admin: boolean; namespaces: { namespace: string; role: string }[] } | null;
  csrfToken: string | null;
  expiresAt: string | null;
  /** The account must set up a second factor before anything else. */
  mustEnrolSecondFactor?: boolean;
}

export interface SecondFactorStatus {
  totp: 'off' | 'pending' | 'on';
  recoveryCodesLeft: number;
  required: boolean;
}

export interface TotpEnrolment {
  secret: string;
  otpauthUri: string;
  /** An SVG data URL. */
  qrCode: string;
}

export interface RepositoryRow {
  name: string;
  namespace: string;
  tagCount: number;
  createdAt: string;
  updatedAt: string;
}

export interface TagRow {
  tag: string;
  digest: string;
  mediaType: string | null;
  size: number | null;
  platforms: string[];
  pushedAt: string | null;
  pushedBy: string | null;
  lastPulledAt: string | null;
  pullCount: number;
}

// The manifest view is the server's own type (a type-only import: nothing of the server is bundled).
export type { DescriptorView, ManifestDetails } from '../../src/registry/manifest-view.js';
