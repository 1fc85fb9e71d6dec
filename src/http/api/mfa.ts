// /api/v1/me/mfa: a person's second factor. Enrol a TOTP authenticator (secret, otpauth:// URI
// and QR code), confirm it with a first code (the answer carries the recovery codes, shown
// this once), read the status, remove it or renew the recovery codes with a code.
// Administrators may remove a user's second factor (a lost phone and no recovery codes left).
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { otpHeader, OTP_HEADER } from '../../auth/authenticate.js';
import { RegistryError } from '../../registry/errors.js';
import { audit, badRequest, conflict, notFound, param, readJson, requireAdmin, requireUser, route, type ApiContext, type Caller } from './context.js';

const CodeBody = z.strictObject({ code: z.string().min(1).max(64) });

/**
 * A change to the second factor takes a code in the X-Registry-OTP header: the one this request
 * logged in with (Basic auth), or a fresh one (a bearer token, a web UI session).
 */
async function requireCode(ctx: ApiContext, request: FastifyRequest, caller: Caller, action: string): Promise<void> {
  if (caller.secondFactorChecked || caller.identity.kind !== 'user') return;
  const code = otpHeader(request);
  if (!code || !(await ctx.secondFactor.verify(caller.identity.username, code))) {
    throw new RegistryError('UNAUTHORIZED', `${action} takes a valid code in the ${OTP_HEADER} header`, { secondFactor: 'totp' });
  }
}

export function registerMfaRoutes(app: FastifyInstance, ctx: ApiContext): void {
  route(app, ctx, 'GET', '/me/mfa', async (_ctx, _request, caller) => {
    const user = requireUser(caller);
    return { body: await ctx.secondFactor.status(user) };
  });

  route(app, ctx, 'POST', '/me/mfa/totp', async (_ctx, _request, caller) => {
    const user = requireUser(caller);
    const enrolment = await ctx.secondFactor.begin(user.username);
    if (!enrolment) throw conflict('a second factor is on already; remove it first');
    return { status: 201, body: enrolment };
  });

  route(app, ctx, 'POST', '/me/mfa/totp/confirm', async (_ctx, request, caller) => {
    const user = requireUser(caller);
    const { code } = await readJson(request, CodeBody);
    const recoveryCodes = await ctx.secondFactor.confirm(user.username, code);
    if (!recoveryCodes) throw badRequest('the code does not match (or no enrolment is pending); check the device clock and try the next code');
    await audit(ctx, caller, 'mfa.enable', { username: user.username, method: 'totp' });
    return { body: { totp: 'on', recoveryCodes } };
  });

  route(app, ctx, 'DELETE', '/me/mfa/totp', async (_ctx, request, caller) => {
    const user = requireUser(caller);
    if (!(await ctx.secondFactor.enrolled(user.username))) throw notFound('no second factor is on');
    await requireCode(ctx, request, caller, 'removing the second factor');
    await ctx.secondFactor.remove(user.username);
    await audit(ctx, caller, 'mfa.disable', { username: user.username, method: 'totp' });
    return { status: 204 };
  });

  // New recovery codes (the old ones stop working), e.g. when few are left or they leaked.
  route(app, ctx, 'POST', '/me/mfa/recovery-codes', async (_ctx, request, caller) => {
    const user = requireUser(caller);
    if (!(await ctx.secondFactor.enrolled(user.username))) throw notFound('no second factor is on');
    await requireCode(ctx, request, caller, 'renewing the recovery codes');
    const recoveryCodes = await ctx.secondFactor.renewRecoveryCodes(user.username);
    if (!recoveryCodes) throw notFound('no second factor is on');
    await audit(ctx, caller, 'mfa.recovery-codes', { username: user.username });
    return { status: 201, body: { recoveryCodes } };
  });

  route(app, ctx, 'DELETE', '/users/:username/mfa', async (_ctx, request, caller) => {
    requireAdmin(caller);
    const username = param(request, 'username');
    if (!(await ctx.secondFactor.remove(username))) throw notFound('no second factor is on', { username: username.slice(0, 128) });
    await audit(ctx, caller, 'mfa.reset', { username });
    return { status: 204 };
  });
}
