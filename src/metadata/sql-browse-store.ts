// BrowseStore on the SQL database of SqlMetadataStore (SQLite, PostgreSQL): one grouped query
// over repositories and tags per page, and one count.
import { sql, type ExpressionBuilder, type Kysely } from 'kysely';
import { toNumber, type Database } from './schema.js';
import { inNamespace } from './sql-policy-store.js';
import type { BrowseStore, RepositorySearch, RepositorySummary } from './browse-store.js';

/** LIKE pattern matching `text` anywhere, with the wildcards in it taken literally. */
function containing(text: string): string {
  return `%${text.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
}

export class SqlBrowseStore implements BrowseStore {
  constructor(private readonly db: Kysely<Database>) {}

  async searchRepositories(search: RepositorySearch): Promise<{ total: number; repositories: RepositorySummary[] }> {
    if (search.namespaces?.length === 0) return { total: 0, repositories: [] };
    const filter = (eb: ExpressionBuilder<Database, 'repositories'>) => {
      const conditions = [];
      if (search.query) conditions.push(sql<boolean>`lower(repositories.name) like ${containing(search.query.toLowerCase())} escape '\\'`);
      if (search.namespaces) conditions.push(eb.or(search.namespaces.map((ns) => inNamespace(eb, 'repositories.name', ns))));
      return eb.and(conditions);
    };
    const counted = await this.db.selectFrom('repositories').select(sql<number | string>`count(*)`.as('n')).where(filter).executeTakeFirstOrThrow();
    const updated = sql<number | string>`coalesce(max(tags.updated_at), repositories.created_at)`;
    const tagCount = sql<number | string>`count(tags.name)`;
    const direction = search.descending ? 'desc' : 'asc';
    let q = this.db
      .selectFrom('repositories')
      .leftJoin('tags', 'tags.repository', 'repositories.name')
      .select(['repositories.name as name', 'repositories.created_at as created_at', tagCount.as('tag_count'), updated.as('updated_at')])
      .where(filter)
      .groupBy(['repositories.name', 'repositories.created_at']);
    if (search.sort === 'updated') q = q.orderBy(updated, direction);
    if (search.sort === 'tags') q = q.orderBy(tagCount, direction);
    q = q.orderBy('repositories.name', search.sort === 'name' ? direction : 'asc');
    const rows = await q.limit(search.limit).offset(search.offset).execute();
    return {
      total: toNumber(counted.n),
      repositories: rows.map((r) => ({
        name: r.name,
        tagCount: toNumber(r.tag_count),
        createdAt: new Date(toNumber(r.created_at)),
        updatedAt: new Date(toNumber(r.updated_at)),
      })),
    };
  }
}
