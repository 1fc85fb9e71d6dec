// /api/v1/session: the web UI's login (POST: username and password as JSON; sets the session
// cookie and answers the CSRF token), who is logged in (GET; answers `user: null` rather than
// a challenge, so a browser shows no password dialog) and logout (DELETE, with the CSRF token).
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { RegistryError } from '../../registry/errors.js';
import { API_PREFIX, authenticate, readJson, send, type ApiContext, type Caller } from './context.js';
import { clearedSessionCookie, secureCookie, sessionCookie, sessionIdOf } from '../session-cookie.js';

export const LoginBody = z.strictObject({
  username: z.string().min(1).max(255),
  password: z.string().min(1).max(1024),
  /** The second-factor code (or a recovery code), for accounts with one. */
  otp: z.string().min(1).max(64).optional(),
});

async function sessionView(ctx: ApiContext, caller: Caller) {
  const roles = caller.identity.kind === 'user' ? await ctx.access.rolesOf(caller.identity.username) : [];
  return {
    authEnabled: true,
    user: {
      name: caller.name,
      kind: caller.identity.kind,
      admin: caller.admin,
      namespaces: roles.map((r) => ({ namespace: r.namespace, role: r.role })),
    },
    /** The UI sends the user to enrol a second factor: nothing else is allowed until then. */
    mustEnrolSecondFactor: caller.session?.mustEnrol ?? false,
    csrfToken: caller.session?.record.csrfToken ?? null,
    expiresAt: caller.session?.record.expiresAt.toISOString() ?? null,
  };
}

function hasCredentials(request: FastifyRequest): boolean {
  return request.headers.authorization !== undefined || sessionIdOf(request) !== undefined;
}

export function registerSessionRoutes(app: FastifyInstance, ctx: ApiContext): void {
  const sessions = ctx.sessions;
  if (!sessions) return;

  app.post(`${API_PREFIX}/session`, async (request, reply) => {
    const body = await readJson(request, LoginBody);
    const { id, session } = await sessions.service.login(body.username, body.password, request.ip, body.otp);
    const caller: Caller = { identity: session.identity, name: session.identity.username, admin: session.identity.admin, source: request.ip, session, secondFactorChecked: body.otp !== undefined };
    reply.header('Set-Cookie', sessionCookie(id, sessions.service.ttlSeconds, secureCookie(request, sessions.secureCookies)));
    return send(reply, { status: 201, body: await sessionView(ctx, caller) });
  });

  app.get(`${API_PREFIX}/session`, async (request, reply) => {
    if (!hasCredentials(request)) return send(reply, { body: { authEnabled: true, user: null, csrfToken: null, expiresAt: null } });
    try {
      return send(reply, { body: await sessionView(ctx, await authenticate(ctx, request)) });
    } catch (err) {
      // An expired cookie: tell the UI to log in again, and drop the cookie.
      if (err instanceof RegistryError && err.code === 'UNAUTHORIZED' && request.headers.authorization === undefined) {
        reply.header('Set-Cookie', clearedSessionCookie(secureCookie(request, sessions.secureCookies)));
        return send(reply, { body: { authEnabled: true, user: null, csrfToken: null, expiresAt: null } });
      }
      throw err;
    }
  });

  app.delete(`${API_PREFIX}/session`, async (request, reply) => {
    const caller = await authenticate(ctx, request);
    if (!caller.session) throw new RegistryError('UNSUPPORTED', 'only a web UI session can be ended here', undefined, { status: 400 });
    await sessions.service.logout(caller.session, request.ip);
    reply.header('Set-Cookie', clearedSessionCookie(secureCookie(request, sessions.secureCookies)));
    return send(reply, { status: 204 });
  });
}
