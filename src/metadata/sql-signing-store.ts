// SigningStore on the SQL database of SqlMetadataStore (SQLite, PostgreSQL).
import { randomUUID } from 'node:crypto';
import type { Kysely } from 'kysely';
import { toNumber, type Database } from './schema.js';
import type { PullPolicy, Severity, SigningKey, SigningStore } from './signing-store.js';

export class SqlSigningStore implements SigningStore {
  constructor(private readonly db: Kysely<Database>) {}

  async listKeys(namespace: string): Promise<SigningKey[]> {
    const rows = await this.db.selectFrom('signing_keys').selectAll().where('namespace', '=', namespace).orderBy('created_at').orderBy('id').execute();
    return rows.map((r) => ({ id: r.id, namespace: r.namespace, name: r.name, publicKey: r.public_key, createdBy: r.created_by, createdAt: new Date(toNumber(r.created_at)) }));
  }

  async addKey(key: Pick<SigningKey, 'namespace' | 'name' | 'publicKey' | 'createdBy'>): Promise<SigningKey> {
    const created: SigningKey = { ...key, id: randomUUID(), createdAt: new Date() };
    await this.db
      .insertInto('signing_keys')
      .values({ id: created.id, namespace: key.namespace, name: key.name, public_key: key.publicKey, created_by: key.createdBy, created_at: created.createdAt.getTime() })
      .execute();
    return created;
  }

  async deleteKey(namespace: string, id: string): Promise<SigningKey | undefined> {
    const key = (await this.listKeys(namespace)).find((k) => k.id === id);
    if (!key) return undefined;
    const result = await this.db.deleteFrom('signing_keys').where('namespace', '=', namespace).where('id', '=', id).executeTakeFirst();
    return Number(result.numDeletedRows) > 0 ? key : undefined;
  }

  async getPullPolicy(namespace: string): Promise<PullPolicy | undefined> {
    const row = await this.db.selectFrom('pull_policies').selectAll().where('namespace', '=', namespace).executeTakeFirst();
    if (!row) return undefined;
    return {
      namespace,
      requireSignature: row.require_signature === 1,
      blockSeverity: row.block_severity as Severity | null,
      allowAdvisories: JSON.parse(row.allow_advisories) as string[],
      updatedBy: row.updated_by,
      updatedAt: new Date(toNumber(row.updated_at)),
    };
  }

  async setPullPolicy(policy: Omit<PullPolicy, 'updatedAt'>): Promise<PullPolicy> {
    const updatedAt = new Date();
    const values = {
      require_signature: policy.requireSignature ? 1 : 0,
      block_severity: policy.blockSeverity,
      allow_advisories: JSON.stringify(policy.allowAdvisories),
      updated_by: policy.updatedBy,
      updated_at: updatedAt.getTime(),
    };
    await this.db
      .insertInto('pull_policies')
      .values({ namespace: policy.namespace, ...values })
      .onConflict((oc) => oc.column('namespace').doUpdateSet(values))
      .execute();
    return { ...policy, updatedAt };
  }

  async indexesListing(repository: string, digest: string): Promise<string[]> {
    const rows = await this.db
      .selectFrom('manifest_references')
      .select('manifest_digest')
      .where('repository', '=', repository)
      .where('child_digest', '=', digest)
      .where('kind', '=', 'manifest')
      .orderBy('manifest_digest')
      .limit(100)
      .execute();
    return rows.map((r) => r.manifest_digest);
  }
}
