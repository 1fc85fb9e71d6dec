// ScanStore on the SQL database of SqlMetadataStore (SQLite, PostgreSQL).
//
// Claiming a job is a select of a candidate and a conditional update of that row (it must
// still be free or expired): of workers racing for one job, one update changes it, and the
// others try the next candidate.
import { sql, type ExpressionBuilder, type Kysely, type Selectable } from 'kysely';
import { toNumber, type Database, type ScanJobsTable, type ScanResultsTable } from './schema.js';
import type { ScanJob, ScanQueueStats, ScanReason, ScanResultRecord, ScanStore, ScanSummary } from './scan-store.js';

const CLAIM_TRIES = 5;

function toJob(r: Selectable<ScanJobsTable>): ScanJob {
  return {
    digest: r.digest,
    repository: r.repository,
    reason: r.reason as ScanReason,
    enqueuedAt: new Date(toNumber(r.enqueued_at)),
    attempts: toNumber(r.attempts),
    worker: r.worker,
    lastError: r.last_error,
  };
}

function toResult(r: Selectable<ScanResultsTable>): ScanResultRecord {
  return {
    digest: r.digest,
    repository: r.repository,
    status: r.status as ScanResultRecord['status'],
    scannedAt: new Date(toNumber(r.scanned_at)),
    vulndbVersion: toNumber(r.vulndb_version),
    inventory: r.inventory,
    findings: r.findings,
    summary: JSON.parse(r.summary) as ScanSummary,
    error: r.error,
  };
}

export class SqlScanStore implements ScanStore {
  constructor(private readonly db: Kysely<Database>) {}

  async enqueue(digest: string, repository: string, reason: ScanReason): Promise<boolean> {
    const now = Date.now();
    const result = await this.db
      .insertInto('scan_jobs')
      .values({ digest, repository, reason, enqueued_at: now, not_before: now, attempts: 0, worker: null, lease_until: null, last_error: null })
      .onConflict((oc) => oc.column('digest').doNothing())
      .executeTakeFirst();
    return Number(result.numInsertedOrUpdatedRows ?? 0) > 0;
  }

  async claim(worker: string, leaseMs: number): Promise<ScanJob | undefined> {
    for (let i = 0; i < CLAIM_TRIES; i++) {
      const now = Date.now();
      const free = (eb: ExpressionBuilder<Database, 'scan_jobs'>) => eb.and([eb('not_before', '<=', now), eb.or([eb('worker', 'is', null), eb('lease_until', '<', now)])]);
      const candidate = await this.db.selectFrom('scan_jobs').select('digest').where(free).orderBy('enqueued_at').orderBy('digest').limit(1).executeTakeFirst();
      if (!candidate) return undefined;
      const taken = await this.db
        .updateTable('scan_jobs')
        .set({ worker, lease_until: now + leaseMs })
        .where('digest', '=', candidate.digest)
        .where(free)
        .executeTakeFirst();
      if (Number(taken.numUpdatedRows) > 0) {
        const row = await this.db.selectFrom('scan_jobs').selectAll().where('digest', '=', candidate.digest).where('worker', '=', worker).executeTakeFirst();
        if (row) return toJob(row);
      }
    }
    return undefined;
  }

  async renew(digest: string, worker: string, leaseMs: number): Promise<boolean> {
    const result = await this.db.updateTable('scan_jobs').set({ lease_until: Date.now() + leaseMs }).where('digest', '=', digest).where('worker', '=', worker).executeTakeFirst();
    return Number(result.numUpdatedRows) > 0;
  }

  async complete(digest: string, worker: string, r: ScanResultRecord): Promise<boolean> {
    return this.db.transaction().execute(async (trx) => {
      const dropped = await trx.deleteFrom('scan_jobs').where('digest', '=', digest).where('worker', '=', worker).executeTakeFirst();
      if (Number(dropped.numDeletedRows) === 0) return false;
      const values = {
        repository: r.repository,
        status: r.status,
        scanned_at: r.scannedAt.getTime(),
        vulndb_version: r.vulndbVersion,
        inventory: r.inventory,
        findings: r.findings,
        summary: JSON.stringify(r.summary),
        error: r.error,
      };
      await trx
        .insertInto('scan_results')
        .values({ digest, ...values })
        .onConflict((oc) => oc.column('digest').doUpdateSet(values))
        .execute();
      return true;
    });
  }

  async retry(digest: string, worker: string, error: string, retryAt: number): Promise<void> {
    await this.db
      .updateTable('scan_jobs')
      .set({ worker: null, lease_until: null, last_error: error.slice(0, 2000), not_before: retryAt, attempts: sql<number>`attempts + 1` })
      .where('digest', '=', digest)
      .where('worker', '=', worker)
      .execute();
  }

  async getResult(digest: string): Promise<ScanResultRecord | undefined> {
    const row = await this.db.selectFrom('scan_results').selectAll().where('digest', '=', digest).executeTakeFirst();
    return row ? toResult(row) : undefined;
  }

  async getJob(digest: string): Promise<ScanJob | undefined> {
    const row = await this.db.selectFrom('scan_jobs').selectAll().where('digest', '=', digest).executeTakeFirst();
    return row ? toJob(row) : undefined;
  }

  async queueStats(): Promise<ScanQueueStats> {
    const now = Date.now();
    const row = await this.db
      .selectFrom('scan_jobs')
      .select([
        sql<number | string>`sum(case when worker is not null and lease_until >= ${now} then 1 else 0 end)`.as('running'),
        sql<number | string>`sum(case when attempts > 0 and worker is null then 1 else 0 end)`.as('retrying'),
        sql<number | string>`count(*)`.as('total'),
        sql<number | string | null>`min(enqueued_at)`.as('oldest'),
      ])
      .executeTakeFirstOrThrow();
    const running = toNumber(row.running ?? 0);
    return {
      queued: toNumber(row.total) - running,
      running,
      retrying: toNumber(row.retrying ?? 0),
      oldestEnqueuedAt: row.oldest === null ? null : new Date(toNumber(row.oldest)),
    };
  }

  async staleResults(version: number, limit: number, after?: string): Promise<ScanResultRecord[]> {
    let q = this.db.selectFrom('scan_results').selectAll().where('status', '=', 'done').where('vulndb_version', '<', version).orderBy('digest').limit(limit);
    if (after !== undefined) q = q.where('digest', '>', after);
    return (await q.execute()).map(toResult);
  }

  async updateFindings(digest: string, version: number, findings: string, summary: ScanSummary): Promise<void> {
    await this.db
      .updateTable('scan_results')
      .set({ findings, summary: JSON.stringify(summary), vulndb_version: version })
      .where('digest', '=', digest)
      .where('vulndb_version', '<', version)
      .execute();
  }
}
