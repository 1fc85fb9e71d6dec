// AuditOutbox on the SQL database of SqlMetadataStore (SQLite, PostgreSQL). Rows are added by
// SqlAccessStore in the transaction that writes the audit event, so an event is never in the
// log without also waiting for its sinks.
//
// Claiming is a conditional update of the oldest free rows (free: lease over): of nodes racing
// for a batch, each row goes to one of them, and the batch is read back by worker and lease.
import { sql, type ExpressionBuilder, type Kysely } from 'kysely';
import { toNumber, type Database } from './schema.js';
import type { AuditOutbox, ClaimedBatch } from './audit-outbox.js';
import { toAuditEvent } from './sql-access-store.js';

export class SqlAuditOutbox implements AuditOutbox {
  constructor(private readonly db: Kysely<Database>) {}

  async claim(sink: string, worker: string, limit: number, leaseMs: number): Promise<ClaimedBatch | undefined> {
    const now = Date.now();
    const leaseUntil = now + leaseMs;
    const free = (eb: ExpressionBuilder<Database, 'audit_outbox'>) => eb.and([eb('sink', '=', sink), eb('lease_until', '<=', now)]);
    const candidates = await this.db.selectFrom('audit_outbox').select('event_id').where(free).orderBy('event_id').limit(limit).execute();
    if (candidates.length === 0) return undefined;
    const ids = candidates.map((c) => toNumber(c.event_id));
    await this.db.updateTable('audit_outbox').set({ worker, lease_until: leaseUntil }).where(free).where('event_id', 'in', ids).execute();
    const rows = await this.db
      .selectFrom('audit_outbox as o')
      .innerJoin('audit as a', 'a.id', 'o.event_id')
      .selectAll('a')
      .select('o.attempts')
      .where('o.sink', '=', sink)
      .where('o.worker', '=', worker)
      .where('o.lease_until', '=', leaseUntil)
      .orderBy('o.event_id')
      .execute();
    if (rows.length === 0) return undefined;
    return { sink, worker, events: rows.map(toAuditEvent), attempts: Math.max(...rows.map((r) => toNumber(r.attempts))) };
  }

  async delivered(batch: ClaimedBatch): Promise<void> {
    await this.db
      .deleteFrom('audit_outbox')
      .where('sink', '=', batch.sink)
      .where('worker', '=', batch.worker)
      .where('event_id', 'in', batch.events.map((e) => e.id))
      .execute();
  }

  async failed(batch: ClaimedBatch, retryAt: number): Promise<void> {
    await this.db
      .updateTable('audit_outbox')
      .set({ worker: null, lease_until: retryAt, attempts: sql<number>`attempts + 1` })
      .where('sink', '=', batch.sink)
      .where('worker', '=', batch.worker)
      .where('event_id', 'in', batch.events.map((e) => e.id))
      .execute();
  }

  async trim(sink: string, max: number): Promise<number> {
    const over = (await this.backlog(sink)) - max;
    if (over <= 0) return 0;
    // The newest event to drop; everything up to it goes (ids ascend with time).
    const edge = await this.db.selectFrom('audit_outbox').select('event_id').where('sink', '=', sink).orderBy('event_id').offset(over - 1).limit(1).executeTakeFirst();
    if (!edge) return 0;
    const result = await this.db.deleteFrom('audit_outbox').where('sink', '=', sink).where('event_id', '<=', toNumber(edge.event_id)).executeTakeFirst();
    return Number(result.numDeletedRows);
  }

  async backlog(sink: string): Promise<number> {
    const row = await this.db.selectFrom('audit_outbox').select(sql<number | string>`count(*)`.as('n')).where('sink', '=', sink).executeTakeFirstOrThrow();
    return toNumber(row.n);
  }
}
