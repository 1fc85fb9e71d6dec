// WebhookStore on the SQL database of SqlMetadataStore (SQLite, PostgreSQL).
//
// Claiming is a select of a candidate and a conditional update of that row (it must still be
// pending and free or expired), as for scan jobs. Only the first pending delivery of each
// webhook is a candidate: while it waits for a retry or is held by a worker, nothing behind it
// is sent, which keeps each webhook's events in order.
import { randomUUID } from 'node:crypto';
import { sql, type Kysely, type Selectable } from 'kysely';
import { dateOrNull, toNumber, type Database, type WebhookDeliveriesTable, type WebhooksTable } from './schema.js';
import type { AttemptRecord, ClaimedDelivery, DeliveryRecord, DeliveryState, NewDelivery, NewWebhook, WebhookChanges, WebhookRecord, WebhookStore } from './webhook-store.js';

const CLAIM_TRIES = 5;
/** Rows per insert statement. */
const INSERT_ROWS = 500;

function toWebhook(r: Selectable<WebhooksTable>): WebhookRecord {
  return {
    id: r.id,
    namespace: r.namespace,
    url: r.url,
    events: JSON.parse(r.events) as string[],
    repositories: r.repositories,
    secret: r.secret,
    enabled: Number(r.enabled) === 1,
    createdBy: r.created_by,
    createdAt: new Date(toNumber(r.created_at)),
    updatedAt: new Date(toNumber(r.updated_at)),
  };
}

function toDelivery(r: Selectable<WebhookDeliveriesTable>): DeliveryRecord {
  return {
    id: toNumber(r.id),
    webhookId: r.webhook_id,
    eventId: r.event_id,
    action: r.action,
    payload: r.payload,
    state: r.state as DeliveryState,
    attempts: toNumber(r.attempts),
    createdAt: new Date(toNumber(r.created_at)),
    nextAttemptAt: new Date(toNumber(r.next_attempt_at)),
    lastAttemptAt: dateOrNull(r.last_attempt_at),
    statusCode: r.status_code === null ? null : toNumber(r.status_code),
    durationMs: r.duration_ms === null ? null : toNumber(r.duration_ms),
    error: r.error,
    responseExcerpt: r.response_excerpt,
  };
}

function deliveryColumns(d: NewDelivery, at: number) {
  return { webhook_id: d.webhookId, event_id: d.eventId, action: d.action, payload: d.payload, created_at: at, next_attempt_at: at };
}

function attemptColumns(a: AttemptRecord) {
  return { last_attempt_at: a.at, status_code: a.statusCode, duration_ms: a.durationMs, error: a.error?.slice(0, 2000) ?? null, response_excerpt: a.excerpt };
}

export class SqlWebhookStore implements WebhookStore {
  constructor(private readonly db: Kysely<Database>) {}

  private scoped(namespace: string | null) {
    const q = this.db.selectFrom('webhooks').selectAll();
    return namespace === null ? q.where('namespace', 'is', null) : q.where('namespace', '=', namespace);
  }

  async listWebhooks(namespace: string | null): Promise<WebhookRecord[]> {
    return (await this.scoped(namespace).orderBy('created_at').orderBy('id').execute()).map(toWebhook);
  }

  async listEnabled(): Promise<WebhookRecord[]> {
    return (await this.db.selectFrom('webhooks').selectAll().where('enabled', '=', 1).execute()).map(toWebhook);
  }

  async getWebhook(namespace: string | null, id: string): Promise<WebhookRecord | undefined> {
    const row = await this.scoped(namespace).where('id', '=', id).executeTakeFirst();
    return row ? toWebhook(row) : undefined;
  }

  async createWebhook(w: NewWebhook): Promise<WebhookRecord> {
    const now = Date.now();
    const id = randomUUID();
    await this.db
      .insertInto('webhooks')
      .values({
        id,
        namespace: w.namespace,
        url: w.url,
        events: JSON.stringify(w.events),
        repositories: w.repositories,
        secret: w.secret,
        enabled: w.enabled ? 1 : 0,
        created_by: w.createdBy,
        created_at: now,
        updated_at: now,
      })
      .execute();
    return { ...w, id, createdAt: new Date(now), updatedAt: new Date(now) };
  }

  async updateWebhook(namespace: string | null, id: string, changes: WebhookChanges): Promise<WebhookRecord | undefined> {
    const set = {
      updated_at: Date.now(),
      ...(changes.url !== undefined ? { url: changes.url } : {}),
      ...(changes.events !== undefined ? { events: JSON.stringify(changes.events) } : {}),
      ...(changes.repositories !== undefined ? { repositories: changes.repositories } : {}),
      ...(changes.enabled !== undefined ? { enabled: changes.enabled ? 1 : 0 } : {}),
      ...(changes.secret !== undefined ? { secret: changes.secret } : {}),
    };
    let q = this.db.updateTable('webhooks').set(set).where('id', '=', id);
    q = namespace === null ? q.where('namespace', 'is', null) : q.where('namespace', '=', namespace);
    const result = await q.executeTakeFirst();
    if (Number(result.numUpdatedRows) === 0) return undefined;
    return this.getWebhook(namespace, id);
  }

  async deleteWebhook(namespace: string | null, id: string): Promise<WebhookRecord | undefined> {
    return this.db.transaction().execute(async (trx) => {
      let q = trx.selectFrom('webhooks').selectAll().where('id', '=', id);
      q = namespace === null ? q.where('namespace', 'is', null) : q.where('namespace', '=', namespace);
      const row = await q.executeTakeFirst();
      if (!row) return undefined;
      await trx.deleteFrom('webhook_deliveries').where('webhook_id', '=', id).execute();
      await trx.deleteFrom('webhooks').where('id', '=', id).execute();
      return toWebhook(row);
    });
  }

  async deleteNamespaceWebhooks(namespace: string): Promise<number> {
    return this.db.transaction().execute(async (trx) => {
      const ids = (await trx.selectFrom('webhooks').select('id').where('namespace', '=', namespace).execute()).map((r) => r.id);
      if (ids.length === 0) return 0;
      await trx.deleteFrom('webhook_deliveries').where('webhook_id', 'in', ids).execute();
      await trx.deleteFrom('webhooks').where('id', 'in', ids).execute();
      return ids.length;
    });
  }

  async enqueue(deliveries: NewDelivery[]): Promise<void> {
    if (deliveries.length === 0) return;
    const now = Date.now();
    const rows = deliveries.map((d) => ({ ...deliveryColumns(d, now), state: 'pending', attempts: 0 }));
    // In slices (bound parameters are limited), in one transaction (all or none, in order).
    await this.db.transaction().execute(async (trx) => {
      for (let i = 0; i < rows.length; i += INSERT_ROWS) await trx.insertInto('webhook_deliveries').values(rows.slice(i, i + INSERT_ROWS)).execute();
    });
  }

  async recordFinished(d: NewDelivery, state: Exclude<DeliveryState, 'pending'>, attempt: AttemptRecord): Promise<DeliveryRecord> {
    const row = await this.db
      .insertInto('webhook_deliveries')
      .values({ ...deliveryColumns(d, attempt.at), state, attempts: 1, ...attemptColumns(attempt) })
      .returningAll()
      .executeTakeFirstOrThrow();
    return toDelivery(row);
  }

  async claim(worker: string, leaseMs: number): Promise<ClaimedDelivery | undefined> {
    for (let i = 0; i < CLAIM_TRIES; i++) {
      const now = Date.now();
      // Per enabled webhook, its first pending delivery (an index seek each): a long backlog
      // behind a head that waits for its retry costs nothing here.
      const { rows } = await sql<{ id: number | string }>`
        select d.id from webhooks w
        join webhook_deliveries d on d.id = (select min(h.id) from webhook_deliveries h where h.webhook_id = w.id and h.state = 'pending')
        where w.enabled = 1 and d.next_attempt_at <= ${now} and (d.worker is null or d.lease_until < ${now})
        order by d.next_attempt_at, d.id
        limit 1`.execute(this.db);
      if (rows[0] === undefined) return undefined;
      const candidate = { id: toNumber(rows[0].id) };
      // Still pending and free: of nodes racing for it, one update changes the row.
      const taken = await this.db
        .updateTable('webhook_deliveries')
        .set({ worker, lease_until: now + leaseMs })
        .where('id', '=', candidate.id)
        .where('state', '=', 'pending')
        .where((eb) => eb.or([eb('worker', 'is', null), eb('lease_until', '<', now)]))
        .executeTakeFirst();
      if (Number(taken.numUpdatedRows) === 0) continue;
      const row = await this.db.selectFrom('webhook_deliveries').selectAll().where('id', '=', candidate.id).where('worker', '=', worker).executeTakeFirst();
      if (!row) continue;
      const webhook = await this.db.selectFrom('webhooks').selectAll().where('id', '=', row.webhook_id).executeTakeFirst();
      if (webhook) return { delivery: toDelivery(row), webhook: toWebhook(webhook) };
    }
    return undefined;
  }

  async finish(id: number, worker: string, state: DeliveryState, attempt: AttemptRecord, retryAt?: number): Promise<boolean> {
    const result = await this.db
      .updateTable('webhook_deliveries')
      .set({
        state,
        attempts: sql<number>`attempts + 1`,
        worker: null,
        lease_until: null,
        ...(retryAt !== undefined ? { next_attempt_at: retryAt } : {}),
        ...attemptColumns(attempt),
      })
      .where('id', '=', id)
      .where('worker', '=', worker)
      .where('state', '=', 'pending')
      .executeTakeFirst();
    return Number(result.numUpdatedRows) > 0;
  }

  async listDeliveries(webhookId: string, limit: number, before?: number): Promise<DeliveryRecord[]> {
    let q = this.db.selectFrom('webhook_deliveries').selectAll().where('webhook_id', '=', webhookId).orderBy('id', 'desc').limit(limit);
    if (before !== undefined) q = q.where('id', '<', before);
    return (await q.execute()).map(toDelivery);
  }

  async getDelivery(webhookId: string, id: number): Promise<DeliveryRecord | undefined> {
    const row = await this.db.selectFrom('webhook_deliveries').selectAll().where('webhook_id', '=', webhookId).where('id', '=', id).executeTakeFirst();
    return row ? toDelivery(row) : undefined;
  }

  async prune(cutoff: number): Promise<number> {
    const result = await this.db
      .deleteFrom('webhook_deliveries')
      .where('state', 'in', ['delivered', 'failed'])
      .where((eb) => eb(eb.fn.coalesce('last_attempt_at', 'created_at'), '<', cutoff))
      .executeTakeFirst();
    return Number(result.numDeletedRows);
  }
}
