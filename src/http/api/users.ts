// /api/v1/users and /api/v1/me: accounts. Administrators manage every account; a user may read
// their own and change their own password. The last administrator able to log in cannot be
// demoted, disabled or deleted.
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { hashSecret } from '../../auth/authenticate.js';
import { isValidUsername, MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH, USERNAME_RULE } from '../../auth/names.js';
import {
  audit,
  conflict,
  denied,
  notFound,
  param,
  readJson,
  requireAdmin,
  requireUser,
  route,
  userView,
  type ApiContext,
  type Caller,
} from './context.js';

export const Password = z.string().min(MIN_PASSWORD_LENGTH).max(MAX_PASSWORD_LENGTH);
export const Username = z.string().refine(isValidUsername, { message: `username: ${USERNAME_RULE}` });

export const NewUserBody = z.strictObject({ username: Username, password: Password, admin: z.boolean().default(false) });
export const UserChangeBody = z
  .strictObject({ password: Password.optional(), admin: z.boolean().optional(), disabled: z.boolean().optional() })
  .refine((b) => b.password !== undefined || b.admin !== undefined || b.disabled !== undefined, { message: 'nothing to change' });

async function findUser(ctx: ApiContext, username: string) {
  const user = await ctx.access.getUser(username);
  if (!user) throw notFound('user not found', { username: username.slice(0, 128) });
  return user;
}

/** Refuse a change that would leave no administrator able to log in. */
async function keepAnAdmin(ctx: ApiContext, user: { admin: boolean; disabled: boolean }, losesAdmin: boolean): Promise<void> {
  if (user.admin && !user.disabled && losesAdmin && (await ctx.access.countAdmins()) <= 1) {
    throw conflict('this is the last administrator; make another one first');
  }
}

function isSelf(caller: Caller, username: string): boolean {
  return caller.identity.kind === 'user' && caller.identity.username === username;
}

export function registerUserRoutes(app: FastifyInstance, ctx: ApiContext): void {
  route(app, ctx, 'GET', '/me', async (_ctx, _request, caller) => {
    if (caller.identity.kind === 'robot') {
      const { name, namespace, actions } = caller.identity;
      return { body: { kind: 'robot', name, namespace, actions } };
    }
    const user = await findUser(ctx, caller.identity.username);
    const memberships = (await ctx.access.rolesOf(user.username)).map((m) => ({ namespace: m.namespace, role: m.role }));
    return { body: { kind: 'user', ...userView(user), memberships } };
  });

  route(app, ctx, 'GET', '/users', async (_ctx, _request, caller) => {
    requireAdmin(caller);
    return { body: { users: (await ctx.access.listUsers()).map(userView) } };
  });

  route(app, ctx, 'POST', '/users', async (_ctx, request, caller) => {
    requireAdmin(caller);
    const body = await readJson(request, NewUserBody);
    let user;
    try {
      user = await ctx.access.createUser({ username: body.username, passwordHash: await hashSecret(body.password), admin: body.admin });
    } catch {
      if (await ctx.access.getUser(body.username)) throw conflict('a user with this name exists', { username: body.username });
      throw new Error('could not create the user');
    }
    await audit(ctx, caller, 'user.create', { username: user.username, admin: user.admin });
    return { status: 201, body: userView(user), headers: { Location: `/api/v1/users/${user.username}` } };
  });

  route(app, ctx, 'GET', '/users/:username', async (_ctx, request, caller) => {
    const username = param(request, 'username');
    if (!isSelf(caller, username)) requireAdmin(caller);
    return { body: userView(await findUser(ctx, username)) };
  });

  route(app, ctx, 'PATCH', '/users/:username', async (_ctx, request, caller) => {
    const username = param(request, 'username');
    requireUser(caller);
    if (!caller.admin && !isSelf(caller, username)) throw denied('only an administrator may change other accounts');
    const change = await readJson(request, UserChangeBody);
    if (!caller.admin && (change.admin !== undefined || change.disabled !== undefined)) {
      throw denied('only an administrator may change admin or disabled');
    }
    const user = await findUser(ctx, username);
    await keepAnAdmin(ctx, user, change.admin === false || change.disabled === true);
    const updated = await ctx.access.updateUser(username, {
      ...(change.password !== undefined ? { passwordHash: await hashSecret(change.password) } : {}),
      ...(change.admin !== undefined ? { admin: change.admin } : {}),
      ...(change.disabled !== undefined ? { disabled: change.disabled } : {}),
    });
    if (!updated) throw notFound('user not found', { username });
    ctx.authenticator.forget();
    await audit(ctx, caller, 'user.update', {
      username,
      ...(change.password !== undefined ? { password: 'changed' } : {}),
      ...(change.admin !== undefined ? { admin: change.admin } : {}),
      ...(change.disabled !== undefined ? { disabled: change.disabled } : {}),
    });
    return { body: userView(await findUser(ctx, username)) };
  });

  route(app, ctx, 'DELETE', '/users/:username', async (_ctx, request, caller) => {
    requireAdmin(caller);
    const username = param(request, 'username');
    const user = await findUser(ctx, username);
    await keepAnAdmin(ctx, user, true);
    if (!(await ctx.access.deleteUser(username))) throw notFound('user not found', { username });
    ctx.authenticator.forget();
    await audit(ctx, caller, 'user.delete', { username });
    return { status: 204 };
  });
}
