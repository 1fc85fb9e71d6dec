// Replication rules in the management API, per namespace (its owners and administrators) and
// system-wide (administrators):
//   /namespaces/{name}/replication/rules[/{id}]  and  /replication/rules[/{id}]   list, create, read, change, delete
//   .../{id}/run    queue a run of the whole rule now (202, with the run)
//   .../{id}/runs   the rule's history, newest first (queued and running runs too)
// The remote password is write-only: answers say whether one is set, never what it is.
// Every change goes to the audit log.
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { registryBaseUrl } from '../../distribution-client/registry-url.js';
import { TargetRefused } from '../../events/targets.js';
import type { ReplicationRule, ReplicationRun } from '../../metadata/replication-store.js';
import { audit, badRequest, conflict, notFound, param, readJson, readQuery, route, type ApiContext } from './context.js';
import { RepositoryGlob } from './retention.js';
import { namespaceScope, systemScope, type Scope } from './webhooks.js';

/** Rules per namespace (and system-wide). */
export const MAX_REPLICATION_RULES = 25;

const Remote = z
  .string()
  .min(1)
  .max(2048)
  .refine((v) => {
    try {
      registryBaseUrl(v);
      return !/@/.test(v);
    } catch {
      return false;
    }
  }, 'remote: host[:port] or a URL of a registry (https; http for loopback only), without credentials');
const TagGlob = z.string().regex(/^[A-Za-z0-9_.*?-]{1,128}$/, { message: 'tags: a glob over tags (tag characters and the wildcards * and ?)' });
const Credentials = z.strictObject({ username: z.string().min(1).max(255), password: z.string().max(1024) });
const Trigger = z.enum(['event', 'schedule', 'manual']);
const IntervalMs = z.number().int().min(1000).max(30 * 24 * 3600_000);

export const NewReplicationRuleBody = z
  .strictObject({
    direction: z.enum(['push', 'pull']),
    remote: Remote,
    credentials: Credentials.nullable().default(null),
    repositories: RepositoryGlob,
    tags: TagGlob.nullable().default(null),
    referrers: z.boolean().default(true),
    trigger: Trigger.default('manual'),
    intervalMs: IntervalMs.nullable().default(null),
    enabled: z.boolean().default(true),
  })
  .superRefine((b, ctx) => {
    for (const [path, message] of triggerIssues(b.direction, b.trigger, b.intervalMs)) ctx.addIssue({ code: 'custom', path: [path], message });
  });

export const ReplicationRuleChangesBody = z.strictObject({
  remote: Remote.optional(),
  credentials: Credentials.nullable().optional(),
  repositories: RepositoryGlob.optional(),
  tags: TagGlob.nullable().optional(),
  referrers: z.boolean().optional(),
  trigger: Trigger.optional(),
  intervalMs: IntervalMs.nullable().optional(),
  enabled: z.boolean().optional(),
});

const RunsQuery = z.strictObject({ limit: z.coerce.number().int().min(1).max(200).default(50) });

/** What is wrong with a rule's trigger settings, as [field, message] pairs. */
function triggerIssues(direction: string, trigger: string, intervalMs: number | null): [string, string][] {
  const issues: [string, string][] = [];
  if (trigger === 'event' && direction !== 'push') issues.push(['trigger', 'push events trigger push rules only']);
  if (trigger === 'schedule' && intervalMs === null) issues.push(['intervalMs', 'a scheduled rule needs intervalMs']);
  return issues;
}

export function ruleView(r: ReplicationRule) {
  return {
    id: r.id,
    namespace: r.namespace,
    direction: r.direction,
    remote: r.remoteUrl,
    credentials: r.username !== null ? { username: r.username, password: r.password ? 'set' : 'empty' } : null,
    repositories: r.repositories,
    tags: r.tags,
    referrers: r.referrers,
    trigger: r.trigger,
    intervalMs: r.intervalMs,
    enabled: r.enabled,
    lastScheduledAt: r.lastScheduledAt?.toISOString() ?? null,
    createdBy: r.createdBy,
    createdAt: r.createdAt.toISOString(),
    updatedAt: r.updatedAt.toISOString(),
  };
}

export function runView(r: ReplicationRun) {
  return {
    id: r.id,
    ruleId: r.ruleId,
    trigger: r.trigger,
    repository: r.repository,
    reference: r.reference,
    state: r.state,
    attempts: r.attempts,
    createdAt: r.createdAt.toISOString(),
    startedAt: r.startedAt?.toISOString() ?? null,
    finishedAt: r.finishedAt?.toISOString() ?? null,
    nextAttemptAt: r.state === 'queued' ? r.notBefore.toISOString() : null,
    copied: { manifests: r.manifests, blobs: r.blobs, bytes: r.bytes },
    error: r.error,
  };
}

export function registerReplicationRoutes(app: FastifyInstance, ctx: ApiContext): void {
  registerScope(app, ctx, '/namespaces/:name/replication/rules', namespaceScope);
  registerScope(app, ctx, '/replication/rules', systemScope);
}

function registerScope(app: FastifyInstance, ctx: ApiContext, base: string, scopeOf: Scope): void {
  const service = ctx.replication;
  const find = async (namespace: string | null, id: string) => {
    const rule = await service.store.getRule(id, namespace);
    if (!rule) throw notFound('replication rule not found', { namespace, id: id.slice(0, 64) });
    return rule;
  };
  const location = (namespace: string | null, id: string) => `/api/v1${namespace === null ? '' : `/namespaces/${namespace}`}/replication/rules/${id}`;
  const inScope = (namespace: string | null, repositories: string) => {
    if (namespace !== null && !repositories.startsWith(`${namespace}/`)) throw badRequest(`repositories: a namespace's rule covers its own repositories (${namespace}/...)`, { namespace });
  };
  const allowed = (namespace: string | null, remote: string) => {
    try {
      service.checkRemote(namespace, remote);
    } catch (err) {
      if (err instanceof TargetRefused) throw badRequest(`remote not allowed: ${err.message}`, { namespace });
      throw err;
    }
  };

  route(app, ctx, 'GET', base, async (_ctx, request, caller) => {
    const namespace = await scopeOf(ctx, request, caller);
    return { body: { rules: (await service.store.listRules(namespace)).map(ruleView) } };
  });

  route(app, ctx, 'POST', base, async (_ctx, request, caller) => {
    const namespace = await scopeOf(ctx, request, caller);
    const body = await readJson(request, NewReplicationRuleBody);
    inScope(namespace, body.repositories);
    allowed(namespace, body.remote);
    if ((await service.store.listRules(namespace)).length >= MAX_REPLICATION_RULES) throw conflict(`at most ${MAX_REPLICATION_RULES} replication rules per namespace`, { namespace, limit: MAX_REPLICATION_RULES });
    const rule = await service.store.createRule({
      namespace,
      direction: body.direction,
      remoteUrl: body.remote,
      username: body.credentials?.username ?? null,
      password: body.credentials?.password ?? null,
      repositories: body.repositories,
      tags: body.tags,
      referrers: body.referrers,
      trigger: body.trigger,
      intervalMs: body.intervalMs,
      enabled: body.enabled,
      createdBy: caller.name,
    });
    await audit(ctx, caller, 'replication.create', { ...ruleView(rule), createdAt: undefined, updatedAt: undefined });
    return { status: 201, body: ruleView(rule), headers: { Location: location(namespace, rule.id) } };
  });

  route(app, ctx, 'GET', `${base}/:id`, async (_ctx, request, caller) => {
    const namespace = await scopeOf(ctx, request, caller);
    return { body: ruleView(await find(namespace, param(request, 'id'))) };
  });

  route(app, ctx, 'PATCH', `${base}/:id`, async (_ctx, request, caller) => {
    const namespace = await scopeOf(ctx, request, caller);
    const before = await find(namespace, param(request, 'id'));
    const { remote, credentials, ...changes } = await readJson(request, ReplicationRuleChangesBody);
    if (Object.keys(changes).length === 0 && remote === undefined && credentials === undefined) throw badRequest('nothing to change');
    if (changes.repositories !== undefined) inScope(namespace, changes.repositories);
    if (remote !== undefined) allowed(namespace, remote);
    const issues = triggerIssues(before.direction, changes.trigger ?? before.trigger, changes.intervalMs !== undefined ? changes.intervalMs : before.intervalMs);
    if (issues.length) throw badRequest(issues.map(([field, message]) => `${field}: ${message}`).join('; '));
    const rule = await service.store.updateRule(namespace, before.id, {
      ...changes,
      ...(remote !== undefined ? { remoteUrl: remote } : {}),
      ...(credentials !== undefined ? { username: credentials?.username ?? null, password: credentials?.password ?? null } : {}),
    });
    await audit(ctx, caller, 'replication.update', {
      namespace,
      id: before.id,
      changes: { ...changes, ...(remote !== undefined ? { remote } : {}), ...(credentials !== undefined ? { credentials: credentials ? { username: credentials.username, password: 'set' } : null } : {}) },
      previous: { remote: before.remoteUrl, repositories: before.repositories, tags: before.tags, trigger: before.trigger, enabled: before.enabled },
    });
    return { body: ruleView(rule ?? before) };
  });

  route(app, ctx, 'DELETE', `${base}/:id`, async (_ctx, request, caller) => {
    const namespace = await scopeOf(ctx, request, caller);
    const rule = await service.store.deleteRule(namespace, param(request, 'id'));
    if (!rule) throw notFound('replication rule not found', { namespace, id: param(request, 'id').slice(0, 64) });
    await audit(ctx, caller, 'replication.delete', { namespace, id: rule.id, direction: rule.direction, remote: rule.remoteUrl });
    return { status: 204 };
  });

  route(app, ctx, 'POST', `${base}/:id/run`, async (_ctx, request, caller) => {
    const namespace = await scopeOf(ctx, request, caller);
    const rule = await find(namespace, param(request, 'id'));
    const run = await service.enqueue(rule, 'manual');
    await audit(ctx, caller, 'replication.run', { namespace, id: rule.id, run: run?.id ?? null });
    if (!run) return { status: 202, body: { queued: false, reason: 'a run of this rule is already queued' } };
    return { status: 202, body: { queued: true, run: runView(run) }, headers: { Location: `${location(namespace, rule.id)}/runs` } };
  });

  route(app, ctx, 'GET', `${base}/:id/runs`, async (_ctx, request, caller) => {
    const namespace = await scopeOf(ctx, request, caller);
    const rule = await find(namespace, param(request, 'id'));
    const query = readQuery(request, RunsQuery);
    return { body: { runs: (await service.store.listRuns(rule.id, query.limit)).map(runView) } };
  });
}
