// /api/v1/namespaces: the first path segment of repository names, with a visibility and
// members. Administrators create any namespace; a user may create one (and becomes its owner)
// unless its name is another user's username (each user owns the namespace named after them).
// A namespace is visible to administrators, to its members, and (when public) to every
// authenticated caller; to anyone else it does not exist (404). Its owners and administrators
// change and delete it. Deleting a namespace removes its members, robots and webhooks, not its images.
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { isValidNamespaceName, NAMESPACE_RULE } from '../../auth/names.js';
import type { NamespaceRecord, Role } from '../../auth/model.js';
import {
  audit,
  conflict,
  denied,
  namespaceView,
  notFound,
  param,
  readJson,
  requireUser,
  roleIn,
  route,
  type ApiContext,
  type Caller,
} from './context.js';
import { Username } from './users.js';

export const NamespaceName = z.string().refine(isValidNamespaceName, { message: `namespace: ${NAMESPACE_RULE}` });
export const Visibility = z.enum(['public', 'private']);

export const NewNamespaceBody = z.strictObject({
  name: NamespaceName,
  visibility: Visibility.default('private'),
  /** Administrators only: make this user the owner. Users creating a namespace own it. */
  owner: Username.optional(),
});
export const NamespaceChangeBody = z.strictObject({ visibility: Visibility });

/** The namespace and the caller's role there; 404 when the caller may not see it. */
export async function visibleNamespace(ctx: ApiContext, caller: Caller, name: string): Promise<{ namespace: NamespaceRecord; role: Role | undefined }> {
  const namespace = await ctx.access.getNamespace(name);
  const role = namespace ? await roleIn(ctx, caller, name) : undefined;
  if (!namespace || !(caller.admin || role !== undefined || namespace.visibility === 'public')) {
    throw notFound('namespace not found', { namespace: name.slice(0, 128) });
  }
  return { namespace, role };
}

/** Owners and administrators manage a namespace (its settings, members and robots). */
export async function managedNamespace(ctx: ApiContext, caller: Caller, name: string): Promise<{ namespace: NamespaceRecord; role: Role | undefined }> {
  requireUser(caller);
  const found = await visibleNamespace(ctx, caller, name);
  if (!caller.admin && found.role !== 'owner') throw denied('only an owner of the namespace or an administrator may do this', { namespace: name });
  return found;
}

export function registerNamespaceRoutes(app: FastifyInstance, ctx: ApiContext): void {
  route(app, ctx, 'GET', '/namespaces', async (_ctx, _request, caller) => {
    const roles = new Map(caller.identity.kind === 'user' ? (await ctx.access.rolesOf(caller.identity.username)).map((m) => [m.namespace, m.role]) : []);
    const all = await ctx.access.listNamespaces();
    const visible = all.filter((ns) => caller.admin || roles.has(ns.name) || ns.visibility === 'public');
    return { body: { namespaces: visible.map((ns) => namespaceView(ns, roles.get(ns.name) ?? null)) } };
  });

  route(app, ctx, 'POST', '/namespaces', async (_ctx, request, caller) => {
    const user = requireUser(caller);
    const body = await readJson(request, NewNamespaceBody);
    if (body.owner !== undefined && !caller.admin && body.owner !== user.username) throw denied('only an administrator may name another owner');
    if (!caller.admin && body.name !== user.username && (await ctx.access.getUser(body.name))) {
      throw denied('this namespace name belongs to another user', { namespace: body.name });
    }
    if (await ctx.access.getNamespace(body.name)) throw conflict('the namespace exists', { namespace: body.name });
    const owner = body.owner ?? (caller.admin ? undefined : user.username);
    if (owner !== undefined && !(await ctx.access.getUser(owner))) throw notFound('user not found', { username: owner });
    const namespace = await ctx.access.ensureNamespace(body.name, body.visibility);
    if (namespace.visibility !== body.visibility) throw conflict('the namespace exists', { namespace: body.name });
    if (owner !== undefined) await ctx.access.setMember(namespace.name, owner, 'owner');
    await audit(ctx, caller, 'namespace.create', { namespace: namespace.name, visibility: namespace.visibility, ...(owner ? { owner } : {}) });
    return {
      status: 201,
      body: namespaceView(namespace, owner === user.username ? 'owner' : null),
      headers: { Location: `/api/v1/namespaces/${namespace.name}` },
    };
  });

  route(app, ctx, 'GET', '/namespaces/:name', async (_ctx, request, caller) => {
    const { namespace, role } = await visibleNamespace(ctx, caller, param(request, 'name'));
    return { body: namespaceView(namespace, role ?? null) };
  });

  route(app, ctx, 'PATCH', '/namespaces/:name', async (_ctx, request, caller) => {
    const { namespace, role } = await managedNamespace(ctx, caller, param(request, 'name'));
    const change = await readJson(request, NamespaceChangeBody);
    if (!(await ctx.access.setNamespaceVisibility(namespace.name, change.visibility))) throw notFound('namespace not found', { namespace: namespace.name });
    await audit(ctx, caller, 'namespace.update', { namespace: namespace.name, visibility: change.visibility, previous: namespace.visibility });
    return { body: namespaceView({ ...namespace, visibility: change.visibility }, role ?? null) };
  });

  route(app, ctx, 'DELETE', '/namespaces/:name', async (_ctx, request, caller) => {
    const { namespace } = await managedNamespace(ctx, caller, param(request, 'name'));
    if (!(await ctx.access.deleteNamespace(namespace.name))) throw notFound('namespace not found', { namespace: namespace.name });
    ctx.authenticator.forget();
    const webhooks = await ctx.webhooks.deleteNamespace(namespace.name);
    const rules = await ctx.replication.store.deleteNamespaceRules(namespace.name);
    await audit(ctx, caller, 'namespace.delete', { namespace: namespace.name, ...(webhooks ? { webhooksRemoved: webhooks } : {}), ...(rules ? { replicationRulesRemoved: rules } : {}) });
    return { status: 204 };
  });
}
