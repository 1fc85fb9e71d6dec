// Retention policies in the management API:
//   /namespaces/{name}/retention-policies[/{id}]  list, read (members); create, change, delete (owners, administrators)
//   /namespaces/{name}/retention-policies/{id}/run  {"dryRun": true} previews (members);
//                                                   a real run takes an owner or administrator
// Every change and every real run goes to the audit log (each removal too, by the service).
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { TAG_PATTERN } from '../../registry/policies.js';
import type { RetentionPolicy } from '../../metadata/retention-store.js';
import type { RetentionReport } from '../../registry/retention.js';
import { audit, badRequest, notFound, param, readJson, route, type ApiContext } from './context.js';
import { managedNamespace } from './namespaces.js';
import { memberNamespace } from './policies.js';

const TagGlobs = z.array(z.string().regex(TAG_PATTERN, { message: 'tag patterns: 1 to 128 tag characters and the wildcards * and ?' })).min(1).max(50);
const Days = z.number().min(0).max(36_500);

export const RetentionRulesBody = z
  .strictObject({
    keepLatest: z.number().int().min(0).max(1_000_000).optional(),
    keepTags: TagGlobs.optional(),
    removeTags: TagGlobs.optional(),
    olderThanDays: Days.optional(),
    notPulledForDays: Days.optional(),
    untagged: z.boolean().optional(),
  })
  .refine((r) => r.keepLatest !== undefined || r.removeTags !== undefined || r.olderThanDays !== undefined || r.notPulledForDays !== undefined || r.untagged === true, {
    message: 'a policy needs at least one of keepLatest, removeTags, olderThanDays, notPulledForDays or untagged: true',
  });

export const RepositoryGlob = z.string().regex(/^[a-z0-9._/*?-]{1,255}$/, { message: 'repositories: a glob over repository names (lower-case name characters, / and the wildcards * and ?)' });

export const NewRetentionPolicyBody = z.strictObject({
  repositories: RepositoryGlob.default('*'),
  rules: RetentionRulesBody,
  enabled: z.boolean().default(true),
});

export const RetentionPolicyChangesBody = z.strictObject({
  repositories: RepositoryGlob.optional(),
  rules: RetentionRulesBody.optional(),
  enabled: z.boolean().optional(),
});

export const RetentionRunBody = z.strictObject({ dryRun: z.boolean().default(false) });

export function retentionPolicyView(p: RetentionPolicy) {
  return {
    id: p.id,
    namespace: p.namespace,
    repositories: p.repositories,
    rules: p.rules,
    enabled: p.enabled,
    createdBy: p.createdBy,
    createdAt: p.createdAt.toISOString(),
    updatedAt: p.updatedAt.toISOString(),
    lastRunAt: p.lastRunAt?.toISOString() ?? null,
    lastRun: p.lastRun,
  };
}

function reportCounts(r: RetentionReport) {
  return { repositories: r.repositories, tagsRemoved: r.tagsRemoved, manifestsRemoved: r.manifestsRemoved, tagsKept: r.tagsKept };
}

export function registerRetentionRoutes(app: FastifyInstance, ctx: ApiContext): void {
  const store = ctx.retention.store;
  const find = async (namespace: string, id: string) => {
    const policy = await store.getPolicy(namespace, id);
    if (!policy) throw notFound('retention policy not found', { namespace, id: id.slice(0, 64) });
    return policy;
  };

  route(app, ctx, 'GET', '/namespaces/:name/retention-policies', async (_ctx, request, caller) => {
    const namespace = await memberNamespace(ctx, caller, param(request, 'name'));
    return { body: { policies: (await store.listPolicies(namespace)).map(retentionPolicyView) } };
  });

  route(app, ctx, 'POST', '/namespaces/:name/retention-policies', async (_ctx, request, caller) => {
    const { namespace } = await managedNamespace(ctx, caller, param(request, 'name'));
    const body = await readJson(request, NewRetentionPolicyBody);
    const policy = await store.createPolicy({ namespace: namespace.name, repositories: body.repositories, rules: body.rules, enabled: body.enabled, createdBy: caller.name });
    await audit(ctx, caller, 'retention-policy.create', { namespace: namespace.name, id: policy.id, repositories: policy.repositories, rules: policy.rules, enabled: policy.enabled });
    return { status: 201, body: retentionPolicyView(policy), headers: { Location: `/api/v1/namespaces/${namespace.name}/retention-policies/${policy.id}` } };
  });

  route(app, ctx, 'GET', '/namespaces/:name/retention-policies/:id', async (_ctx, request, caller) => {
    const namespace = await memberNamespace(ctx, caller, param(request, 'name'));
    return { body: retentionPolicyView(await find(namespace, param(request, 'id'))) };
  });

  route(app, ctx, 'PATCH', '/namespaces/:name/retention-policies/:id', async (_ctx, request, caller) => {
    const { namespace } = await managedNamespace(ctx, caller, param(request, 'name'));
    const before = await find(namespace.name, param(request, 'id'));
    const body = await readJson(request, RetentionPolicyChangesBody);
    if (body.repositories === undefined && body.rules === undefined && body.enabled === undefined) throw badRequest('nothing to change');
    const policy = (await store.updatePolicy(namespace.name, before.id, body)) ?? before;
    await audit(ctx, caller, 'retention-policy.update', {
      namespace: namespace.name,
      id: policy.id,
      changes: body,
      previous: { repositories: before.repositories, rules: before.rules, enabled: before.enabled },
    });
    return { body: retentionPolicyView(policy) };
  });

  route(app, ctx, 'DELETE', '/namespaces/:name/retention-policies/:id', async (_ctx, request, caller) => {
    const { namespace } = await managedNamespace(ctx, caller, param(request, 'name'));
    const policy = await store.deletePolicy(namespace.name, param(request, 'id'));
    if (!policy) throw notFound('retention policy not found', { namespace: namespace.name, id: param(request, 'id').slice(0, 64) });
    await audit(ctx, caller, 'retention-policy.delete', { namespace: namespace.name, id: policy.id, repositories: policy.repositories, rules: policy.rules });
    return { status: 204 };
  });

  route(app, ctx, 'POST', '/namespaces/:name/retention-policies/:id/run', async (_ctx, request, caller) => {
    const body = await readJson(request, RetentionRunBody);
    // A preview changes nothing: members may look; removing takes an owner or administrator.
    const namespace = body.dryRun ? await memberNamespace(ctx, caller, param(request, 'name')) : (await managedNamespace(ctx, caller, param(request, 'name'))).namespace.name;
    const policy = await find(namespace, param(request, 'id'));
    const report = await ctx.retention.run(policy, { dryRun: body.dryRun, actor: caller.name, trigger: 'manual' });
    if (!body.dryRun) await audit(ctx, caller, 'retention.run', { namespace, id: policy.id, ...reportCounts(report) });
    return { body: report };
  });
}
