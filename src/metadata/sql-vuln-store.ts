// VulnStore on the SQL database of SqlMetadataStore (SQLite, PostgreSQL).
import { sql, type Kysely } from 'kysely';
import { toNumber, type Database } from './schema.js';
import type { NewAdvisory, StoredAdvisory, VulnDbState, VulnImportRecord, VulnStore } from './vuln-store.js';

import { chunks, IN_CHUNK } from './batches.js';

/** Rows per multi-row insert (4 or 5 parameters each). */
const INSERT_ROWS = 200;

export class SqlVulnStore implements VulnStore {
  constructor(private readonly db: Kysely<Database>) {}

  async modifiedTimes(ids: string[]): Promise<Map<string, Date>> {
    const out = new Map<string, Date>();
    for (const part of chunks([...new Set(ids)], IN_CHUNK)) {
      const rows = await this.db.selectFrom('vuln_advisories').select(['id', 'modified']).where('id', 'in', part).execute();
      for (const r of rows) out.set(r.id, new Date(toNumber(r.modified)));
    }
    return out;
  }

  async applyChanges(changes: { put: NewAdvisory[]; remove: string[] }): Promise<{ removed: number }> {
    if (changes.put.length === 0 && changes.remove.length === 0) return { removed: 0 };
    const now = Date.now();
    return this.db.transaction().execute(async (trx) => {
      let removed = 0;
      for (const part of chunks(changes.remove, IN_CHUNK)) {
        const result = await trx.deleteFrom('vuln_advisories').where('id', 'in', part).executeTakeFirst();
        removed += Number(result.numDeletedRows);
      }
      // Replacing deletes first: the package rows go with the advisory (on delete cascade).
      for (const part of chunks(changes.put.map((a) => a.id), IN_CHUNK)) await trx.deleteFrom('vuln_advisories').where('id', 'in', part).execute();
      for (const part of chunks(changes.put, INSERT_ROWS)) {
        await trx
          .insertInto('vuln_advisories')
          .values(part.map((a) => ({ id: a.id, modified: a.modified.getTime(), content: a.content, imported_at: now })))
          // Another import running at the same time may have stored it meanwhile.
          .onConflict((oc) =>
            oc.column('id').doUpdateSet((eb) => ({ modified: eb.ref('excluded.modified'), content: eb.ref('excluded.content'), imported_at: eb.ref('excluded.imported_at') })),
          )
          .execute();
      }
      const packages = changes.put.flatMap((a) => {
        const seen = new Set<string>();
        return a.packages.filter((p) => {
          const key = `${p.ecosystem}\u0000${p.name}`;
          if (seen.has(key)) return false;
          seen.add(key);
          return true;
        }).map((p) => ({ advisory_id: a.id, ecosystem: p.ecosystem, family: p.family, name: p.name }));
      });
      for (const part of chunks(packages, INSERT_ROWS)) {
        await trx
          .insertInto('vuln_packages')
          .values(part)
          .onConflict((oc) => oc.columns(['advisory_id', 'ecosystem', 'name']).doNothing())
          .execute();
      }
      return { removed };
    });
  }

  async findByPackages(family: string, names: string[]): Promise<StoredAdvisory[]> {
    const ids = new Set<string>();
    for (const part of chunks([...new Set(names)], IN_CHUNK)) {
      const rows = await this.db.selectFrom('vuln_packages').select('advisory_id').distinct().where('family', '=', family).where('name', 'in', part).execute();
      for (const r of rows) ids.add(r.advisory_id);
    }
    const out: StoredAdvisory[] = [];
    for (const part of chunks([...ids].sort(), IN_CHUNK)) {
      const rows = await this.db.selectFrom('vuln_advisories').select(['id', 'modified', 'content']).where('id', 'in', part).orderBy('id').execute();
      for (const r of rows) out.push({ id: r.id, modified: new Date(toNumber(r.modified)), content: r.content });
    }
    return out;
  }

  async getAdvisory(id: string): Promise<StoredAdvisory | undefined> {
    const r = await this.db.selectFrom('vuln_advisories').select(['id', 'modified', 'content']).where('id', '=', id).executeTakeFirst();
    return r ? { id: r.id, modified: new Date(toNumber(r.modified)), content: r.content } : undefined;
  }

  async recordImport(record: VulnImportRecord): Promise<VulnDbState> {
    await this.db
      .insertInto('vuln_imports')
      .values({
        source: record.source,
        started_at: record.startedAt.getTime(),
        finished_at: record.finishedAt.getTime(),
        added: record.added,
        updated: record.updated,
        removed: record.removed,
        skipped: record.skipped,
        invalid: record.invalid,
      })
      .execute();
    return this.state();
  }

  async state(): Promise<VulnDbState> {
    const changed = sql<boolean>`added + updated + removed > 0`;
    const [versions, imports, advisories] = await Promise.all([
      this.db
        .selectFrom('vuln_imports')
        .select((eb) => [eb.fn.countAll<number | string>().as('n'), eb.fn.max('finished_at').as('at')])
        .where(changed)
        .executeTakeFirstOrThrow(),
      this.db.selectFrom('vuln_imports').select((eb) => eb.fn.max('finished_at').as('at')).executeTakeFirstOrThrow(),
      this.db.selectFrom('vuln_advisories').select((eb) => eb.fn.countAll<number | string>().as('n')).executeTakeFirstOrThrow(),
    ]);
    const date = (v: number | string | null | undefined): Date | null => (v === null || v === undefined ? null : new Date(toNumber(v)));
    return { version: toNumber(versions.n), changedAt: date(versions.at), lastImportAt: date(imports.at), advisories: toNumber(advisories.n) };
  }
}
