// /api/v1/oidc: single sign-on. GET /oidc says whether it is configured (the UI shows its
// button); GET /oidc/login sends the browser to the provider (with a cookie tying the flow to
// this browser); GET /oidc/callback finishes it: a web UI session, or the completion of a
// command-line login. POST /oidc/cli-logins starts a command-line login and
// POST /oidc/cli-logins/{id}/poll is how the command line waits for it.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { cookieValue } from '../../auth/sessions.js';
import { CALLBACK_PATH, CLI_POLL_INTERVAL_SECONDS, LOGIN_PATH } from '../../auth/oidc.js';
import { RegistryError } from '../../registry/errors.js';
import { secureCookie, sessionCookie } from '../session-cookie.js';
import { API_PREFIX, badRequest, param, readJson, readQuery, send, type ApiContext } from './context.js';

/** Ties a flow to the browser that started it. SameSite=Lax: it must come back with the provider's redirect. */
const FLOW_COOKIE = 'registry_oidc_flow';
const FLOW_COOKIE_PATH = `${API_PREFIX}/oidc`;

const LoginQuery = z.strictObject({ cli: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/).optional() });
const CliLoginBody = z.strictObject({ label: z.string().min(1).max(255).optional() });
const PollBody = z.strictObject({ pollToken: z.string().min(1).max(128) });

function flowCookie(value: string, maxAgeSeconds: number, secure: boolean): string {
  return `${FLOW_COOKIE}=${value}; Path=${FLOW_COOKIE_PATH}; Max-Age=${maxAgeSeconds}; HttpOnly; SameSite=Lax${secure ? '; Secure' : ''}`;
}

/** The page a person sees in the browser after finishing a command-line login (nothing in it comes unescaped from outside). */
function cliDonePage(username: string, userCode: string): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Signed in</title></head>
<body><h1>Signed in as ${username}</h1><p>Go back to your terminal: the command line that shows the code <strong>${userCode}</strong> is logged in now. If it shows another code, or you did not start a login, revoke its secret under your account's CLI secrets.</p></body></html>`;
}

export function registerOidcRoutes(app: FastifyInstance, ctx: ApiContext): void {
  const secureMode = ctx.sessions?.secureCookies ?? 'auto';

  app.get(`${API_PREFIX}/oidc`, async (_request, reply) => {
    const oidc = ctx.oidc;
    return send(reply, { body: oidc ? { enabled: true, displayName: oidc.displayName, loginUrl: LOGIN_PATH, webLogin: ctx.sessions !== undefined } : { enabled: false } });
  });

  const oidc = ctx.oidc;
  if (!oidc) return;

  app.get(LOGIN_PATH, async (request, reply) => {
    const { cli } = readQuery(request, LoginQuery);
    if (cli === undefined && !ctx.sessions) throw badRequest('the web UI is off: single sign-on serves command-line logins only');
    const { url, binding } = await oidc.begin(cli);
    reply.header('Set-Cookie', flowCookie(binding, 3600, secureCookie(request, secureMode)));
    return send(reply, { status: 302, headers: { Location: url } });
  });

  app.get(CALLBACK_PATH, async (request: FastifyRequest, reply: FastifyReply) => {
    const query = request.url.includes('?') ? request.url.slice(request.url.indexOf('?')) : '';
    const binding = cookieValue(request.headers.cookie, FLOW_COOKIE);
    const secure = secureCookie(request, secureMode);
    const cleared = flowCookie('', 0, secure);
    const done = await oidc.finish(query, binding === '' ? undefined : binding, request.ip);
    if (done.cliLogin) {
      reply.header('Set-Cookie', cleared);
      return reply.code(200).header('Cache-Control', 'no-store').header('Content-Type', 'text/html; charset=utf-8').send(cliDonePage(done.user.username, done.cliLogin.userCode));
    }
    if (!ctx.sessions) throw badRequest('the web UI is off');
    const { id } = await ctx.sessions.service.open({ kind: 'user', id: done.user.id, username: done.user.username, admin: done.user.admin }, request.ip, 'oidc');
    reply.header('Set-Cookie', [cleared, sessionCookie(id, ctx.sessions.service.ttlSeconds, secure)]);
    return send(reply, { status: 302, headers: { Location: '/' } });
  });

  app.post(`${API_PREFIX}/oidc/cli-logins`, async (request, reply) => {
    const { label } = await readJson(request, CliLoginBody);
    const started = await oidc.startCliLogin(label ?? `command line from ${request.ip}`);
    return send(reply, {
      status: 201,
      body: { id: started.id, pollToken: started.pollToken, userCode: started.userCode, loginUrl: started.loginUrl, expiresAt: started.expiresAt.toISOString(), intervalSeconds: CLI_POLL_INTERVAL_SECONDS },
    });
  });

  app.post(`${API_PREFIX}/oidc/cli-logins/:id/poll`, async (request, reply) => {
    const id = param(request, 'id');
    if (!/^[A-Za-z0-9_-]{1,64}$/.test(id)) throw new RegistryError('NAME_UNKNOWN', 'unknown command-line login', undefined, { status: 404 });
    const { pollToken } = await readJson(request, PollBody);
    const result = await oidc.pollCliLogin(id, pollToken, request.ip);
    if (result.status === 'pending') return send(reply, { status: 202, body: { status: 'pending', intervalSeconds: CLI_POLL_INTERVAL_SECONDS } });
    return send(reply, { body: { status: 'done', username: result.username, secret: result.secret, secretId: result.secretId, expiresAt: result.expiresAt.toISOString() } });
  });
}
