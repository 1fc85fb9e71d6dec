// `registry restore`: a backup onto an empty registry, on either metadata dialect and either
// blob store. Everything that can be checked is checked before anything is written (format,
// migrations, checksums, emptiness); blobs then go in through the store's upload path (staged,
// hashed, committed under their digest) and the rows in one transaction. When anything fails,
// the blobs already committed are deleted again, so the registry is left as empty as it was.
import { createHash, randomBytes } from 'node:crypto';
import { sql, type Kysely, type Transaction } from 'kysely';
import { migrationProvider, type SqlDialect } from '../metadata/migrations/index.js';
import type { Database } from '../metadata/schema.js';
import type { SqlMetadataStore } from '../metadata/sql-store.js';
import type { BlobStore } from '../storage/blob-store.js';
import { parseDigest, type Digest } from '../registry/digest.js';
import { insertionOrder, readCatalog, type TableInfo } from './catalog.js';
import { forEachLimited, readManifest, tableRows, type BackupManifest, type TableEntry } from './format.js';
import { BlobMismatchError, type BackupTarget } from './target.js';

/** Rows a registry writes for itself at its first start (secrets); the backup's replace them. */
const REPLACED_TABLES: ReadonlySet<string> = new Set(['settings']);
/** Rows that are no data: a registry that has only collected garbage (an empty store) is empty. */
const BOOKKEEPING_TABLES: ReadonlySet<string> = new Set(['gc_scans']);

/** Parameters per INSERT statement, well below SQLite's and PostgreSQL's limits. */
const PARAMS_PER_INSERT = 2000;

/** The backup cannot be restored here; nothing was changed. */
export class RestoreRefusedError extends Error {}

export interface RestoreOptions {
  onProgress?: (phase: string, done: number, total?: number) => void;
  /**
   * Blobs restored at once (default 16): the upload path is several requests per blob on S3,
   * so restores are bound by latency, not bandwidth (bench: 60 small blobs onto the test S3
   * server, 8.2 s at 4, 5.0 s at 16).
   */
  concurrency?: number;
}

export interface RestoreReport {
  source: string;
  /** The dialect the backup was taken from, and the one restored onto. */
  from: SqlDialect;
  to: SqlDialect;
  migrations: string[];
  tables: { name: string; rows: number }[];
  blobs: number;
  blobBytes: number;
  durationMs: number;
}

export async function runRestore(store: SqlMetadataStore, blobs: BlobStore, target: BackupTarget, options: RestoreOptions = {}): Promise<RestoreReport> {
  const started = Date.now();
  const progress = options.onProgress ?? (() => undefined);
  const { db, dialect } = store.connection();
  const manifest = await readManifest(target).catch((err: Error) => {
    throw new RestoreRefusedError(err.message);
  });
  await assertEmpty(db, dialect, blobs);
  await checkBackup(manifest, target, dialect, progress);

  await store.migrate();
  const catalog = new Map((await readCatalog(db, dialect)).map((t) => [t.name, t]));
  for (const table of manifest.tables) {
    const here = catalog.get(table.name);
    const missing = here ? table.columns.filter((c) => !here.columns.some((h) => h.name === c.name)).map((c) => c.name) : [];
    if (!here || missing.length) throw new RestoreRefusedError(`the backup's table ${table.name}${here ? ` (columns ${missing.join(', ')})` : ''} does not exist in this registry's schema`);
  }

  const committed: Digest[] = [];
  try {
    const blobTable = manifest.tables.find((t) => t.name === 'blobs');
    if (!blobTable) throw new RestoreRefusedError('the backup has no blobs table');
    let done = 0;
    progress('blobs', 0, blobTable.rows);
    await forEachLimited(tableRows(target, blobTable, dialect), options.concurrency ?? 16, async (row) => {
      const digest = parseDigest(String(row['digest']));
      await restoreBlob(blobs, target, digest, Number(row['size']));
      committed.push(digest);
      progress('blobs', ++done, blobTable.rows);
    });
    await db.transaction().execute(async (trx) => {
      let rows = 0;
      for (const table of insertionOrder(manifest.tables)) {
        if (REPLACED_TABLES.has(table.name)) await trx.deleteFrom(table.name as 'settings').execute();
        await insertRows(trx, table, target, dialect, () => progress('metadata rows', ++rows));
      }
      if (dialect === 'postgres') for (const table of catalog.values()) await advanceIdentities(trx, table);
    });
  } catch (err) {
    progress('undoing', 0);
    for (const digest of committed) await blobs.delete(digest);
    throw err;
  }
  return {
    source: target.location,
    from: manifest.dialect,
    to: dialect,
    migrations: manifest.migrations,
    tables: manifest.tables.map((t) => ({ name: t.name, rows: t.rows })),
    blobs: manifest.blobs.count,
    blobBytes: manifest.blobs.bytes,
    durationMs: Date.now() - started,
  };
}

/** Refuse an incomplete backup, one from a newer version, or one whose files do not match their checksums. */
async function checkBackup(manifest: BackupManifest, target: BackupTarget, dialect: SqlDialect, progress: (phase: string, done: number, total?: number) => void): Promise<void> {
  if (!manifest.complete) {
    const list = manifest.missingBlobs.slice(0, 5).map((m) => `${m.digest} (${m.problem})`).join(', ');
    throw new RestoreRefusedError(`the backup is incomplete: ${manifest.missingBlobs.length} blob(s) could not be copied: ${list}; take a new backup`);
  }
  const known = new Set(Object.keys(await migrationProvider(dialect).getMigrations()));
  const unknown = manifest.migrations.filter((m) => !known.has(m));
  if (unknown.length) throw new RestoreRefusedError(`the backup was made by a newer version: migrations ${unknown.join(', ')} are unknown to this one`);
  let checked = 0;
  for (const table of manifest.tables) {
    const { sha256, lines } = await fileDigest(target, table);
    if (sha256 !== table.sha256) throw new RestoreRefusedError(`${table.file}: checksum mismatch (the file was changed after the backup)`);
    if (lines !== table.rows) throw new RestoreRefusedError(`${table.file}: ${lines} rows, the manifest says ${table.rows}`);
    progress('checking', ++checked, manifest.tables.length);
  }
}

async function fileDigest(target: BackupTarget, table: TableEntry): Promise<{ sha256: string; lines: number }> {
  const body = await target.readFile(table.file);
  if (!body) throw new RestoreRefusedError(`the backup has no ${table.file}`);
  const hash = createHash('sha256');
  let lines = 0;
  for await (const chunk of body) {
    const bytes = chunk as Buffer;
    hash.update(bytes);
    for (let i = bytes.indexOf(10); i !== -1; i = bytes.indexOf(10, i + 1)) lines++;
  }
  return { sha256: hash.digest('hex'), lines };
}

/** Restore only onto a registry with no data: merging two registries is not what restore does. */
async function assertEmpty(db: Kysely<Database>, dialect: SqlDialect, blobs: BlobStore): Promise<void> {
  for (const table of await readCatalog(db, dialect)) {
    if (REPLACED_TABLES.has(table.name) || BOOKKEEPING_TABLES.has(table.name)) continue;
    const row = await sql<{ one: number }>`select 1 as one from ${sql.table(table.name)} limit 1`.execute(db);
    if (row.rows.length) throw new RestoreRefusedError(`the registry is not empty (table ${table.name} has rows): restore only onto an empty registry`);
  }
  for await (const blob of blobs.listBlobs()) {
    throw new RestoreRefusedError(`the registry is not empty (the blob store holds ${blob.digest}): restore only onto an empty registry`);
  }
}

/** A blob through the store's upload path: staged, hashed while it streams, committed only when the digest matches. */
async function restoreBlob(blobs: BlobStore, target: BackupTarget, digest: Digest, size: number): Promise<void> {
  const id = `restore-${randomBytes(12).toString('hex')}`;
  await blobs.createUpload(id);
  try {
    const hash = createHash(digest.algorithm);
    const written = await blobs.appendUpload(id, 0, await target.readBlob(digest), (chunk) => hash.update(chunk));
    const actual = `${digest.algorithm}:${hash.digest('hex')}`;
    if (actual !== digest.value) throw new BlobMismatchError(digest.value, actual);
    if (written !== size) throw new RestoreRefusedError(`blob ${digest.value}: ${written} bytes in the backup, the metadata says ${size}`);
    await blobs.commitUpload(id, written, digest);
  } catch (err) {
    await blobs.abortUpload(id).catch(() => undefined);
    if (err instanceof BlobMismatchError) throw new RestoreRefusedError(`the backup's ${err.message} (the blob was changed after the backup)`);
    throw err;
  }
}

type AnyTables = Record<string, Record<string, unknown>>;

async function insertRows(trx: Transaction<Database>, table: TableEntry, target: BackupTarget, dialect: SqlDialect, onRow: () => void): Promise<void> {
  const db = trx as unknown as Kysely<AnyTables>;
  const perInsert = Math.max(1, Math.floor(PARAMS_PER_INSERT / table.columns.length));
  let batch: Record<string, unknown>[] = [];
  const flush = async () => {
    if (batch.length) await db.insertInto(table.name).values(batch).execute();
    batch = [];
  };
  for await (const row of tableRows(target, table, dialect)) {
    batch.push(row);
    onRow();
    if (batch.length >= perInsert) await flush();
  }
  await flush();
}

/** Rows came with their ids: move each identity sequence past the largest one. */
async function advanceIdentities(trx: Transaction<Database>, table: TableInfo): Promise<void> {
  for (const column of table.identity) {
    await sql`select setval(pg_get_serial_sequence(${table.name}, ${column}), coalesce((select max(${sql.ref(column)}) from ${sql.table(table.name)}), 0) + 1, false)`.execute(trx);
  }
}
