// /api/v1/namespaces/{name}/members: who has which role in a namespace. Members and
// administrators may read them; owners and administrators set and remove them. An owner who
// is not an administrator cannot remove or demote the namespace's last owner.
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { ROLES, type Role } from '../../auth/model.js';
import { audit, conflict, denied, notFound, param, readJson, route, type ApiContext, type Caller } from './context.js';
import { managedNamespace, visibleNamespace } from './namespaces.js';

export const MemberBody = z.strictObject({ role: z.enum(ROLES as [Role, ...Role[]]) });

async function readableMembers(ctx: ApiContext, caller: Caller, name: string) {
  const { namespace, role } = await visibleNamespace(ctx, caller, name);
  if (!caller.admin && role === undefined) throw denied('only members of the namespace may list its members', { namespace: name });
  return namespace;
}

async function keepAnOwner(ctx: ApiContext, caller: Caller, namespace: string, username: string, newRole: Role | undefined): Promise<void> {
  if (caller.admin || newRole === 'owner') return;
  const members = await ctx.access.listMembers(namespace);
  const owners = members.filter((m) => m.role === 'owner');
  if (owners.length === 1 && owners[0]!.username === username) throw conflict('this is the last owner of the namespace; add another owner first');
}

export function registerMemberRoutes(app: FastifyInstance, ctx: ApiContext): void {
  route(app, ctx, 'GET', '/namespaces/:name/members', async (_ctx, request, caller) => {
    const namespace = await readableMembers(ctx, caller, param(request, 'name'));
    const members = await ctx.access.listMembers(namespace.name);
    return { body: { members: members.map((m) => ({ username: m.username, role: m.role })) } };
  });

  route(app, ctx, 'GET', '/namespaces/:name/members/:username', async (_ctx, request, caller) => {
    const namespace = await readableMembers(ctx, caller, param(request, 'name'));
    const username = param(request, 'username');
    const member = (await ctx.access.listMembers(namespace.name)).find((m) => m.username === username);
    if (!member) throw notFound('not a member of the namespace', { namespace: namespace.name, username: username.slice(0, 128) });
    return { body: { username: member.username, role: member.role } };
  });

  route(app, ctx, 'PUT', '/namespaces/:name/members/:username', async (_ctx, request, caller) => {
    const { namespace } = await managedNamespace(ctx, caller, param(request, 'name'));
    const username = param(request, 'username');
    const { role } = await readJson(request, MemberBody);
    if (!(await ctx.access.getUser(username))) throw notFound('user not found', { username: username.slice(0, 128) });
    const previous = (await ctx.access.listMembers(namespace.name)).find((m) => m.username === username)?.role ?? null;
    await keepAnOwner(ctx, caller, namespace.name, username, role);
    await ctx.access.setMember(namespace.name, username, role);
    await audit(ctx, caller, 'member.set', { namespace: namespace.name, username, role, previous });
    return { status: previous === null ? 201 : 200, body: { username, role } };
  });

  route(app, ctx, 'DELETE', '/namespaces/:name/members/:username', async (_ctx, request, caller) => {
    const { namespace } = await managedNamespace(ctx, caller, param(request, 'name'));
    const username = param(request, 'username');
    await keepAnOwner(ctx, caller, namespace.name, username, undefined);
    if (!(await ctx.access.removeMember(namespace.name, username))) {
      throw notFound('not a member of the namespace', { namespace: namespace.name, username: username.slice(0, 128) });
    }
    await audit(ctx, caller, 'member.remove', { namespace: namespace.name, username });
    return { status: 204 };
  });
}
