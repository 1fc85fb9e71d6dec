// What a backup needs to know about the metadata tables, read from the database catalog (not a
// hand-kept list, so a table another migration adds is dumped too), and how rows are written
// to and read back from a dialect-neutral JSON line.
import { sql, type Kysely } from 'kysely';
import type { SqlDialect } from '../metadata/migrations/index.js';
import type { Database } from '../metadata/schema.js';

/** How a column's values are written: bytes as base64, integers as numbers, text as is. */
export type ColumnKind = 'bytes' | 'integer' | 'text';

export interface ColumnInfo {
  name: string;
  kind: ColumnKind;
}

export interface TableInfo {
  name: string;
  columns: ColumnInfo[];
  /** Primary key columns in key order (the dump pages through the table by them). */
  primaryKey: string[];
  /** Tables this one references by foreign key (restore inserts those first). */
  parents: string[];
  /** Identity columns (PostgreSQL): their sequences are moved past the restored ids. */
  identity: string[];
}

/** Kysely's own bookkeeping: the backup names the migrations applied instead. */
const MIGRATION_TABLES = new Set(['kysely_migration', 'kysely_migration_lock']);

export function columnKind(table: string, column: string, declared: string): ColumnKind {
  const type = declared.toLowerCase();
  if (type === 'blob' || type === 'bytea') return 'bytes';
  if (/^(integer|bigint|smallint|int\d?)$/.test(type)) return 'integer';
  if (/^(text|varchar\(\d+\)|character varying|character|char\(\d+\))$/.test(type)) return 'text';
  // A type this code has never seen: refuse rather than write values it may not read back.
  throw new Error(`backup: column ${table}.${column} has type ${declared}, which backup and restore do not know how to carry`);
}

type Db = Kysely<Database>;

async function rows<T>(db: Db, query: ReturnType<typeof sql<T>>): Promise<T[]> {
  return (await query.execute(db)).rows;
}

/** Every registry table of the database, sorted by name, with its columns and keys. */
export async function readCatalog(db: Db, dialect: SqlDialect): Promise<TableInfo[]> {
  return dialect === 'postgres' ? postgresCatalog(db) : sqliteCatalog(db);
}

async function sqliteCatalog(db: Db): Promise<TableInfo[]> {
  const names = await rows<{ name: string }>(db, sql`select name from sqlite_master where type = 'table' and name not like 'sqlite_%' order by name`);
  const tables: TableInfo[] = [];
  for (const { name } of names) {
    if (MIGRATION_TABLES.has(name)) continue;
    const cols = await rows<{ name: string; type: string; pk: number }>(db, sql`select name, type, pk from pragma_table_info(${name}) order by cid`);
    const fks = await rows<{ parent: string }>(db, sql`select distinct "table" as parent from pragma_foreign_key_list(${name})`);
    tables.push({
      name,
      columns: cols.map((c) => ({ name: c.name, kind: columnKind(name, c.name, c.type) })),
      primaryKey: cols.filter((c) => c.pk > 0).sort((a, b) => a.pk - b.pk).map((c) => c.name),
      parents: fks.map((f) => f.parent).filter((p) => p !== name),
      identity: [],
    });
  }
  return tables;
}

async function postgresCatalog(db: Db): Promise<TableInfo[]> {
  const names = await rows<{ name: string }>(
    db,
    sql`select table_name as name from information_schema.tables where table_schema = current_schema() and table_type = 'BASE TABLE' order by table_name`,
  );
  const tables: TableInfo[] = [];
  for (const { name } of names) {
    if (MIGRATION_TABLES.has(name)) continue;
    const cols = await rows<{ name: string; type: string; is_identity: string }>(
      db,
      sql`select column_name as name, data_type as type, is_identity from information_schema.columns
          where table_schema = current_schema() and table_name = ${name} order by ordinal_position`,
    );
    const pk = await rows<{ name: string }>(
      db,
      sql`select a.attname as name from pg_index i join pg_attribute a on a.attrelid = i.indrelid and a.attnum = any(i.indkey)
          where i.indrelid = to_regclass(quote_ident(${name})) and i.indisprimary order by array_position(i.indkey::int2[], a.attnum)`,
    );
    const fks = await rows<{ parent: string }>(
      db,
      sql`select distinct c.relname as parent from pg_constraint k join pg_class c on c.oid = k.confrelid
          where k.contype = 'f' and k.conrelid = to_regclass(quote_ident(${name}))`,
    );
    tables.push({
      name,
      columns: cols.map((c) => ({ name: c.name, kind: columnKind(name, c.name, c.type) })),
      primaryKey: pk.map((c) => c.name),
      parents: fks.map((f) => f.parent).filter((p) => p !== name),
      identity: cols.filter((c) => c.is_identity === 'YES').map((c) => c.name),
    });
  }
  return tables;
}

/** Names of the migrations the database has had, oldest first. */
export async function appliedMigrations(db: Db): Promise<string[]> {
  return (await rows<{ name: string }>(db, sql`select name from kysely_migration order by name`)).map((r) => r.name);
}

/** Tables in an order where every table comes after the tables it references. */
export function insertionOrder<T extends { name: string; parents: string[] }>(tables: T[]): T[] {
  const byName = new Map(tables.map((t) => [t.name, t]));
  const done = new Set<string>();
  const visiting = new Set<string>();
  const out: T[] = [];
  const visit = (t: T) => {
    if (done.has(t.name)) return;
    if (visiting.has(t.name)) throw new Error(`restore: foreign keys form a cycle through table ${t.name}`);
    visiting.add(t.name);
    for (const p of t.parents) {
      const parent = byName.get(p);
      if (parent) visit(parent);
    }
    visiting.delete(t.name);
    done.add(t.name);
    out.push(t);
  };
  for (const t of tables) visit(t);
  return out;
}

type JsonValue = string | number | null;

/** One row as the JSON array of its values, in column order. */
export function encodeRow(columns: ColumnInfo[], row: Record<string, unknown>): JsonValue[] {
  return columns.map((c) => {
    const v = row[c.name];
    if (v === null || v === undefined) return null;
    if (c.kind === 'bytes') return Buffer.from(v as Uint8Array).toString('base64');
    if (c.kind === 'integer') {
      // PostgreSQL returns bigint as a string; beyond 2^53 it stays one, exactly.
      const n = typeof v === 'number' ? v : Number(v);
      return Number.isSafeInteger(n) ? n : String(v);
    }
    return String(v);
  });
}

/** A row read back from its JSON array, as values the dialect's driver takes. */
export function decodeRow(columns: ColumnInfo[], values: JsonValue[], dialect: SqlDialect): Record<string, unknown> {
  if (!Array.isArray(values) || values.length !== columns.length) throw new Error(`restore: a row has ${Array.isArray(values) ? values.length : 'no'} values, expected ${columns.length}`);
  const row: Record<string, unknown> = {};
  columns.forEach((c, i) => {
    const v = values[i];
    if (v === null || v === undefined) row[c.name] = null;
    else if (c.kind === 'bytes') row[c.name] = Buffer.from(String(v), 'base64');
    else if (c.kind === 'integer' && typeof v === 'string') row[c.name] = dialect === 'sqlite' ? BigInt(v) : v;
    else row[c.name] = v;
  });
  return row;
}
