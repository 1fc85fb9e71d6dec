// The layout of a backup: backup.json (written last: without it there is no backup) names the
// migrations the metadata was at, and per table its columns, row count and checksum;
// metadata/<table>.jsonl holds one JSON array of values per row; blobs/ the blob bytes.
import { createInterface } from 'node:readline';
import type { SqlDialect } from '../metadata/migrations/index.js';
import { decodeRow, type ColumnInfo } from './catalog.js';
import type { BackupTarget } from './target.js';

export const MANIFEST_FILE = 'backup.json';
export const FORMAT = 'oci-registry-backup';
export const FORMAT_VERSION = 1;

export interface TableEntry {
  name: string;
  file: string;
  columns: ColumnInfo[];
  rows: number;
  /** sha256 of the file's bytes, hex. */
  sha256: string;
  /** Tables this one references (restore inserts them first). */
  parents: string[];
}

export interface BackupManifest {
  format: typeof FORMAT;
  version: number;
  createdAt: string;
  /** Where the metadata came from (restore works onto either dialect). */
  dialect: SqlDialect;
  migrations: string[];
  tables: TableEntry[];
  blobs: { count: number; bytes: number };
  /** False when blobs the snapshot records could not be copied (listed in `missingBlobs`). */
  complete: boolean;
  missingBlobs: { digest: string; problem: string }[];
}

export function tableFile(table: string): string {
  return `metadata/${table}.jsonl`;
}

/** Read backup.json, or explain why this is not a backup this version can read. */
export async function readManifest(target: BackupTarget): Promise<BackupManifest> {
  const body = await target.readFile(MANIFEST_FILE);
  if (!body) throw new Error(`${target.location} holds no ${MANIFEST_FILE}: not a backup, or one that did not finish`);
  const chunks: Buffer[] = [];
  for await (const chunk of body) chunks.push(Buffer.from(chunk as Buffer));
  let manifest: BackupManifest;
  try {
    manifest = JSON.parse(Buffer.concat(chunks).toString('utf8')) as BackupManifest;
  } catch {
    throw new Error(`${target.location}/${MANIFEST_FILE} is not valid JSON`);
  }
  if (manifest.format !== FORMAT || manifest.version !== FORMAT_VERSION || !Array.isArray(manifest.tables) || !Array.isArray(manifest.migrations)) {
    throw new Error(`${target.location}/${MANIFEST_FILE} is not a backup of format ${FORMAT} version ${FORMAT_VERSION}`);
  }
  return manifest;
}

/** The raw lines of a table's file, as stored. */
export async function* tableLines(target: BackupTarget, table: TableEntry): AsyncGenerator<string> {
  const body = await target.readFile(table.file);
  if (!body) throw new Error(`the backup has no ${table.file}`);
  for await (const line of createInterface({ input: body, crlfDelay: Infinity })) {
    if (line !== '') yield line;
  }
}

/** A table's rows read back, as values for `dialect`'s driver. */
export async function* tableRows(target: BackupTarget, table: TableEntry, dialect: SqlDialect): AsyncGenerator<Record<string, unknown>> {
  for await (const line of tableLines(target, table)) yield decodeRow(table.columns, JSON.parse(line) as never, dialect);
}

/** Run `fn` over the items with at most `limit` at a time. */
export async function forEachLimited<T>(items: AsyncIterable<T>, limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  const running = new Set<Promise<void>>();
  let failure: unknown;
  for await (const item of items) {
    if (failure) break;
    const p: Promise<void> = fn(item)
      .catch((err: unknown) => {
        failure ??= err;
      })
      .finally(() => running.delete(p));
    running.add(p);
    if (running.size >= limit) await Promise.race(running);
  }
  await Promise.all(running);
  if (failure) throw failure;
}
