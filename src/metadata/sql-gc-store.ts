// The queries of garbage collection and scrub, written once for SQLite and PostgreSQL.
//
// Every delete re-checks its condition in the statement that deletes, so a collection never
// acts on what it listed a moment ago, and several collectors may run at once (a row already
// gone is simply not counted). On SQLite a statement runs under the database's single write
// lock; on PostgreSQL the row is first locked FOR UPDATE, so the deleting statement (with a
// fresh snapshot, READ COMMITTED) sees whatever a concurrent push committed meanwhile: pushes
// lock the rows they depend on FOR SHARE (see SqlMetadataStore.putManifest).
import { sql, type Kysely, type Transaction } from 'kysely';
import type { SqlDialect } from './migrations/index.js';
import { toNumber, type Database } from './schema.js';

type Db = Kysely<Database> | Transaction<Database>;

export interface LinkRow {
  repository: string;
  digest: string;
}

export interface BlobRow {
  digest: string;
  size: number;
}

export interface ManifestRow {
  repository: string;
  digest: string;
  size: number;
}

export interface BrokenReference {
  digest: string;
  kind: 'blob' | 'manifest';
}

export class SqlGcStore {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly dialect: SqlDialect,
  ) {}

  private get pg(): boolean {
    return this.dialect === 'postgres';
  }

  // --- links -----------------------------------------------------------------------------

  /** Links older than `cutoff` that no manifest of their repository references (keyset paged). */
  async collectableLinks(cutoff: number, limit: number, after?: LinkRow): Promise<LinkRow[]> {
    let q = this.db
      .selectFrom('repository_blobs as rb')
      .select(['rb.repository', 'rb.digest'])
      .where('rb.created_at', '<', cutoff)
      .where((eb) =>
        eb.not(
          eb.exists(
            eb
              .selectFrom('manifest_references as mr')
              .select(sql`1`.as('one'))
              .whereRef('mr.repository', '=', 'rb.repository')
              .whereRef('mr.child_digest', '=', 'rb.digest')
              .where('mr.kind', '=', 'blob'),
          ),
        ),
      )
      .orderBy('rb.digest')
      .orderBy('rb.repository')
      .limit(limit);
    if (after) q = q.where((eb) => eb.or([eb('rb.digest', '>', after.digest), eb.and([eb('rb.digest', '=', after.digest), eb('rb.repository', '>', after.repository)])]));
    return q.execute();
  }

  /** Remove the link when it is still collectable; true when this call removed it. */
  async unlinkIfCollectable(link: LinkRow, cutoff: number): Promise<boolean> {
    return this.db.transaction().execute(async (trx) => {
      if (this.pg) {
        const locked = await trx
          .selectFrom('repository_blobs')
          .select('digest')
          .where('repository', '=', link.repository)
          .where('digest', '=', link.digest)
          .forUpdate()
          .executeTakeFirst();
        if (!locked) return false;
      }
      const result = await trx
        .deleteFrom('repository_blobs')
        .where('repository', '=', link.repository)
        .where('digest', '=', link.digest)
        .where('created_at', '<', cutoff)
        .where((eb) =>
          eb.not(
            eb.exists(
              eb
                .selectFrom('manifest_references')
                .select(sql`1`.as('one'))
                .where('manifest_references.repository', '=', link.repository)
                .where('manifest_references.child_digest', '=', link.digest)
                .where('manifest_references.kind', '=', 'blob'),
            ),
          ),
        )
        .executeTakeFirst();
      return Number(result.numDeletedRows) > 0;
    });
  }

  // --- blobs -----------------------------------------------------------------------------

  /** Blobs no repository links (and no live collector is deleting), keyset paged by digest. */
  async unlinkedBlobs(now: number, limit: number, after?: string): Promise<BlobRow[]> {
    let q = this.db
      .selectFrom('blobs')
      .select(['digest', 'size'])
      .where((eb) => eb.or([eb('deleting', 'is', null), eb('deleting_until', '<', now)]))
      .where((eb) => eb.not(eb.exists(eb.selectFrom('repository_blobs').select(sql`1`.as('one')).whereRef('repository_blobs.digest', '=', 'blobs.digest'))))
      .orderBy('digest')
      .limit(limit);
    if (after !== undefined) q = q.where('digest', '>', after);
    return (await q.execute()).map((r) => ({ digest: r.digest, size: toNumber(r.size) }));
  }

  /**
   * Blobs a collection with this cutoff would delete: every link collectable (or none left).
   * For dry runs; ignores manifests the same run would delete first.
   */
  async collectableBlobs(cutoff: number, now: number, limit: number, after?: string): Promise<BlobRow[]> {
    let q = this.db
      .selectFrom('blobs')
      .select(['digest', 'size'])
      .where((eb) => eb.or([eb('deleting', 'is', null), eb('deleting_until', '<', now)]))
      .where((eb) =>
        eb.not(
          eb.exists(
            eb
              .selectFrom('repository_blobs as rb')
              .select(sql`1`.as('one'))
              .whereRef('rb.digest', '=', 'blobs.digest')
              .where((e2) =>
                e2.or([
                  e2('rb.created_at', '>=', cutoff),
                  e2.exists(
                    e2
                      .selectFrom('manifest_references as mr')
                      .select(sql`1`.as('one'))
                      .whereRef('mr.repository', '=', 'rb.repository')
                      .whereRef('mr.child_digest', '=', 'rb.digest')
                      .where('mr.kind', '=', 'blob'),
                  ),
                ]),
              ),
          ),
        ),
      )
      .orderBy('digest')
      .limit(limit);
    if (after !== undefined) q = q.where('digest', '>', after);
    return (await q.execute()).map((r) => ({ digest: r.digest, size: toNumber(r.size) }));
  }

  /**
   * Claim an unlinked blob for deletion: record `token` and a lease on its row, only when no
   * repository links it and no live collector claimed it. While claimed, pushes of the blob
   * wait (reserveBlobLink) and mounts of it fall back to an upload. With `force` (quarantine)
   * every link is removed first. Returns the blob's size when claimed.
   */
  async claimForDeletion(digest: string, token: string, leaseMs: number, options: { force?: boolean } = {}): Promise<number | undefined> {
    const now = Date.now();
    return this.db.transaction().execute(async (trx) => {
      // On SQLite the first statement is a write, so the transaction holds the write lock
      // throughout; on PostgreSQL the row is locked before the conditions are checked.
      if (options.force) await trx.deleteFrom('repository_blobs').where('digest', '=', digest).execute();
      if (this.pg && !(await this.lockBlob(trx, digest))) return undefined;
      const result = await trx
        .updateTable('blobs')
        .set({ deleting: token, deleting_until: now + leaseMs })
        .where('digest', '=', digest)
        .where((eb) => eb.or([eb('deleting', 'is', null), eb('deleting_until', '<', now)]))
        .where((eb) => eb.not(eb.exists(eb.selectFrom('repository_blobs').select(sql`1`.as('one')).whereRef('repository_blobs.digest', '=', 'blobs.digest'))))
        .executeTakeFirst();
      if (Number(result.numUpdatedRows) === 0) return undefined;
      return (await this.lockBlob(trx, digest))?.size;
    });
  }

  /**
   * Claim stored bytes that no blob record names (a crash between storing and recording them):
   * the row is inserted already claimed, only while none exists, so a push of the same digest
   * waits for the deletion as it does for any claimed blob. True when claimed.
   */
  async claimUnrecorded(digest: string, size: number, token: string, leaseMs: number): Promise<boolean> {
    const now = Date.now();
    const result = await this.db
      .insertInto('blobs')
      .values({ digest, size, created_at: now, deleting: token, deleting_until: now + leaseMs })
      .onConflict((oc) => oc.column('digest').doNothing())
      .executeTakeFirst();
    return Number(result.numInsertedOrUpdatedRows ?? 0) > 0;
  }

  private async lockBlob(trx: Db, digest: string): Promise<BlobRow | undefined> {
    const row = await trx
      .selectFrom('blobs')
      .select(['digest', 'size'])
      .where('digest', '=', digest)
      .$if(this.pg, (q) => q.forUpdate())
      .executeTakeFirst();
    return row ? { digest: row.digest, size: toNumber(row.size) } : undefined;
  }

  /** Whether this collector's claim still holds (its lease has not run out). */
  async claimHolds(digest: string, token: string): Promise<boolean> {
    const row = await this.db.selectFrom('blobs').select('deleting_until').where('digest', '=', digest).where('deleting', '=', token).executeTakeFirst();
    return row !== undefined && toNumber(row.deleting_until ?? 0) > Date.now();
  }

  /** Forget a claimed blob once its bytes are gone; false when a push took it back meanwhile. */
  async finishDeletion(digest: string, token: string): Promise<boolean> {
    const result = await this.db.deleteFrom('blobs').where('digest', '=', digest).where('deleting', '=', token).executeTakeFirst();
    return Number(result.numDeletedRows) > 0;
  }

  /** Give a claim back (the bytes could not be deleted). */
  async releaseClaim(digest: string, token: string): Promise<void> {
    await this.db.updateTable('blobs').set({ deleting: null, deleting_until: null }).where('digest', '=', digest).where('deleting', '=', token).execute();
  }

  /** Every recorded blob (scrub), keyset paged by digest. */
  async listBlobs(limit: number, after?: string): Promise<BlobRow[]> {
    let q = this.db.selectFrom('blobs').select(['digest', 'size']).where('deleting', 'is', null).orderBy('digest').limit(limit);
    if (after !== undefined) q = q.where('digest', '>', after);
    return (await q.execute()).map((r) => ({ digest: r.digest, size: toNumber(r.size) }));
  }

  /** Of these digests, those with a blob record (scrub: bytes without one are orphans). */
  async recordedBlobs(digests: string[]): Promise<Set<string>> {
    if (digests.length === 0) return new Set();
    const rows = await this.db.selectFrom('blobs').select('digest').where('digest', 'in', digests).execute();
    return new Set(rows.map((r) => r.digest));
  }

  // --- listings of the blob store ---------------------------------------------------------

  /**
   * Claim the listing `name` when the last one started at or before `dueBefore` (or never):
   * true when this call claimed it, recording `now` as its start. Atomic, so of the collectors
   * sharing this database that find it due at the same moment, one lists.
   */
  async claimScan(name: string, now: number, dueBefore: number): Promise<boolean> {
    const result = await this.db
      .insertInto('gc_scans')
      .values({ name, started_at: now })
      .onConflict((oc) => oc.column('name').doUpdateSet({ started_at: now }).where('gc_scans.started_at', '<=', dueBefore))
      .executeTakeFirst();
    return Number(result.numInsertedOrUpdatedRows ?? 0) > 0;
  }

  /** Give up a claim (the listing failed): the next collection finds the listing due. */
  async releaseScan(name: string, startedAt: number): Promise<void> {
    await this.db.updateTable('gc_scans').set({ started_at: 0 }).where('name', '=', name).where('started_at', '=', startedAt).execute();
  }

  /** When the last listing `name` started (epoch ms), if one ever did. */
  async scanStartedAt(name: string): Promise<number | undefined> {
    const row = await this.db.selectFrom('gc_scans').select('started_at').where('name', '=', name).executeTakeFirst();
    return row ? toNumber(row.started_at) : undefined;
  }

  async countBlobs(): Promise<number> {
    const row = await this.db.selectFrom('blobs').select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow();
    return toNumber(row.n as number | string);
  }

  // --- manifests -------------------------------------------------------------------------

  /**
   * Manifests older than `cutoff` that no tag points at, no index of their repository lists,
   * and that are not referrers of a manifest still present.
   */
  async untaggedManifests(cutoff: number, limit: number, after?: LinkRow): Promise<ManifestRow[]> {
    let q = this.db
      .selectFrom('manifests as m')
      .select(['m.repository', 'm.digest', 'm.size'])
      .where('m.created_at', '<', cutoff)
      .where((eb) => eb.not(eb.exists(eb.selectFrom('tags as t').select(sql`1`.as('one')).whereRef('t.repository', '=', 'm.repository').whereRef('t.manifest_digest', '=', 'm.digest'))))
      .where((eb) =>
        eb.not(
          eb.exists(
            eb
              .selectFrom('manifest_references as r')
              .select(sql`1`.as('one'))
              .whereRef('r.repository', '=', 'm.repository')
              .whereRef('r.child_digest', '=', 'm.digest')
              .where('r.kind', '=', 'manifest'),
          ),
        ),
      )
      .where((eb) =>
        eb.or([
          eb('m.subject_digest', 'is', null),
          eb.not(eb.exists(eb.selectFrom('manifests as s').select(sql`1`.as('one')).whereRef('s.repository', '=', 'm.repository').whereRef('s.digest', '=', 'm.subject_digest'))),
        ]),
      )
      .orderBy('m.digest')
      .orderBy('m.repository')
      .limit(limit);
    if (after) q = q.where((eb) => eb.or([eb('m.digest', '>', after.digest), eb.and([eb('m.digest', '=', after.digest), eb('m.repository', '>', after.repository)])]));
    return (await q.execute()).map((r) => ({ repository: r.repository, digest: r.digest, size: toNumber(r.size) }));
  }

  /** Delete the manifest when it is still untagged and unreferenced; true when this call did. */
  async deleteManifestIfCollectable(m: LinkRow, cutoff: number): Promise<boolean> {
    return this.db.transaction().execute(async (trx) => {
      if (this.pg) {
        const locked = await trx.selectFrom('manifests').select('digest').where('repository', '=', m.repository).where('digest', '=', m.digest).forUpdate().executeTakeFirst();
        if (!locked) return false;
      }
      const result = await trx
        .deleteFrom('manifests')
        .where('manifests.repository', '=', m.repository)
        .where('manifests.digest', '=', m.digest)
        .where('manifests.created_at', '<', cutoff)
        .where((eb) => eb.not(eb.exists(eb.selectFrom('tags').select(sql`1`.as('one')).where('tags.repository', '=', m.repository).where('tags.manifest_digest', '=', m.digest))))
        .where((eb) =>
          eb.not(
            eb.exists(
              eb
                .selectFrom('manifest_references')
                .select(sql`1`.as('one'))
                .where('manifest_references.repository', '=', m.repository)
                .where('manifest_references.child_digest', '=', m.digest)
                .where('manifest_references.kind', '=', 'manifest'),
            ),
          ),
        )
        .executeTakeFirst();
      const deleted = Number(result.numDeletedRows) > 0;
      // Its references go with it (also cascaded; explicit for databases without FK enforcement).
      if (deleted) await trx.deleteFrom('manifest_references').where('repository', '=', m.repository).where('manifest_digest', '=', m.digest).execute();
      return deleted;
    });
  }

  /** Every manifest (scrub), keyset paged. */
  async listManifests(limit: number, after?: LinkRow): Promise<ManifestRow[]> {
    let q = this.db.selectFrom('manifests').select(['repository', 'digest', 'size']).orderBy('digest').orderBy('repository').limit(limit);
    if (after) q = q.where((eb) => eb.or([eb('digest', '>', after.digest), eb.and([eb('digest', '=', after.digest), eb('repository', '>', after.repository)])]));
    return (await q.execute()).map((r) => ({ repository: r.repository, digest: r.digest, size: toNumber(r.size) }));
  }

  async countManifests(): Promise<number> {
    const row = await this.db.selectFrom('manifests').select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow();
    return toNumber(row.n as number | string);
  }

  /** References of the manifest that point at nothing: unlinked blobs, absent child manifests. */
  async brokenReferences(m: LinkRow): Promise<BrokenReference[]> {
    const refs = await this.db
      .selectFrom('manifest_references as r')
      .leftJoin('repository_blobs as rb', (j) => j.onRef('rb.repository', '=', 'r.repository').onRef('rb.digest', '=', 'r.child_digest'))
      .leftJoin('blobs as b', 'b.digest', 'rb.digest')
      .leftJoin('manifests as c', (j) => j.onRef('c.repository', '=', 'r.repository').onRef('c.digest', '=', 'r.child_digest'))
      .select(['r.child_digest', 'r.kind', 'b.digest as blob', 'b.deleting as deleting', 'c.digest as child'])
      .where('r.repository', '=', m.repository)
      .where('r.manifest_digest', '=', m.digest)
      .execute();
    const broken: BrokenReference[] = [];
    for (const r of refs) {
      if (r.kind === 'blob' && (r.blob === null || r.deleting !== null)) broken.push({ digest: r.child_digest, kind: 'blob' });
      if (r.kind === 'manifest' && r.child === null) broken.push({ digest: r.child_digest, kind: 'manifest' });
    }
    return broken;
  }
}
