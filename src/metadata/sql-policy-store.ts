// PolicyStore on the SQL database of SqlMetadataStore (SQLite, PostgreSQL).
//
// Usage of a namespace is computed when asked (no maintained counter, so it can never drift):
// repositories of namespace `ns` are `ns` itself and the names in [`ns/`, `ns0`) ('0' follows
// '/' in code-point order, which both dialects use for these columns). That range is a scan
// of the primary key of repository_blobs (repository, digest) and of repositories (name).
import { randomUUID } from 'node:crypto';
import { sql, type Expression, type ExpressionBuilder, type Kysely, type SqlBool } from 'kysely';
import { dateOrNull, toNumber, type Database } from './schema.js';
import type { SqlDialect } from './migrations/index.js';
import { relaxedTransaction } from './relaxed-commit.js';
import type { ImmutableRule, NamespaceQuota, PolicyStore, PullBatchEntry, TagStats } from './policy-store.js';

/** Rows per upsert statement of recordPulls: 6 parameters each, well below every dialect's limit. */
const PULL_ROWS = 100;

const numberOrNull = (value: number | string | null): number | null => (value === null ? null : toNumber(value));

/** `column` names a repository of the namespace. */
export function inNamespace<T extends keyof Database>(eb: ExpressionBuilder<Database, T>, column: string, namespace: string): Expression<SqlBool> {
  const ref = sql.ref(column);
  return eb.or([eb(ref, '=', namespace), eb.and([eb(ref, '>=', `${namespace}/`), eb(ref, '<', `${namespace}0`)])]);
}

export class SqlPolicyStore implements PolicyStore {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly dialect: SqlDialect,
  ) {}

  async listImmutableRules(namespace: string): Promise<ImmutableRule[]> {
    const rows = await this.db.selectFrom('immutable_rules').selectAll().where('namespace', '=', namespace).orderBy('created_at').orderBy('id').execute();
    return rows.map((r) => ({ id: r.id, namespace: r.namespace, pattern: r.pattern, createdBy: r.created_by, createdAt: new Date(toNumber(r.created_at)) }));
  }

  async addImmutableRule(rule: Pick<ImmutableRule, 'namespace' | 'pattern' | 'createdBy'>): Promise<ImmutableRule> {
    const created: ImmutableRule = { ...rule, id: randomUUID(), createdAt: new Date() };
    await this.db
      .insertInto('immutable_rules')
      .values({ id: created.id, namespace: rule.namespace, pattern: rule.pattern, created_by: rule.createdBy, created_at: created.createdAt.getTime() })
      .execute();
    return created;
  }

  async deleteImmutableRule(namespace: string, id: string): Promise<ImmutableRule | undefined> {
    const rule = (await this.listImmutableRules(namespace)).find((r) => r.id === id);
    if (!rule) return undefined;
    const result = await this.db.deleteFrom('immutable_rules').where('namespace', '=', namespace).where('id', '=', id).executeTakeFirst();
    return Number(result.numDeletedRows) > 0 ? rule : undefined;
  }

  async getQuota(namespace: string): Promise<NamespaceQuota | undefined> {
    const row = await this.db.selectFrom('namespace_quotas').selectAll().where('namespace', '=', namespace).executeTakeFirst();
    return row ? { namespace, limitBytes: numberOrNull(row.limit_bytes), limitRepositories: numberOrNull(row.limit_repositories) } : undefined;
  }

  async setQuota(quota: NamespaceQuota): Promise<void> {
    const values = { limit_bytes: quota.limitBytes, limit_repositories: quota.limitRepositories, updated_at: Date.now() };
    await this.db
      .insertInto('namespace_quotas')
      .values({ namespace: quota.namespace, ...values })
      .onConflict((oc) => oc.column('namespace').doUpdateSet(values))
      .execute();
  }

  async usedBytes(namespace: string): Promise<number> {
    const row = await this.db
      .selectFrom('blobs')
      .select(sql<number | string>`coalesce(sum(size), 0)`.as('used'))
      .where('digest', 'in', (eb) => eb.selectFrom('repository_blobs').select('repository_blobs.digest').where((w) => inNamespace(w, 'repository_blobs.repository', namespace)))
      .executeTakeFirstOrThrow();
    return toNumber(row.used);
  }

  async usedBytesByNamespace(): Promise<Map<string, number>> {
    // The namespace is the name up to its first slash (namespaceOf); each blob counts once per namespace.
    const namespace =
      this.dialect === 'postgres'
        ? sql<string>`split_part(repository, '/', 1)`
        : sql<string>`case when instr(repository, '/') > 0 then substr(repository, 1, instr(repository, '/') - 1) else repository end`;
    const rows = await this.db
      .selectFrom((eb) => eb.selectFrom('repository_blobs').select([namespace.as('namespace'), 'digest']).distinct().as('links'))
      .innerJoin('blobs', 'blobs.digest', 'links.digest')
      .select(['links.namespace', sql<number | string>`sum(blobs.size)`.as('used')])
      .groupBy('links.namespace')
      .execute();
    return new Map(rows.map((r) => [r.namespace, toNumber(r.used)]));
  }

  async repositoryCount(namespace: string): Promise<number> {
    const row = await this.db
      .selectFrom('repositories')
      .select((eb) => eb.fn.countAll<number | string>().as('n'))
      .where((eb) => inNamespace(eb, 'repositories.name', namespace))
      .executeTakeFirstOrThrow();
    return toNumber(row.n);
  }

  async blobInNamespace(namespace: string, digest: string): Promise<boolean> {
    const row = await this.db
      .selectFrom('repository_blobs')
      .select('repository')
      .where('digest', '=', digest)
      .where((eb) => inNamespace(eb, 'repository_blobs.repository', namespace))
      .limit(1)
      .executeTakeFirst();
    return row !== undefined;
  }

  async repositoryExists(repository: string): Promise<boolean> {
    return (await this.db.selectFrom('repositories').select('name').where('name', '=', repository).executeTakeFirst()) !== undefined;
  }

  async tagDigest(repository: string, tag: string): Promise<string | undefined> {
    const row = await this.db.selectFrom('tags').select('manifest_digest').where('repository', '=', repository).where('name', '=', tag).executeTakeFirst();
    return row?.manifest_digest;
  }

  async tagsOf(repository: string, digest: string): Promise<string[]> {
    const rows = await this.db.selectFrom('tags').select('name').where('repository', '=', repository).where('manifest_digest', '=', digest).orderBy('name').execute();
    return rows.map((r) => r.name);
  }

  async recordPush(repository: string, digest: string, actor: string, at: Date): Promise<void> {
    const pushed = { pushed_at: at.getTime(), pushed_by: actor };
    await this.db
      .insertInto('manifest_stats')
      .values({ repository, digest, ...pushed, last_pulled_at: null, pull_count: 0 })
      .onConflict((oc) => oc.columns(['repository', 'digest']).doUpdateSet(pushed))
      .execute();
  }

  async recordPulls(pulls: PullBatchEntry[]): Promise<void> {
    // One row per manifest (a multi-row upsert may not touch a row twice): repeats add up.
    const merged = new Map<string, PullBatchEntry>();
    for (const p of pulls) {
      const key = `${p.repository}@${p.digest}`;
      const seen = merged.get(key);
      merged.set(key, seen ? { ...p, count: seen.count + p.count, lastPulledAt: p.lastPulledAt > seen.lastPulledAt ? p.lastPulledAt : seen.lastPulledAt } : p);
    }
    const entries = [...merged.values()];
    if (entries.length === 0) return;
    // Upserts, PULL_ROWS rows a statement, in one transaction: a row for manifests pushed before
    // the policies migration, else the counts added. On SQLite every statement and commit runs
    // on the event loop: a statement per manifest (and a commit per new row) stalled the
    // registry under pulls of many distinct manifests (bench: scale, benchmark.md).
    const upsert = (db: Kysely<Database>, part: PullBatchEntry[]) =>
      db
        .insertInto('manifest_stats')
        .values(
          part.map((p) => ({ repository: p.repository, digest: p.digest, pushed_at: null, pushed_by: null, last_pulled_at: p.lastPulledAt.getTime(), pull_count: p.count })),
        )
        .onConflict((oc) =>
          oc.columns(['repository', 'digest']).doUpdateSet((eb) => ({
            pull_count: sql<number>`manifest_stats.pull_count + excluded.pull_count`,
            last_pulled_at: eb.ref('excluded.last_pulled_at'),
          })),
        )
        .execute();
    try {
      // Counts, not pushes: a commit that need not wait for the disk (see relaxed-commit.ts).
      await relaxedTransaction(this.db, this.dialect, async (trx) => {
        for (let i = 0; i < entries.length; i += PULL_ROWS) await upsert(trx, entries.slice(i, i + PULL_ROWS));
      });
    } catch {
      // A manifest deleted meanwhile fails its foreign key and rolls the batch back: then each
      // on its own, its pulls dropped, so one failure loses nothing else.
      for (const p of entries) {
        try {
          await upsert(this.db, [p]);
        } catch {
          // The manifest is gone.
        }
      }
    }
  }

  async listTagStats(repository: string, page: { limit: number; after?: string }): Promise<TagStats[]> {
    let q = this.db
      .selectFrom('tags')
      .leftJoin('manifest_stats', (j) => j.onRef('manifest_stats.repository', '=', 'tags.repository').onRef('manifest_stats.digest', '=', 'tags.manifest_digest'))
      .select(['tags.name', 'tags.manifest_digest', 'manifest_stats.pushed_at', 'manifest_stats.pushed_by', 'manifest_stats.last_pulled_at', 'manifest_stats.pull_count'])
      .where('tags.repository', '=', repository)
      .orderBy('tags.name')
      .limit(page.limit);
    if (page.after !== undefined) q = q.where('tags.name', '>', page.after);
    const rows = await q.execute();
    return rows.map((r) => ({
      tag: r.name,
      digest: r.manifest_digest,
      pushedAt: dateOrNull(r.pushed_at),
      pushedBy: r.pushed_by,
      lastPulledAt: dateOrNull(r.last_pulled_at),
      pullCount: r.pull_count === null ? 0 : toNumber(r.pull_count),
    }));
  }
}
