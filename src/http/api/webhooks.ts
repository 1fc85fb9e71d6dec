// Webhooks in the management API, per namespace (its owners and administrators) and
// system-wide (administrators):
//   /namespaces/{name}/webhooks[/{id}]  and  /webhooks[/{id}]   list, create, read, change, delete
//   .../{id}/deliveries                  the delivery log, newest first
//   .../{id}/deliveries/{delivery}/redeliver   queue that delivery's event again
//   .../{id}/ping                        send a test event now and answer with the attempt
// The signing secret is shown once, when the webhook is created (or its secret rotated).
// Every change goes to the audit log.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { EVENT_KINDS } from '../../events/model.js';
import { newSecret } from '../../events/webhooks.js';
import { TargetRefused } from '../../events/targets.js';
import type { DeliveryRecord, WebhookRecord } from '../../metadata/webhook-store.js';
import { audit, badRequest, conflict, notFound, param, readJson, readQuery, requireAdmin, route, type ApiContext, type Caller } from './context.js';
import { managedNamespace } from './namespaces.js';
import { RepositoryGlob } from './retention.js';

const Url = z.string().min(1).max(2048);
/** Webhooks per namespace (and system-wide): each event costs one delivery per webhook. */
export const MAX_WEBHOOKS = 25;
const Events = z
  .array(z.enum(EVENT_KINDS))
  .min(1)
  .transform((events) => [...new Set(events)]);

export const NewWebhookBody = z.strictObject({
  url: Url,
  events: Events,
  repositories: RepositoryGlob.nullable().default(null),
  enabled: z.boolean().default(true),
});

export const WebhookChangesBody = z.strictObject({
  url: Url.optional(),
  events: Events.optional(),
  repositories: RepositoryGlob.nullable().optional(),
  enabled: z.boolean().optional(),
  /** Replace the secret; the new one is in the answer (once). */
  rotateSecret: z.boolean().optional(),
});

const DeliveriesQuery = z.strictObject({
  limit: z.coerce.number().int().min(1).max(200).default(50),
  before: z.coerce.number().int().positive().optional(),
});

export function webhookView(w: WebhookRecord) {
  return {
    id: w.id,
    namespace: w.namespace,
    url: w.url,
    events: w.events,
    repositories: w.repositories,
    enabled: w.enabled,
    createdBy: w.createdBy,
    createdAt: w.createdAt.toISOString(),
    updatedAt: w.updatedAt.toISOString(),
  };
}

export function deliveryView(d: DeliveryRecord) {
  return {
    id: d.id,
    eventId: d.eventId,
    event: d.action,
    state: d.state,
    attempts: d.attempts,
    createdAt: d.createdAt.toISOString(),
    lastAttemptAt: d.lastAttemptAt?.toISOString() ?? null,
    nextAttemptAt: d.state === 'pending' ? d.nextAttemptAt.toISOString() : null,
    statusCode: d.statusCode,
    durationMs: d.durationMs,
    error: d.error,
    response: d.responseExcerpt,
  };
}

/** TargetRefused as the client sees it. */
async function checked<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (err) {
    if (err instanceof TargetRefused) throw badRequest(`webhook target not allowed: ${err.message}`);
    throw err;
  }
}

/** Which webhooks a route works on: a namespace's (owners, administrators) or the system-wide ones (administrators). */
export type Scope = (ctx: ApiContext, request: FastifyRequest, caller: Caller) => Promise<string | null>;

export const namespaceScope: Scope = async (ctx, request, caller) => (await managedNamespace(ctx, caller, param(request, 'name'))).namespace.name;
export const systemScope: Scope = async (_ctx, _request, caller) => {
  requireAdmin(caller);
  return null;
};

export function registerWebhookRoutes(app: FastifyInstance, ctx: ApiContext): void {
  registerScope(app, ctx, '/namespaces/:name/webhooks', namespaceScope);
  registerScope(app, ctx, '/webhooks', systemScope);
}

function registerScope(app: FastifyInstance, ctx: ApiContext, base: string, scopeOf: Scope): void {
  const service = ctx.webhooks;
  const find = async (namespace: string | null, id: string) => {
    const webhook = await service.store.getWebhook(namespace, id);
    if (!webhook) throw notFound('webhook not found', { namespace, id: id.slice(0, 64) });
    return webhook;
  };
  const location = (namespace: string | null, id: string) => `/api/v1${namespace === null ? '' : `/namespaces/${namespace}`}/webhooks/${id}`;

  route(app, ctx, 'GET', base, async (_ctx, request, caller) => {
    const namespace = await scopeOf(ctx, request, caller);
    return { body: { webhooks: (await service.store.listWebhooks(namespace)).map(webhookView) } };
  });

  route(app, ctx, 'POST', base, async (_ctx, request, caller) => {
    const namespace = await scopeOf(ctx, request, caller);
    const body = await readJson(request, NewWebhookBody);
    if ((await service.store.listWebhooks(namespace)).length >= MAX_WEBHOOKS) throw conflict(`at most ${MAX_WEBHOOKS} webhooks per namespace`, { namespace, limit: MAX_WEBHOOKS });
    const webhook = await checked(() => service.create({ namespace, url: body.url, events: body.events, repositories: body.repositories, enabled: body.enabled, createdBy: caller.name }));
    await audit(ctx, caller, 'webhook.create', { ...webhookView(webhook), createdAt: undefined, updatedAt: undefined });
    return { status: 201, body: { ...webhookView(webhook), secret: webhook.secret }, headers: { Location: location(namespace, webhook.id) } };
  });

  route(app, ctx, 'GET', `${base}/:id`, async (_ctx, request, caller) => {
    const namespace = await scopeOf(ctx, request, caller);
    return { body: webhookView(await find(namespace, param(request, 'id'))) };
  });

  route(app, ctx, 'PATCH', `${base}/:id`, async (_ctx, request, caller) => {
    const namespace = await scopeOf(ctx, request, caller);
    const before = await find(namespace, param(request, 'id'));
    const { rotateSecret, ...changes } = await readJson(request, WebhookChangesBody);
    if (Object.keys(changes).length === 0 && !rotateSecret) throw badRequest('nothing to change');
    const secret = rotateSecret ? newSecret() : undefined;
    const webhook = (await checked(() => service.update(namespace, before.id, { ...changes, ...(secret ? { secret } : {}) }))) ?? before;
    await audit(ctx, caller, 'webhook.update', {
      namespace,
      id: webhook.id,
      changes: { ...changes, ...(rotateSecret ? { secret: 'rotated' } : {}) },
      previous: { url: before.url, events: before.events, repositories: before.repositories, enabled: before.enabled },
    });
    return { body: { ...webhookView(webhook), ...(secret ? { secret } : {}) } };
  });

  route(app, ctx, 'DELETE', `${base}/:id`, async (_ctx, request, caller) => {
    const namespace = await scopeOf(ctx, request, caller);
    const webhook = await service.delete(namespace, param(request, 'id'));
    if (!webhook) throw notFound('webhook not found', { namespace, id: param(request, 'id').slice(0, 64) });
    await audit(ctx, caller, 'webhook.delete', { namespace, id: webhook.id, url: webhook.url });
    return { status: 204 };
  });

  route(app, ctx, 'GET', `${base}/:id/deliveries`, async (_ctx, request, caller) => {
    const namespace = await scopeOf(ctx, request, caller);
    const webhook = await find(namespace, param(request, 'id'));
    const query = readQuery(request, DeliveriesQuery);
    const rows = await service.store.listDeliveries(webhook.id, query.limit + 1, query.before);
    const page = rows.slice(0, query.limit);
    const next = rows.length > query.limit ? page[page.length - 1]!.id : undefined;
    return {
      body: { deliveries: page.map(deliveryView), ...(next !== undefined ? { next } : {}) },
      ...(next !== undefined ? { headers: { Link: `<${location(namespace, webhook.id)}/deliveries?limit=${query.limit}&before=${next}>; rel="next"` } } : {}),
    };
  });

  route(app, ctx, 'POST', `${base}/:id/deliveries/:delivery/redeliver`, async (_ctx, request, caller) => {
    const namespace = await scopeOf(ctx, request, caller);
    const webhook = await find(namespace, param(request, 'id'));
    const id = Number(param(request, 'delivery'));
    const delivery = Number.isSafeInteger(id) && id > 0 ? await service.store.getDelivery(webhook.id, id) : undefined;
    if (!delivery) throw notFound('delivery not found', { id: param(request, 'delivery').slice(0, 32) });
    await service.redeliver(webhook, delivery);
    await audit(ctx, caller, 'webhook.redeliver', { namespace, id: webhook.id, delivery: delivery.id, eventId: delivery.eventId });
    return { status: 202, body: { queued: true, eventId: delivery.eventId } };
  });

  route(app, ctx, 'POST', `${base}/:id/ping`, async (_ctx, request, caller) => {
    const namespace = await scopeOf(ctx, request, caller);
    const webhook = await find(namespace, param(request, 'id'));
    return { body: deliveryView(await service.ping(webhook, caller.name)) };
  });
}
