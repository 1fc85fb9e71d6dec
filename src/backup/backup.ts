// `registry backup`: a consistent snapshot of every metadata table, taken in one read
// transaction while the registry keeps writing, then the bytes of every blob that snapshot
// records. Blobs are immutable and content addressed, so copying them after the snapshot is
// safe; the one race left is garbage collection deleting a blob between the two, which the
// backup reports (it is then marked incomplete) instead of hiding.
import { createHash } from 'node:crypto';
import { sql, type Kysely, type Transaction } from 'kysely';
import type { SqlMetadataStore } from '../metadata/sql-store.js';
import type { Database } from '../metadata/schema.js';
import type { BlobStore } from '../storage/blob-store.js';
import { parseDigest } from '../registry/digest.js';
import { appliedMigrations, encodeRow, readCatalog, type TableInfo } from './catalog.js';
import { FORMAT, FORMAT_VERSION, MANIFEST_FILE, forEachLimited, tableFile, tableRows, type BackupManifest, type TableEntry } from './format.js';
import { BlobMismatchError, type BackupTarget } from './target.js';

/**
 * Tables whose rows are not carried: upload sessions point at staged bytes a backup does not
 * hold (clients restart such uploads); when garbage collection last listed the blob store is
 * about that store, not the data. Their tables still exist after a restore.
 */
export const TRANSIENT_TABLES: ReadonlySet<string> = new Set(['uploads', 'gc_scans']);

/** Rows per page of a dump, adapted to the rows' size so a page stays around PAGE_BYTES. */
const PAGE_ROWS = { first: 100, min: 1, max: 2000 };
const PAGE_BYTES = 4 * 1024 * 1024;

export interface BackupOptions {
  onProgress?: (phase: string, done: number, total?: number) => void;
  /** Blobs copied at once (default 8). */
  concurrency?: number;
}

export interface BackupReport {
  target: string;
  complete: boolean;
  migrations: string[];
  tables: { name: string; rows: number }[];
  blobs: number;
  blobBytes: number;
  /** Blobs copied this time; the others were in the target already. */
  blobsCopied: number;
  bytesCopied: number;
  missingBlobs: { digest: string; problem: string }[];
  durationMs: number;
}

export async function runBackup(store: SqlMetadataStore, blobs: BlobStore, target: BackupTarget, options: BackupOptions = {}): Promise<BackupReport> {
  const started = Date.now();
  const progress = options.onProgress ?? (() => undefined);
  // The old manifest goes first: a backup interrupted from here on is no backup at all,
  // rather than old metadata checksums over files being rewritten.
  await target.removeFile(MANIFEST_FILE);
  const { db, dialect } = store.connection();
  const snapshot = await inReadSnapshot(db, dialect, async (trx) => {
    const migrations = await appliedMigrations(trx);
    const tables: TableEntry[] = [];
    let rowsDone = 0;
    for (const table of await readCatalog(trx, dialect)) {
      if (TRANSIENT_TABLES.has(table.name)) continue;
      tables.push(await dumpTable(trx, table, target, () => progress('metadata rows', ++rowsDone)));
    }
    return { migrations, tables };
  });

  const blobTable = snapshot.tables.find((t) => t.name === 'blobs');
  if (!blobTable) throw new Error('backup: the database has no blobs table');
  let count = 0;
  let bytes = 0;
  let copied = 0;
  let bytesCopied = 0;
  const missing: { digest: string; problem: string }[] = [];
  progress('blobs', 0, blobTable.rows);
  await forEachLimited(tableRows(target, blobTable, dialect), options.concurrency ?? 8, async (row) => {
    const digest = parseDigest(String(row['digest']));
    const size = Number(row['size']);
    count++;
    bytes += size;
    const problem = await copyBlob(blobs, target, digest, size);
    if (problem === 'copied') {
      copied++;
      bytesCopied += size;
    } else if (problem !== 'present') missing.push({ digest: digest.value, problem });
    progress('blobs', count, blobTable.rows);
  });

  const manifest: BackupManifest = {
    format: FORMAT,
    version: FORMAT_VERSION,
    createdAt: new Date(started).toISOString(),
    dialect,
    migrations: snapshot.migrations,
    tables: snapshot.tables,
    blobs: { count, bytes },
    complete: missing.length === 0,
    missingBlobs: missing,
  };
  await target.writeFile(MANIFEST_FILE, [JSON.stringify(manifest, null, 2) + '\n']);
  return {
    target: target.location,
    complete: manifest.complete,
    migrations: manifest.migrations,
    tables: snapshot.tables.map((t) => ({ name: t.name, rows: t.rows })),
    blobs: count,
    blobBytes: bytes,
    blobsCopied: copied,
    bytesCopied,
    missingBlobs: missing,
    durationMs: Date.now() - started,
  };
}

/**
 * Run `fn` in one read transaction that sees a single point in time. SQLite in WAL mode: a
 * read transaction on this process's own connection keeps its snapshot while the server
 * commits; PostgreSQL: REPEATABLE READ.
 */
async function inReadSnapshot<T>(db: Kysely<Database>, dialect: string, fn: (trx: Transaction<Database>) => Promise<T>): Promise<T> {
  if (dialect === 'postgres') return db.transaction().setIsolationLevel('repeatable read').setAccessMode('read only').execute(fn);
  return db.transaction().execute(fn);
}

/** Write one table to its file, page by page in primary key order; returns its manifest entry. */
async function dumpTable(trx: Transaction<Database>, table: TableInfo, target: BackupTarget, onRow: () => void): Promise<TableEntry> {
  if (table.primaryKey.length === 0) throw new Error(`backup: table ${table.name} has no primary key, which backup needs to page through it`);
  const hash = createHash('sha256');
  let rows = 0;
  // Integers as text: better-sqlite3 rounds those beyond 2^53 to the nearest double.
  const columns = sql.join(table.columns.map((c) => (c.kind === 'integer' ? sql`cast(${sql.ref(c.name)} as text) as ${sql.ref(c.name)}` : sql.ref(c.name))));
  // Qualified: the bare names would be the text aliases above in ORDER BY (both dialects).
  const key = sql.join(table.primaryKey.map((c) => sql.ref(`${table.name}.${c}`)));
  async function* lines(): AsyncGenerator<string> {
    let after: unknown[] | undefined;
    let limit = PAGE_ROWS.first;
    for (;;) {
      const page = await sql<Record<string, unknown>>`select ${columns} from ${sql.table(table.name)}
        ${after ? sql`where (${key}) > (${sql.join(after)})` : sql``} order by ${key} limit ${limit}`.execute(trx);
      let pageBytes = 0;
      for (const row of page.rows) {
        const line = JSON.stringify(encodeRow(table.columns, row)) + '\n';
        hash.update(line);
        pageBytes += line.length;
        rows++;
        onRow();
        yield line;
      }
      if (page.rows.length < limit) return;
      const last = page.rows[page.rows.length - 1]!;
      after = table.primaryKey.map((c) => last[c]);
      // Large rows (manifests, scan inventories): fewer per page, so memory stays bounded.
      limit = pageBytes > PAGE_BYTES ? Math.max(PAGE_ROWS.min, Math.floor(limit / 2)) : Math.min(PAGE_ROWS.max, limit * 2);
    }
  }
  const file = tableFile(table.name);
  await target.writeFile(file, lines());
  return { name: table.name, file, columns: table.columns, rows, sha256: hash.digest('hex'), parents: table.parents };
}

/** Copy one blob unless the target has it; 'copied', 'present', or what went wrong. */
async function copyBlob(blobs: BlobStore, target: BackupTarget, digest: ReturnType<typeof parseDigest>, size: number): Promise<string> {
  if ((await target.blobSize(digest)) === size) return 'present';
  const stat = await blobs.stat(digest);
  if (!stat) return 'not in the blob store (deleted by garbage collection after the snapshot?)';
  try {
    await target.writeBlob(digest, await blobs.read(digest));
  } catch (err) {
    if (err instanceof BlobMismatchError) return `stored bytes hash to ${err.actual} (run registry scrub)`;
    if ((err as { code?: string }).code === 'BLOB_UNKNOWN') return 'not in the blob store (deleted by garbage collection after the snapshot?)';
    throw err;
  }
  return 'copied';
}
