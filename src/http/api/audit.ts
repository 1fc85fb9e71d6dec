// /api/v1/audit: the audit log, newest first, filtered by actor, action, repository and time,
// paged with `limit` and a `before` cursor (the answer's `next` field and Link header give the
// next page). Administrators see every event. An owner of a namespace who is not an
// administrator may read the events of one repository in that namespace (`repository` is then
// required); account and namespace changes are for administrators only.
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { namespaceOf } from '../../registry/names.js';
import type { AuditEvent } from '../../auth/model.js';
import { API_PREFIX, denied, readQuery, requireUser, roleIn, route } from './context.js';

const MAX_LIMIT = 1000;

export const AuditQuery = z.strictObject({
  actor: z.string().min(1).max(255).optional(),
  action: z.string().min(1).max(64).optional(),
  repository: z.string().min(1).max(255).optional(),
  since: z.iso.datetime({ offset: true }).optional(),
  until: z.iso.datetime({ offset: true }).optional(),
  limit: z.coerce.number().int().min(1).max(MAX_LIMIT).default(100),
  before: z.coerce.number().int().min(1).optional(),
});

export function auditView(e: AuditEvent) {
  return {
    id: e.id,
    at: e.at.toISOString(),
    actor: e.actor,
    action: e.action,
    source: e.source,
    repository: e.repository,
    reference: e.reference,
    digest: e.digest,
    detail: e.detail,
  };
}

export function registerAuditRoutes(app: FastifyInstance, ctx: Parameters<typeof route>[1]): void {
  route(app, ctx, 'GET', '/audit', async (_ctx, request, caller) => {
    const q = readQuery(request, AuditQuery);
    if (!caller.admin) {
      requireUser(caller);
      if (q.repository === undefined) throw denied('only administrators may read the whole audit log; owners give a repository of their namespace');
      if ((await roleIn(ctx, caller, namespaceOf(q.repository))) !== 'owner') {
        throw denied('only owners of the namespace may read its audit events', { repository: q.repository });
      }
    }
    // One more than asked for tells whether there is a next page.
    const found = await ctx.access.queryAudit({
      ...(q.actor !== undefined ? { actor: q.actor } : {}),
      ...(q.action !== undefined ? { action: q.action } : {}),
      ...(q.repository !== undefined ? { repository: q.repository } : {}),
      ...(q.since !== undefined ? { since: new Date(q.since) } : {}),
      ...(q.until !== undefined ? { until: new Date(q.until) } : {}),
      ...(q.before !== undefined ? { before: q.before } : {}),
      limit: q.limit + 1,
    });
    const events = found.slice(0, q.limit);
    const body: { events: ReturnType<typeof auditView>[]; next?: string } = { events: events.map(auditView) };
    const headers: Record<string, string> = {};
    if (found.length > q.limit) {
      const params = new URLSearchParams();
      for (const key of ['actor', 'action', 'repository', 'since', 'until'] as const) if (q[key] !== undefined) params.set(key, q[key]);
      params.set('limit', String(q.limit));
      params.set('before', String(events[events.length - 1]!.id));
      body.next = `${API_PREFIX}/audit?${params.toString()}`;
      headers['Link'] = `<${body.next}>; rel="next"`;
    }
    return { body, headers };
  });
}
