// MetadataStore on any SQL database Kysely speaks (SQLite, PostgreSQL): the queries are
// written once; drivers only open the connection and pick the dialect.
import { Migrator, sql, type Kysely, type Selectable, type Transaction } from 'kysely';
import { migrationProvider, type SqlDialect } from './migrations/index.js';
import { toNumber, type Database, type ManifestsTable } from './schema.js';
import type { AccessStore } from './access-store.js';
import { SqlAccessStore } from './sql-access-store.js';
import type { AuditOutbox } from './audit-outbox.js';
import { SqlAuditOutbox } from './sql-audit-outbox.js';
import type { IdentityStore } from './identity-store.js';
import { SqlIdentityStore } from './sql-identity-store.js';
import type { PolicyStore } from './policy-store.js';
import { SqlPolicyStore } from './sql-policy-store.js';
import type {
  BlobLink,
  ManifestRecord,
  MetadataStore,
  NewManifest,
  Page,
  ReferrerRecord,
  UploadSessionRecord,
} from './store.js';
import { MissingReferencesError, QuotaExceededError, TagConflictError, type LinkQuota } from './store.js';
import { SqlRetentionStore } from './sql-retention-store.js';
import type { RetentionStore } from './retention-store.js';
import { SqlScanStore } from './sql-scan-store.js';
import { SqlWebhookStore } from './sql-webhook-store.js';
import { SqlReplicationStore } from './sql-replication-store.js';
import type { ReplicationStore } from './replication-store.js';
import type { WebhookStore } from './webhook-store.js';
import type { ScanStore } from './scan-store.js';
import { SqlGcStore } from './sql-gc-store.js';
import { chunks, IN_CHUNK } from './batches.js';
import { reusableQuery } from './reusable-query.js';
import type { VulnStore } from './vuln-store.js';
import { SqlVulnStore } from './sql-vuln-store.js';
import type { SigningStore } from './signing-store.js';
import { SqlSigningStore } from './sql-signing-store.js';
import type { SessionStore } from './session-store.js';
import type { OidcStore } from './oidc-store.js';
import { SqlOidcStore } from './sql-oidc-store.js';
import { SqlSessionStore } from './sql-session-store.js';
import type { BrowseStore } from './browse-store.js';
import { SqlBrowseStore } from './sql-browse-store.js';

type Db = Kysely<Database> | Transaction<Database>;

function parseAnnotations(value: string | null): Record<string, string> | null {
  return value === null ? null : (JSON.parse(value) as Record<string, string>);
}

function toManifestRecord(row: Pick<Selectable<ManifestsTable>, 'repository' | 'digest' | 'media_type' | 'artifact_type' | 'subject_digest' | 'annotations' | 'content' | 'created_at'>): ManifestRecord {
  return {
    repository: row.repository,
    digest: row.digest,
    mediaType: row.media_type,
    artifactType: row.artifact_type,
    subjectDigest: row.subject_digest,
    annotations: parseAnnotations(row.annotations),
    content: Buffer.isBuffer(row.content) ? row.content : Buffer.from(row.content as Uint8Array),
    createdAt: new Date(toNumber(row.created_at)),
  };
}

function toUpload(row: { id: string; repository: string; size: number | string; created_at: number | string; updated_at: number | string }): UploadSessionRecord {
  return {
    id: row.id,
    repository: row.repository,
    size: toNumber(row.size),
    createdAt: new Date(toNumber(row.created_at)),
    updatedAt: new Date(toNumber(row.updated_at)),
  };
}

const MANIFEST_COLUMNS = ['repository', 'digest', 'media_type', 'artifact_type', 'subject_digest', 'annotations', 'content', 'created_at'] as const;

export class SqlMetadataStore implements MetadataStore {
  constructor(
    protected readonly db: Kysely<Database>,
    private readonly dialect: SqlDialect,
  ) {}

  private accessStore: SqlAccessStore | undefined;

  /** Users, namespaces, robots, audit log and settings, on the same database and connection(s). */
  access(): AccessStore {
    return this.sqlAccess();
  }

  private sqlAccess(): SqlAccessStore {
    this.accessStore ??= new SqlAccessStore(this.db, this.dialect);
    return this.accessStore;
  }

  private identityStore: SqlIdentityStore | undefined;

  /** Directory accounts and second factors. */
  identity(): IdentityStore {
    this.identityStore ??= new SqlIdentityStore(this.db);
    return this.identityStore;
  }

  /** The audit forwarding outbox; from now on every audit event is queued for each of `sinks`. */
  auditOutbox(sinks: readonly string[]): AuditOutbox {
    this.sqlAccess().forwardAuditTo(sinks);
    return new SqlAuditOutbox(this.db);
  }

  private policyStore: SqlPolicyStore | undefined;

  /** Immutable-tag rules, quotas and manifest tracking, on the same database. */
  policies(): PolicyStore {
    this.policyStore ??= new SqlPolicyStore(this.db, this.dialect);
    return this.policyStore;
  }

  private retentionStore: SqlRetentionStore | undefined;

  /** Retention policies, on the same database. */
  retention(): RetentionStore {
    this.retentionStore ??= new SqlRetentionStore(this.db);
    return this.retentionStore;
  }

  private scanStore: SqlScanStore | undefined;

  /** Scan jobs and results, on the same database. */
  scans(): ScanStore {
    this.scanStore ??= new SqlScanStore(this.db);
    return this.scanStore;
  }

  private replicationStore: SqlReplicationStore | undefined;

  /** Replication rules and their runs, on the same database. */
  replication(): ReplicationStore {
    this.replicationStore ??= new SqlReplicationStore(this.db);
    return this.replicationStore;
  }

  private webhookStore: SqlWebhookStore | undefined;

  /** Webhooks and their delivery queue, on the same database. */
  webhooks(): WebhookStore {
    this.webhookStore ??= new SqlWebhookStore(this.db);
    return this.webhookStore;
  }

  private gcStore: SqlGcStore | undefined;

  /** The queries of garbage collection and scrub, on the same database. */
  gc(): SqlGcStore {
    this.gcStore ??= new SqlGcStore(this.db, this.dialect);
    return this.gcStore;
  }

  private vulnStore: SqlVulnStore | undefined;

  /** The vulnerability database (OSV advisories), on the same database. */
  vulns(): VulnStore {
    this.vulnStore ??= new SqlVulnStore(this.db);
    return this.vulnStore;
  }

  private signingStore: SqlSigningStore | undefined;

  signing(): SigningStore {
    this.signingStore ??= new SqlSigningStore(this.db);
    return this.signingStore;
  }

  private sessionStore: SqlSessionStore | undefined;

  /** Web UI login sessions, on the same database. */
  sessions(): SessionStore {
    this.sessionStore ??= new SqlSessionStore(this.db);
    return this.sessionStore;
  }

  private oidcStore: SqlOidcStore | undefined;

  /** Single sign-on flows, command-line logins and CLI secrets, on the same database. */
  oidc(): OidcStore {
    this.oidcStore ??= new SqlOidcStore(this.db);
    return this.oidcStore;
  }

  private browseStore: SqlBrowseStore | undefined;

  /** Repository listings for the web UI (search, sort, tag counts), on the database itself. */
  browse(): BrowseStore {
    this.browseStore ??= new SqlBrowseStore(this.db);
    return this.browseStore;
  }

  /** The database itself and its dialect, for tools that work on every table (backup, restore). */
  connection(): { db: Kysely<Database>; dialect: SqlDialect } {
    return { db: this.db, dialect: this.dialect };
  }

  /** Bring the schema to the newest version. */
  async migrate(): Promise<string[]> {
    return this.migrateWith(this.db);
  }

  private async executedMigrationNames(db: Kysely<Database>): Promise<string[]> {
    try {
      const rows = await sql<{ name: string }>`select name from kysely_migration`.execute(db);
      return rows.rows.map((r) => r.name);
    } catch {
      return []; // a new database: no migration table yet
    }
  }

  /** Migrations this database has not had yet (`registry doctor`). */
  async pendingMigrations(): Promise<string[]> {
    const migrator = new Migrator({ db: this.db, provider: migrationProvider(this.dialect) });
    return (await migrator.getMigrations()).filter((m) => m.executedAt === undefined).map((m) => m.name);
  }

  /** Migrations the database has that this version does not know (a newer node ran them). */
  newerMigrations: string[] = [];

  protected async migrateWith(db: Kysely<Database>): Promise<string[]> {
    const migrator = new Migrator({ db, provider: migrationProvider(this.dialect) });
    // During a rolling upgrade newer nodes may have migrated further. Migrations only expand the
    // schema (new tables and nullable columns; removals come in a later release), so an older
    // node keeps working on it, as long as it has every migration it knows itself.
    const known = await migrator.getMigrations();
    const executed = await this.executedMigrationNames(db);
    this.newerMigrations = executed.filter((name) => !known.some((m) => m.name === name));
    if (this.newerMigrations.length > 0) {
      const missing = known.filter((m) => m.executedAt === undefined).map((m) => m.name);
      if (missing.length > 0) throw new Error(`the database has migrations this version does not know (${this.newerMigrations.join(', ')}) and lacks some it knows (${missing.join(', ')}): run the newest version`);
      return [];
    }
    const { error, results } = await migrator.migrateToLatest();
    if (error) throw error instanceof Error ? error : new Error(String(error));
    return (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName);
  }

  private async ensureRepository(db: Db, repository: string): Promise<void> {
    await db
      .insertInto('repositories')
      .values({ name: repository, created_at: Date.now() })
      .onConflict((oc) => oc.column('name').doNothing())
      .execute();
  }

  async repositoryExists(repository: string): Promise<boolean> {
    const row = await this.db.selectFrom('repositories').select('name').where('name', '=', repository).executeTakeFirst();
    return row !== undefined;
  }

  async listRepositories(page: Page): Promise<string[]> {
    let q = this.db.selectFrom('repositories').select('name').orderBy('name');
    if (page.after !== undefined) q = q.where('name', '>', page.after);
    if (page.limit !== undefined) q = q.limit(page.limit);
    return (await q.execute()).map((r) => r.name);
  }

  async linkBlob(repository: string, digest: string, size: number): Promise<void> {
    const now = Date.now();
    await this.db.transaction().execute(async (trx) => {
      await this.ensureRepository(trx, repository);
      await trx.insertInto('blobs').values({ digest, size, created_at: now }).onConflict((oc) => oc.column('digest').doNothing()).execute();
      await trx
        .insertInto('repository_blobs')
        .values({ repository, digest, created_at: now })
        .onConflict((oc) => oc.columns(['repository', 'digest']).doNothing())
        .execute();
    });
  }

  private readonly blobLinkQuery = reusableQuery(
    () => this.db,
    (repository: string, digest: string) =>
      this.db
        .selectFrom('repository_blobs')
        .innerJoin('blobs', 'blobs.digest', 'repository_blobs.digest')
        .select(['blobs.digest', 'blobs.size'])
        .where('repository_blobs.repository', '=', repository)
        .where('repository_blobs.digest', '=', digest),
  );

  async getBlobLink(repository: string, digest: string): Promise<BlobLink | undefined> {
    const [row] = await this.blobLinkQuery(repository, digest);
    return row ? { digest: row.digest, size: toNumber(row.size) } : undefined;
  }

  async unlinkBlob(repository: string, digest: string): Promise<boolean> {
    const result = await this.db
      .deleteFrom('repository_blobs')
      .where('repository', '=', repository)
      .where('digest', '=', digest)
      .executeTakeFirst();
    return Number(result.numDeletedRows) > 0;
  }

  async findBlob(digest: string): Promise<BlobLink | undefined> {
    const row = await this.db
      .selectFrom('blobs')
      .select(['digest', 'size'])
      .where('digest', '=', digest)
      .where((eb) => eb.exists(eb.selectFrom('repository_blobs').select('repository').where('repository_blobs.digest', '=', digest)))
      .executeTakeFirst();
    return row ? { digest: row.digest, size: toNumber(row.size) } : undefined;
  }

  async missingBlobs(repository: string, digests: string[]): Promise<string[]> {
    return this.missingIn('repository_blobs', repository, digests);
  }

  /** Of `digests`, those with no row in `table` for the repository. */
  private async missingIn(table: 'repository_blobs' | 'manifests', repository: string, digests: string[]): Promise<string[]> {
    const unique = [...new Set(digests)];
    const present = new Set<string>();
    for (const part of chunks(unique, IN_CHUNK)) {
      const rows = await this.db.selectFrom(table).select('digest').where('repository', '=', repository).where('digest', 'in', part).execute();
      for (const r of rows) present.add(r.digest);
    }
    return unique.filter((d) => !present.has(d));
  }

  async createUpload(id: string, repository: string): Promise<UploadSessionRecord> {
    const now = Date.now();
    await this.db.transaction().execute(async (trx) => {
      await this.ensureRepository(trx, repository);
      await trx.insertInto('uploads').values({ id, repository, size: 0, created_at: now, updated_at: now }).execute();
    });
    return { id, repository, size: 0, createdAt: new Date(now), updatedAt: new Date(now) };
  }

  async getUpload(repository: string, id: string): Promise<UploadSessionRecord | undefined> {
    const row = await this.db.selectFrom('uploads').selectAll().where('id', '=', id).where('repository', '=', repository).executeTakeFirst();
    return row ? toUpload(row) : undefined;
  }

  async claimUpload(id: string, expectedSize: number, writer: string, leaseMs: number): Promise<boolean> {
    const now = Date.now();
    const result = await this.db
      .updateTable('uploads')
      .set({ writer, lease_until: now + leaseMs })
      .where('id', '=', id)
      .where('size', '=', expectedSize)
      .where((eb) => eb.or([eb('writer', 'is', null), eb('lease_until', '<', now)]))
      .executeTakeFirst();
    return Number(result.numUpdatedRows) === 1;
  }

  async renewUploadClaim(id: string, writer: string, leaseMs: number): Promise<boolean> {
    const result = await this.db
      .updateTable('uploads')
      .set({ lease_until: Date.now() + leaseMs })
      .where('id', '=', id)
      .where('writer', '=', writer)
      .executeTakeFirst();
    return Number(result.numUpdatedRows) === 1;
  }

  async releaseUpload(id: string, writer: string, size?: number): Promise<boolean> {
    const result = await this.db
      .updateTable('uploads')
      .set({ writer: null, lease_until: null, updated_at: Date.now(), ...(size !== undefined ? { size } : {}) })
      .where('id', '=', id)
      .where('writer', '=', writer)
      .executeTakeFirst();
    return Number(result.numUpdatedRows) === 1;
  }

  async releaseAllUploadClaims(): Promise<number> {
    const result = await this.db.updateTable('uploads').set({ writer: null, lease_until: null }).where('writer', 'is not', null).executeTakeFirst();
    return Number(result.numUpdatedRows);
  }

  async deleteUpload(id: string): Promise<void> {
    await this.db.deleteFrom('uploads').where('id', '=', id).execute();
  }

  async listUploadIds(): Promise<string[]> {
    return (await this.db.selectFrom('uploads').select('id').execute()).map((r) => r.id);
  }

  async listUploadsUpdatedBefore(cutoff: Date): Promise<UploadSessionRecord[]> {
    const rows = await this.db.selectFrom('uploads').selectAll().where('updated_at', '<', cutoff.getTime()).execute();
    return rows.map(toUpload);
  }

  async putManifest(m: NewManifest): Promise<void> {
    const now = Date.now();
    await this.db.transaction().execute(async (trx) => {
      // First a write: on SQLite the transaction holds the write lock from here on, so no
      // collection runs between the reference check and the insert.
      await this.ensureRepository(trx, m.repository);
      if (m.verifyReferences) await this.checkReferencesIn(trx, m);
      await trx
        .insertInto('manifests')
        .values({
          repository: m.repository,
          digest: m.digest,
          media_type: m.mediaType,
          artifact_type: m.artifactType,
          subject_digest: m.subjectDigest,
          annotations: m.annotations === null ? null : JSON.stringify(m.annotations),
          size: m.content.length,
          content: m.content,
          created_at: now,
        })
        .onConflict((oc) => oc.columns(['repository', 'digest']).doNothing())
        .execute();
      const refs = [...new Map(m.references.map((r) => [`${r.kind}:${r.digest}`, r])).values()];
      for (const part of chunks(refs, IN_CHUNK / 4)) {
        await trx
          .insertInto('manifest_references')
          .values(part.map((r) => ({ repository: m.repository, manifest_digest: m.digest, child_digest: r.digest, kind: r.kind })))
          .onConflict((oc) => oc.columns(['repository', 'manifest_digest', 'child_digest', 'kind']).doNothing())
          .execute();
      }
      if (m.tag !== undefined && m.tagImmutable) {
        // Created if absent, never moved: of concurrent first pushes one wins (the others' inserts
        // wait on the key, then do nothing) and the rest see its digest.
        await trx
          .insertInto('tags')
          .values({ repository: m.repository, name: m.tag, manifest_digest: m.digest, updated_at: now })
          .onConflict((oc) => oc.columns(['repository', 'name']).doNothing())
          .execute();
        const row = await trx.selectFrom('tags').select('manifest_digest').where('repository', '=', m.repository).where('name', '=', m.tag).executeTakeFirst();
        if (row && row.manifest_digest !== m.digest) throw new TagConflictError(row.manifest_digest);
      } else if (m.tag !== undefined) {
        await trx
          .insertInto('tags')
          .values({ repository: m.repository, name: m.tag, manifest_digest: m.digest, updated_at: now })
          .onConflict((oc) => oc.columns(['repository', 'name']).doUpdateSet({ manifest_digest: m.digest, updated_at: now }))
          .execute();
      }
    });
  }

  /**
   * Inside putManifest's transaction: every referenced blob is linked and every child manifest
   * present. On PostgreSQL the rows are locked (FOR SHARE) until commit, so a collector, which
   * locks a row FOR UPDATE before deleting it, waits and then sees the new references.
   */
  private async checkReferencesIn(trx: Transaction<Database>, m: NewManifest): Promise<void> {
    const pg = this.dialect === 'postgres';
    const blobs = [...new Set(m.references.filter((r) => r.kind === 'blob').map((r) => r.digest))];
    const children = [...new Set(m.references.filter((r) => r.kind === 'manifest').map((r) => r.digest))];
    const presentBlobs = new Set<string>();
    for (const part of chunks(blobs, IN_CHUNK)) {
      const rows = await trx
        .selectFrom('repository_blobs')
        .select('digest')
        .where('repository', '=', m.repository)
        .where('digest', 'in', part)
        .$if(pg, (q) => q.forShare())
        .execute();
      for (const r of rows) presentBlobs.add(r.digest);
    }
    const presentChildren = new Set<string>();
    // The manifest itself too: a collector deleting it (untagged) must not race a new tag.
    for (const part of chunks([...children, m.digest], IN_CHUNK)) {
      const rows = await trx
        .selectFrom('manifests')
        .select('digest')
        .where('repository', '=', m.repository)
        .where('digest', 'in', part)
        .$if(pg, (q) => q.forShare())
        .execute();
      for (const r of rows) presentChildren.add(r.digest);
    }
    const missingBlobs = blobs.filter((d) => !presentBlobs.has(d));
    const missingChildren = children.filter((d) => !presentChildren.has(d));
    if (missingBlobs.length || missingChildren.length) throw new MissingReferencesError(missingBlobs, missingChildren);
  }

  async reserveBlobLink(repository: string, digest: string, size: number, quota?: LinkQuota): Promise<'linked' | 'wait'> {
    const now = Date.now();
    return this.db.transaction().execute(async (trx) => {
      await this.ensureRepository(trx, repository);
      if (quota) await this.enforceQuota(trx, quota, digest, size);
      // The row first, then its lock: a row that did not exist when a plain SELECT looked could be
      // inserted by a collector claiming unrecorded bytes right after, and an upsert would then
      // clear that live claim while the collector goes on to delete the bytes. Inserting first
      // makes a concurrent claim wait for this transaction (and then find the row), or this one
      // wait for the claim and find it below.
      await trx.insertInto('blobs').values({ digest, size, created_at: now }).onConflict((oc) => oc.column('digest').doNothing()).execute();
      const row = await trx
        .selectFrom('blobs')
        .select(['deleting', 'deleting_until'])
        .where('digest', '=', digest)
        .$if(this.dialect === 'postgres', (q) => q.forUpdate())
        .executeTakeFirstOrThrow();
      // A collector is deleting the bytes: wait until it is done (or its lease ran out).
      if (row.deleting !== null && toNumber(row.deleting_until ?? 0) > now) return 'wait' as const;
      if (row.deleting !== null) await trx.updateTable('blobs').set({ deleting: null, deleting_until: null }).where('digest', '=', digest).execute();
      await trx
        .insertInto('repository_blobs')
        .values({ repository, digest, created_at: now })
        .onConflict((oc) => oc.columns(['repository', 'digest']).doUpdateSet({ created_at: now }))
        .execute();
      return 'linked' as const;
    });
  }

  /**
   * Inside a linking transaction: refuse when the blob is new to the namespace and would take it
   * past its limit. On PostgreSQL the quota row is locked first, so links into one namespace
   * with a quota are checked one at a time; SQLite's write lock does that already.
   */
  private async enforceQuota(trx: Transaction<Database>, quota: LinkQuota, digest: string, size: number): Promise<void> {
    if (this.dialect === 'postgres') await trx.selectFrom('namespace_quotas').select('namespace').where('namespace', '=', quota.namespace).forUpdate().execute();
    const usage = new SqlPolicyStore(trx, this.dialect);
    if (await usage.blobInNamespace(quota.namespace, digest)) return;
    const used = await usage.usedBytes(quota.namespace);
    if (used + size > quota.limitBytes) throw new QuotaExceededError(used);
  }

  async linkStoredBlob(repository: string, digest: string, quota?: LinkQuota): Promise<BlobLink | undefined> {
    const now = Date.now();
    return this.db.transaction().execute(async (trx) => {
      await this.ensureRepository(trx, repository);
      const row = await trx
        .selectFrom('blobs')
        .select(['digest', 'size', 'deleting'])
        .where('digest', '=', digest)
        .$if(this.dialect === 'postgres', (q) => q.forUpdate())
        .executeTakeFirst();
      if (!row || row.deleting !== null) return undefined;
      if (quota) await this.enforceQuota(trx, quota, digest, toNumber(row.size));
      await trx
        .insertInto('repository_blobs')
        .values({ repository, digest, created_at: now })
        .onConflict((oc) => oc.columns(['repository', 'digest']).doUpdateSet({ created_at: now }))
        .execute();
      return { digest: row.digest, size: toNumber(row.size) };
    });
  }

  private readonly manifestQuery = reusableQuery(
    () => this.db,
    (repository: string, digest: string) => this.db.selectFrom('manifests').select(MANIFEST_COLUMNS).where('repository', '=', repository).where('digest', '=', digest),
  );

  private readonly manifestByTagQuery = reusableQuery(
    () => this.db,
    (repository: string, tag: string) =>
      this.db
        .selectFrom('tags')
        .innerJoin('manifests', (j) => j.onRef('manifests.repository', '=', 'tags.repository').onRef('manifests.digest', '=', 'tags.manifest_digest'))
        .select(MANIFEST_COLUMNS.map((c) => `manifests.${c}` as const))
        .where('tags.repository', '=', repository)
        .where('tags.name', '=', tag),
  );

  async getManifest(repository: string, digest: string): Promise<ManifestRecord | undefined> {
    const [row] = await this.manifestQuery(repository, digest);
    return row ? toManifestRecord(row) : undefined;
  }

  async getManifestByTag(repository: string, tag: string): Promise<ManifestRecord | undefined> {
    const [row] = await this.manifestByTagQuery(repository, tag);
    return row ? toManifestRecord(row) : undefined;
  }

  async missingManifests(repository: string, digests: string[]): Promise<string[]> {
    return this.missingIn('manifests', repository, digests);
  }

  async deleteManifest(repository: string, digest: string): Promise<boolean> {
    return this.db.transaction().execute(async (trx) => {
      await trx.deleteFrom('tags').where('repository', '=', repository).where('manifest_digest', '=', digest).execute();
      await trx.deleteFrom('manifest_references').where('repository', '=', repository).where('manifest_digest', '=', digest).execute();
      const result = await trx.deleteFrom('manifests').where('repository', '=', repository).where('digest', '=', digest).executeTakeFirst();
      return Number(result.numDeletedRows) > 0;
    });
  }

  async deleteTag(repository: string, tag: string, expectedDigest?: string): Promise<boolean> {
    const result = await this.db
      .deleteFrom('tags')
      .where('repository', '=', repository)
      .where('name', '=', tag)
      .$if(expectedDigest !== undefined, (q) => q.where('manifest_digest', '=', expectedDigest!))
      .executeTakeFirst();
    return Number(result.numDeletedRows) > 0;
  }

  async listTags(repository: string, page: Page): Promise<string[]> {
    let q = this.db.selectFrom('tags').select('name').where('repository', '=', repository).orderBy('name');
    if (page.after !== undefined) q = q.where('name', '>', page.after);
    if (page.limit !== undefined) q = q.limit(page.limit);
    return (await q.execute()).map((r) => r.name);
  }

  async listReferrers(repository: string, subjectDigest: string, artifactType?: string): Promise<ReferrerRecord[]> {
    let q = this.db
      .selectFrom('manifests')
      .select(['digest', 'media_type', 'size', 'artifact_type', 'annotations'])
      .where('repository', '=', repository)
      .where('subject_digest', '=', subjectDigest)
      .orderBy('digest');
    if (artifactType !== undefined) q = q.where('artifact_type', '=', artifactType);
    const rows = await q.execute();
    return rows.map((r) => ({
      digest: r.digest,
      mediaType: r.media_type,
      size: toNumber(r.size),
      artifactType: r.artifact_type,
      annotations: parseAnnotations(r.annotations),
    }));
  }

  async ping(): Promise<void> {
    await this.db.selectFrom('repositories').select('name').limit(1).execute();
  }

  async close(): Promise<void> {
    await this.db.destroy();
  }
}
