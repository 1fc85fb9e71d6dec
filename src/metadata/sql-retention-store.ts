// RetentionStore on the SQL database of SqlMetadataStore (SQLite, PostgreSQL).
import { randomUUID } from 'node:crypto';
import type { Kysely, Selectable } from 'kysely';
import { toNumber, type Database, type RetentionPoliciesTable } from './schema.js';
import { inNamespace } from './sql-policy-store.js';
import type {
  NewRetentionPolicy,
  RetentionPolicy,
  RetentionPolicyChanges,
  RetentionRunSummary,
  RetentionStore,
  ManifestNode,
  TaggedManifest,
} from './retention-store.js';

function toPolicy(row: Selectable<RetentionPoliciesTable>): RetentionPolicy {
  return {
    id: row.id,
    namespace: row.namespace,
    repositories: row.repositories,
    rules: JSON.parse(row.rules) as RetentionPolicy['rules'],
    enabled: Number(row.enabled) === 1,
    createdBy: row.created_by,
    createdAt: new Date(toNumber(row.created_at)),
    updatedAt: new Date(toNumber(row.updated_at)),
    lastRunAt: row.last_run_at === null ? null : new Date(toNumber(row.last_run_at)),
    lastRun: row.last_run === null ? null : (JSON.parse(row.last_run) as RetentionRunSummary),
  };
}

export class SqlRetentionStore implements RetentionStore {
  constructor(private readonly db: Kysely<Database>) {}

  async listPolicies(namespace?: string): Promise<RetentionPolicy[]> {
    let q = this.db.selectFrom('retention_policies').selectAll().orderBy('created_at').orderBy('id');
    if (namespace !== undefined) q = q.where('namespace', '=', namespace);
    return (await q.execute()).map(toPolicy);
  }

  async getPolicy(namespace: string, id: string): Promise<RetentionPolicy | undefined> {
    const row = await this.db.selectFrom('retention_policies').selectAll().where('namespace', '=', namespace).where('id', '=', id).executeTakeFirst();
    return row ? toPolicy(row) : undefined;
  }

  async createPolicy(policy: NewRetentionPolicy): Promise<RetentionPolicy> {
    const now = Date.now();
    const id = randomUUID();
    await this.db
      .insertInto('retention_policies')
      .values({
        id,
        namespace: policy.namespace,
        repositories: policy.repositories,
        rules: JSON.stringify(policy.rules),
        enabled: policy.enabled ? 1 : 0,
        created_by: policy.createdBy,
        created_at: now,
        updated_at: now,
        last_run_at: null,
        last_run: null,
      })
      .execute();
    return (await this.getPolicy(policy.namespace, id))!;
  }

  async updatePolicy(namespace: string, id: string, changes: RetentionPolicyChanges): Promise<RetentionPolicy | undefined> {
    await this.db
      .updateTable('retention_policies')
      .set({
        updated_at: Date.now(),
        ...(changes.repositories !== undefined ? { repositories: changes.repositories } : {}),
        ...(changes.rules !== undefined ? { rules: JSON.stringify(changes.rules) } : {}),
        ...(changes.enabled !== undefined ? { enabled: changes.enabled ? 1 : 0 } : {}),
      })
      .where('namespace', '=', namespace)
      .where('id', '=', id)
      .execute();
    return this.getPolicy(namespace, id);
  }

  async deletePolicy(namespace: string, id: string): Promise<RetentionPolicy | undefined> {
    const policy = await this.getPolicy(namespace, id);
    if (!policy) return undefined;
    const result = await this.db.deleteFrom('retention_policies').where('namespace', '=', namespace).where('id', '=', id).executeTakeFirst();
    return Number(result.numDeletedRows) > 0 ? policy : undefined;
  }

  async claimRun(id: string, notSince: number, now: number): Promise<boolean> {
    // One conditional update: of nodes racing for the same run, one changes the row.
    const result = await this.db
      .updateTable('retention_policies')
      .set({ last_run_at: now })
      .where('id', '=', id)
      // A new policy first runs an interval after its creation (time to preview it with a dry run).
      .where((eb) => eb.or([eb.and([eb('last_run_at', 'is', null), eb('created_at', '<', notSince)]), eb('last_run_at', '<', notSince)]))
      .executeTakeFirst();
    return Number(result.numUpdatedRows) > 0;
  }

  async recordRun(id: string, summary: RetentionRunSummary): Promise<void> {
    await this.db
      .updateTable('retention_policies')
      .set({ last_run_at: Date.parse(summary.at), last_run: JSON.stringify(summary) })
      .where('id', '=', id)
      .execute();
  }

  async repositoriesIn(namespace: string, limit: number, after?: string): Promise<string[]> {
    let q = this.db
      .selectFrom('repositories')
      .select('name')
      .where((eb) => inNamespace(eb, 'repositories.name', namespace))
      .orderBy('name')
      .limit(limit);
    if (after !== undefined) q = q.where('name', '>', after);
    return (await q.execute()).map((r) => r.name);
  }

  async taggedManifests(repository: string): Promise<TaggedManifest[]> {
    const rows = await this.db
      .selectFrom('tags as t')
      .leftJoin('manifest_stats as s', (j) => j.onRef('s.repository', '=', 't.repository').onRef('s.digest', '=', 't.manifest_digest'))
      .select(['t.name', 't.manifest_digest', 't.updated_at', 's.last_pulled_at'])
      .where('t.repository', '=', repository)
      .orderBy('t.name')
      .execute();
    return rows.map((r) => ({
      tag: r.name,
      digest: r.manifest_digest,
      taggedAt: new Date(toNumber(r.updated_at)),
      lastPulledAt: r.last_pulled_at === null ? null : new Date(toNumber(r.last_pulled_at)),
    }));
  }

  async manifestGraph(repository: string): Promise<ManifestNode[]> {
    const [manifests, references] = await Promise.all([
      this.db.selectFrom('manifests').select(['digest', 'size', 'created_at', 'subject_digest']).where('repository', '=', repository).execute(),
      this.db
        .selectFrom('manifest_references')
        .select(['manifest_digest', 'child_digest'])
        .where('repository', '=', repository)
        .where('kind', '=', 'manifest')
        .execute(),
    ]);
    const children = new Map<string, string[]>();
    for (const r of references) {
      const list = children.get(r.manifest_digest);
      if (list) list.push(r.child_digest);
      else children.set(r.manifest_digest, [r.child_digest]);
    }
    return manifests.map((m) => ({
      digest: m.digest,
      size: toNumber(m.size),
      createdAt: toNumber(m.created_at),
      subject: m.subject_digest,
      children: children.get(m.digest) ?? [],
    }));
  }
}
