// ReplicationStore on the SQL database of SqlMetadataStore (SQLite, PostgreSQL). Runs are
// claimed as scan jobs are: a select of a candidate, then an update of that row on condition
// that it is still free (or its lease expired).
import { randomUUID } from 'node:crypto';
import { sql, type ExpressionBuilder, type Kysely, type Selectable } from 'kysely';
import { dateOrNull, toNumber, type Database, type ReplicationRulesTable, type ReplicationRunsTable } from './schema.js';
import type {
  NewReplicationRule,
  ReplicationDirection,
  ReplicationRule,
  ReplicationRuleChanges,
  ReplicationRun,
  ReplicationStore,
  ReplicationTrigger,
  RunCounts,
  RunState,
} from './replication-store.js';

const CLAIM_TRIES = 5;


function toRule(r: Selectable<ReplicationRulesTable>): ReplicationRule {
  return {
    id: r.id,
    namespace: r.namespace,
    direction: r.direction as ReplicationDirection,
    remoteUrl: r.remote_url,
    username: r.username,
    password: r.password,
    repositories: r.repositories,
    tags: r.tags,
    referrers: Number(r.referrers) === 1,
    trigger: r.trigger as ReplicationTrigger,
    intervalMs: r.interval_ms === null ? null : toNumber(r.interval_ms),
    enabled: Number(r.enabled) === 1,
    lastScheduledAt: dateOrNull(r.last_scheduled_at),
    createdBy: r.created_by,
    createdAt: new Date(toNumber(r.created_at)),
    updatedAt: new Date(toNumber(r.updated_at)),
  };
}

function toRun(r: Selectable<ReplicationRunsTable>): ReplicationRun {
  return {
    id: r.id,
    ruleId: r.rule_id,
    trigger: r.trigger as ReplicationTrigger,
    repository: r.repository,
    reference: r.reference,
    state: r.state as RunState,
    attempts: toNumber(r.attempts),
    createdAt: new Date(toNumber(r.created_at)),
    notBefore: new Date(toNumber(r.not_before)),
    startedAt: dateOrNull(r.started_at),
    finishedAt: dateOrNull(r.finished_at),
    manifests: toNumber(r.manifests),
    blobs: toNumber(r.blobs),
    bytes: toNumber(r.bytes),
    error: r.error,
  };
}

function ruleColumns(c: ReplicationRuleChanges) {
  return {
    ...(c.remoteUrl !== undefined ? { remote_url: c.remoteUrl } : {}),
    ...(c.username !== undefined ? { username: c.username } : {}),
    ...(c.password !== undefined ? { password: c.password } : {}),
    ...(c.repositories !== undefined ? { repositories: c.repositories } : {}),
    ...(c.tags !== undefined ? { tags: c.tags } : {}),
    ...(c.referrers !== undefined ? { referrers: c.referrers ? 1 : 0 } : {}),
    ...(c.trigger !== undefined ? { trigger: c.trigger } : {}),
    ...(c.intervalMs !== undefined ? { interval_ms: c.intervalMs } : {}),
    ...(c.enabled !== undefined ? { enabled: c.enabled ? 1 : 0 } : {}),
  };
}

const countColumns = (c: RunCounts) => ({ manifests: c.manifests, blobs: c.blobs, bytes: c.bytes });

export class SqlReplicationStore implements ReplicationStore {
  constructor(private readonly db: Kysely<Database>) {}

  private scoped(namespace: string | null) {
    const q = this.db.selectFrom('replication_rules').selectAll();
    return namespace === null ? q.where('namespace', 'is', null) : q.where('namespace', '=', namespace);
  }

  async listRules(namespace: string | null): Promise<ReplicationRule[]> {
    return (await this.scoped(namespace).orderBy('created_at').orderBy('id').execute()).map(toRule);
  }

  async listEnabledRules(): Promise<ReplicationRule[]> {
    return (await this.db.selectFrom('replication_rules').selectAll().where('enabled', '=', 1).orderBy('created_at').execute()).map(toRule);
  }

  async getRule(id: string, namespace?: string | null): Promise<ReplicationRule | undefined> {
    const q = namespace === undefined ? this.db.selectFrom('replication_rules').selectAll() : this.scoped(namespace);
    const row = await q.where('id', '=', id).executeTakeFirst();
    return row ? toRule(row) : undefined;
  }

  async createRule(rule: NewReplicationRule): Promise<ReplicationRule> {
    const now = Date.now();
    const id = randomUUID();
    await this.db
      .insertInto('replication_rules')
      .values({ id, namespace: rule.namespace, direction: rule.direction, ...ruleColumns(rule), remote_url: rule.remoteUrl, repositories: rule.repositories, trigger: rule.trigger, created_by: rule.createdBy, created_at: now, updated_at: now })
      .execute();
    return { ...rule, id, lastScheduledAt: null, createdAt: new Date(now), updatedAt: new Date(now) };
  }

  async updateRule(namespace: string | null, id: string, changes: ReplicationRuleChanges): Promise<ReplicationRule | undefined> {
    let q = this.db.updateTable('replication_rules').set({ ...ruleColumns(changes), updated_at: Date.now() }).where('id', '=', id);
    q = namespace === null ? q.where('namespace', 'is', null) : q.where('namespace', '=', namespace);
    if (Number((await q.executeTakeFirst()).numUpdatedRows) === 0) return undefined;
    return this.getRule(id, namespace);
  }

  async deleteRule(namespace: string | null, id: string): Promise<ReplicationRule | undefined> {
    return this.db.transaction().execute(async (trx) => {
      let q = trx.selectFrom('replication_rules').selectAll().where('id', '=', id);
      q = namespace === null ? q.where('namespace', 'is', null) : q.where('namespace', '=', namespace);
      const row = await q.executeTakeFirst();
      if (!row) return undefined;
      await trx.deleteFrom('replication_runs').where('rule_id', '=', id).execute();
      await trx.deleteFrom('replication_rules').where('id', '=', id).execute();
      return toRule(row);
    });
  }

  async deleteNamespaceRules(namespace: string): Promise<number> {
    return this.db.transaction().execute(async (trx) => {
      const ids = (await trx.selectFrom('replication_rules').select('id').where('namespace', '=', namespace).execute()).map((r) => r.id);
      if (ids.length === 0) return 0;
      await trx.deleteFrom('replication_runs').where('rule_id', 'in', ids).execute();
      await trx.deleteFrom('replication_rules').where('id', 'in', ids).execute();
      return ids.length;
    });
  }

  async markScheduled(id: string, previous: Date | null, at: Date): Promise<boolean> {
    let q = this.db.updateTable('replication_rules').set({ last_scheduled_at: at.getTime() }).where('id', '=', id);
    q = previous === null ? q.where('last_scheduled_at', 'is', null) : q.where('last_scheduled_at', '=', previous.getTime());
    return Number((await q.executeTakeFirst()).numUpdatedRows) > 0;
  }

  async enqueueRun(run: { ruleId: string; trigger: ReplicationTrigger; repository: string | null; reference: string | null }): Promise<ReplicationRun | undefined> {
    let same = this.db.selectFrom('replication_runs').select('id').where('rule_id', '=', run.ruleId).where('state', '=', 'queued').where('attempts', '=', 0);
    same = run.repository === null ? same.where('repository', 'is', null) : same.where('repository', '=', run.repository);
    same = run.reference === null ? same.where('reference', 'is', null) : same.where('reference', '=', run.reference);
    if (await same.executeTakeFirst()) return undefined;
    const now = Date.now();
    const id = randomUUID();
    await this.db
      .insertInto('replication_runs')
      .values({ id, rule_id: run.ruleId, trigger: run.trigger, repository: run.repository, reference: run.reference, state: 'queued', attempts: 0, created_at: now, not_before: now, manifests: 0, blobs: 0, bytes: 0 })
      .execute();
    return this.getRun(id);
  }

  async startRun(run: { ruleId: string; trigger: ReplicationTrigger; worker: string; leaseMs: number }): Promise<ReplicationRun> {
    const now = Date.now();
    const id = randomUUID();
    await this.db
      .insertInto('replication_runs')
      .values({ id, rule_id: run.ruleId, trigger: run.trigger, repository: null, reference: null, state: 'running', attempts: 0, created_at: now, not_before: now, worker: run.worker, lease_until: now + run.leaseMs, started_at: now, manifests: 0, blobs: 0, bytes: 0 })
      .execute();
    return (await this.getRun(id))!;
  }

  async claimRun(worker: string, leaseMs: number): Promise<ReplicationRun | undefined> {
    for (let i = 0; i < CLAIM_TRIES; i++) {
      const now = Date.now();
      const free = (eb: ExpressionBuilder<Database, 'replication_runs'>) =>
        eb.or([eb.and([eb('state', '=', 'queued'), eb('not_before', '<=', now)]), eb.and([eb('state', '=', 'running'), eb('lease_until', '<', now)])]);
      const candidate = await this.db.selectFrom('replication_runs').select('id').where(free).orderBy('not_before').orderBy('id').limit(1).executeTakeFirst();
      if (!candidate) return undefined;
      const taken = await this.db
        .updateTable('replication_runs')
        .set({ state: 'running', worker, lease_until: now + leaseMs, started_at: now })
        .where('id', '=', candidate.id)
        .where(free)
        .executeTakeFirst();
      if (Number(taken.numUpdatedRows) > 0) {
        const row = await this.db.selectFrom('replication_runs').selectAll().where('id', '=', candidate.id).where('worker', '=', worker).executeTakeFirst();
        if (row) return toRun(row);
      }
    }
    return undefined;
  }

  async renewRun(id: string, worker: string, leaseMs: number): Promise<boolean> {
    const result = await this.db
      .updateTable('replication_runs')
      .set({ lease_until: Date.now() + leaseMs })
      .where('id', '=', id)
      .where('worker', '=', worker)
      .where('state', '=', 'running')
      .executeTakeFirst();
    return Number(result.numUpdatedRows) > 0;
  }

  async finishRun(id: string, worker: string, state: 'done' | 'failed', counts: RunCounts, error: string | null): Promise<boolean> {
    const result = await this.db
      .updateTable('replication_runs')
      .set({ state, ...countColumns(counts), error: error?.slice(0, 2000) ?? null, finished_at: Date.now(), lease_until: null, attempts: sql<number>`attempts + 1` })
      .where('id', '=', id)
      .where('worker', '=', worker)
      .where('state', '=', 'running')
      .executeTakeFirst();
    return Number(result.numUpdatedRows) > 0;
  }

  async retryRun(id: string, worker: string, counts: RunCounts, error: string, retryAt: number): Promise<void> {
    await this.db
      .updateTable('replication_runs')
      .set({ state: 'queued', ...countColumns(counts), worker: null, lease_until: null, error: error.slice(0, 2000), not_before: retryAt, attempts: sql<number>`attempts + 1` })
      .where('id', '=', id)
      .where('worker', '=', worker)
      .where('state', '=', 'running')
      .execute();
  }

  async getRun(id: string): Promise<ReplicationRun | undefined> {
    const row = await this.db.selectFrom('replication_runs').selectAll().where('id', '=', id).executeTakeFirst();
    return row ? toRun(row) : undefined;
  }

  async listRuns(ruleId: string, limit: number): Promise<ReplicationRun[]> {
    return (await this.db.selectFrom('replication_runs').selectAll().where('rule_id', '=', ruleId).orderBy('created_at', 'desc').orderBy('id', 'desc').limit(limit).execute()).map(toRun);
  }
}
