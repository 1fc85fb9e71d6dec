// The session cookie of the web UI: its attributes (HttpOnly, SameSite=Strict, Path=/, Secure
// when the connection is HTTPS end to end or at the proxy) and reading it from a request.
import type { FastifyRequest } from 'fastify';
import { cookieValue, SESSION_COOKIE } from '../auth/sessions.js';

export type SecureCookies = 'auto' | 'always' | 'never';

/**
 * Whether the cookie gets the Secure attribute. X-Forwarded-Proto is believed here without a
 * trusted-proxy list: a forged header can only make the cookie stricter.
 */
export function secureCookie(request: FastifyRequest, mode: SecureCookies): boolean {
  if (mode !== 'auto') return mode === 'always';
  if (request.protocol === 'https') return true;
  const forwarded = request.headers['x-forwarded-proto'];
  return typeof forwarded === 'string' && forwarded.split(',')[0]!.trim().toLowerCase() === 'https';
}

export function sessionCookie(id: string, maxAgeSeconds: number, secure: boolean): string {
  return `${SESSION_COOKIE}=${id}; Path=/; Max-Age=${maxAgeSeconds}; HttpOnly; SameSite=Strict${secure ? '; Secure' : ''}`;
}

export function clearedSessionCookie(secure: boolean): string {
  return `${SESSION_COOKIE}=; Path=/; Max-Age=0; HttpOnly; SameSite=Strict${secure ? '; Secure' : ''}`;
}

export function sessionIdOf(request: FastifyRequest): string | undefined {
  const value = cookieValue(request.headers.cookie, SESSION_COOKIE);
  return value === '' ? undefined : value;
}

/** Methods that change nothing: allowed with the cookie alone (SameSite=Strict keeps them same-site). */
export function isSafeMethod(method: string): boolean {
  return method === 'GET' || method === 'HEAD';
}
