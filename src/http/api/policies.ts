// Namespace policies and manifest tracking in the management API:
//   /namespaces/{name}/immutable-rules[/{id}]  tag patterns that may not move or be deleted
//     (members read them; owners and administrators add and remove them)
//   /namespaces/{name}/quota                    limits and usage (members read; administrators set)
// (Tags with their tracking data, /repositories/{name}/tags, are in browse.ts.)
// Every change goes to the audit log.
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { TAG_PATTERN } from '../../registry/policies.js';
import type { ImmutableRule, NamespaceQuota } from '../../metadata/policy-store.js';
import { audit, conflict, denied, notFound, param, readJson, readQuery, requireAdmin, route, type ApiContext, type Caller } from './context.js';
import { managedNamespace, visibleNamespace } from './namespaces.js';

export const NewImmutableRuleBody = z.strictObject({
  pattern: z.string().regex(TAG_PATTERN, { message: 'pattern: 1 to 128 tag characters (letters, digits, _ . -) and the wildcards * and ?' }),
});

const Limit = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER).nullable();
export const QuotaBody = z.strictObject({ limitBytes: Limit.default(null), limitRepositories: Limit.default(null) });

function ruleView(rule: ImmutableRule) {
  return { id: rule.id, namespace: rule.namespace, pattern: rule.pattern, createdBy: rule.createdBy, createdAt: rule.createdAt.toISOString() };
}

async function quotaView(ctx: ApiContext, namespace: string, quota: NamespaceQuota | undefined) {
  const [usedBytes, repositories] = await Promise.all([ctx.policies.store.usedBytes(namespace), ctx.policies.store.repositoryCount(namespace)]);
  return { namespace, limitBytes: quota?.limitBytes ?? null, usedBytes, limitRepositories: quota?.limitRepositories ?? null, repositories };
}

/** Members and administrators read a namespace's policies; to others it is not there or not theirs. */
export async function memberNamespace(ctx: ApiContext, caller: Caller, name: string): Promise<string> {
  const { namespace, role } = await visibleNamespace(ctx, caller, name);
  if (!caller.admin && role === undefined) throw denied('only members of the namespace and administrators may see this', { namespace: namespace.name });
  return namespace.name;
}

export function registerPolicyRoutes(app: FastifyInstance, ctx: ApiContext): void {
  route(app, ctx, 'GET', '/namespaces/:name/immutable-rules', async (_ctx, request, caller) => {
    const namespace = await memberNamespace(ctx, caller, param(request, 'name'));
    return { body: { rules: (await ctx.policies.store.listImmutableRules(namespace)).map(ruleView) } };
  });

  route(app, ctx, 'POST', '/namespaces/:name/immutable-rules', async (_ctx, request, caller) => {
    const { namespace } = await managedNamespace(ctx, caller, param(request, 'name'));
    const body = await readJson(request, NewImmutableRuleBody);
    const existing = await ctx.policies.store.listImmutableRules(namespace.name);
    if (existing.some((r) => r.pattern === body.pattern)) throw conflict('the namespace has this rule already', { namespace: namespace.name, pattern: body.pattern });
    const rule = await ctx.policies.store.addImmutableRule({ namespace: namespace.name, pattern: body.pattern, createdBy: caller.name });
    await audit(ctx, caller, 'immutable-rule.create', { namespace: namespace.name, pattern: rule.pattern, id: rule.id });
    return { status: 201, body: ruleView(rule), headers: { Location: `/api/v1/namespaces/${namespace.name}/immutable-rules/${rule.id}` } };
  });

  route(app, ctx, 'DELETE', '/namespaces/:name/immutable-rules/:id', async (_ctx, request, caller) => {
    const { namespace } = await managedNamespace(ctx, caller, param(request, 'name'));
    const rule = await ctx.policies.store.deleteImmutableRule(namespace.name, param(request, 'id'));
    if (!rule) throw notFound('rule not found', { namespace: namespace.name, id: param(request, 'id').slice(0, 64) });
    await audit(ctx, caller, 'immutable-rule.delete', { namespace: namespace.name, pattern: rule.pattern, id: rule.id });
    return { status: 204 };
  });

  route(app, ctx, 'GET', '/namespaces/:name/quota', async (_ctx, request, caller) => {
    const namespace = await memberNamespace(ctx, caller, param(request, 'name'));
    return { body: await quotaView(ctx, namespace, await ctx.policies.store.getQuota(namespace)) };
  });

  route(app, ctx, 'PUT', '/namespaces/:name/quota', async (_ctx, request, caller) => {
    requireAdmin(caller);
    const { namespace } = await visibleNamespace(ctx, caller, param(request, 'name'));
    const body = await readJson(request, QuotaBody);
    const previous = await ctx.policies.store.getQuota(namespace.name);
    const quota: NamespaceQuota = { namespace: namespace.name, limitBytes: body.limitBytes, limitRepositories: body.limitRepositories };
    await ctx.policies.store.setQuota(quota);
    await audit(ctx, caller, 'quota.set', {
      namespace: namespace.name,
      limitBytes: quota.limitBytes,
      limitRepositories: quota.limitRepositories,
      previous: previous ? { limitBytes: previous.limitBytes, limitRepositories: previous.limitRepositories } : null,
    });
    return { body: await quotaView(ctx, namespace.name, quota) };
  });
}
