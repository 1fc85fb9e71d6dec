// The rpm database in its three on-disk formats, each reduced to its list of header blobs:
// rpmdb.sqlite (rpm >= 4.16 default), the BerkeleyDB hash file "Packages" (older images) and
// ndb "Packages.db" (openSUSE).
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { type Extractor, type FoundPackage, MiB } from './extractor.js';
import { rpmPackageFromHeader } from './rpm-header.js';

const SQLITE_MAGIC = Buffer.from('SQLite format 3\0', 'latin1');

/** better-sqlite3 opens files, so the database goes to a private temporary directory first. */
export async function sqliteHeaderBlobs(data: Buffer): Promise<Buffer[]> {
  const dir = await mkdtemp(join(tmpdir(), 'rpmdb-'));
  try {
    const file = join(dir, 'rpmdb.sqlite');
    await writeFile(file, data, { mode: 0o600 });
    const db = new Database(file, { fileMustExist: true });
    try {
      return (db.prepare('SELECT blob FROM Packages').all() as { blob: Buffer }[]).map((r) => r.blob);
    } finally {
      db.close();
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

// BerkeleyDB hash database: a meta page, then hash pages whose items alternate key, value;
// rpm headers are usually too big for a page and sit in chains of overflow pages.
const BDB_HASH_MAGIC = 0x061561;
const P_HASH_UNSORTED = 2;
const P_OVERFLOW = 7;
const P_HASH = 13;
const H_KEYDATA = 1;
const H_OFFPAGE = 3;
const PAGE_HEADER = 26;

export function isBerkeleyHash(data: Buffer): boolean {
  return data.length >= 512 && (data.readUInt32LE(12) === BDB_HASH_MAGIC || data.readUInt32BE(12) === BDB_HASH_MAGIC);
}

export function berkeleyHeaderBlobs(data: Buffer): Buffer[] {
  if (!isBerkeleyHash(data)) throw new Error('not a BerkeleyDB hash database');
  const le = data.readUInt32LE(12) === BDB_HASH_MAGIC;
  const u32 = (at: number) => (le ? data.readUInt32LE(at) : data.readUInt32BE(at));
  const u16 = (at: number) => (le ? data.readUInt16LE(at) : data.readUInt16BE(at));
  const pageSize = u32(20);
  const lastPage = u32(32);
  if (pageSize < 512 || pageSize > 65_536 || (lastPage + 1) * pageSize > data.length) throw new Error('BerkeleyDB: bad page size or truncated file');

  const overflow = (first: number, total: number): Buffer => {
    const parts: Buffer[] = [];
    let got = 0;
    for (let pg = first, hops = 0; pg !== 0 && got < total && hops <= lastPage; hops++) {
      const base = pg * pageSize;
      if (pg > lastPage || data[base + 25] !== P_OVERFLOW) throw new Error(`BerkeleyDB: page ${pg} is not an overflow page`);
      const used = Math.min(u16(base + 22), pageSize - PAGE_HEADER, total - got);
      parts.push(data.subarray(base + PAGE_HEADER, base + PAGE_HEADER + used));
      got += used;
      pg = u32(base + 16);
    }
    return Buffer.concat(parts);
  };

  const blobs: Buffer[] = [];
  for (let pg = 1; pg <= lastPage; pg++) {
    const base = pg * pageSize;
    const type = data[base + 25];
    if (type !== P_HASH && type !== P_HASH_UNSORTED) continue;
    const entries = u16(base + 20);
    const offsets = Array.from({ length: entries }, (_, i) => u16(base + PAGE_HEADER + 2 * i));
    // Items are laid out from the page end backwards: each ends where the one before it starts.
    for (let i = 1; i < entries; i += 2) {
      const at = base + offsets[i]!;
      if (data[at] === H_OFFPAGE) blobs.push(overflow(u32(at + 4), u32(at + 8)));
      else if (data[at] === H_KEYDATA) blobs.push(data.subarray(at + 1, base + offsets[i - 1]!));
    }
  }
  return blobs;
}

// ndb: a header (magic "RpmP"), slot pages of 16-byte slots (magic "Slot", package index,
// block offset, block count) and blobs of 16-byte blocks, each with a 16-byte blob header
// (magic "BlbS", package index, checksum, length). Little-endian.
const NDB_MAGIC = Buffer.from('RpmP', 'latin1');
const NDB_SLOT_MAGIC = 0x746f6c53; // "Slot"
const NDB_BLOB_MAGIC = 0x53626c42; // "BlbS"
const NDB_SLOTS_PER_PAGE = 4096 / 16;

export function isNdb(data: Buffer): boolean {
  return data.length >= 32 && data.subarray(0, 4).equals(NDB_MAGIC);
}

export function ndbHeaderBlobs(data: Buffer): Buffer[] {
  if (!isNdb(data)) throw new Error('not an ndb Packages.db');
  const slotPages = data.readUInt32LE(12);
  // The file header takes the first two slots of the first page.
  const slots = Math.min(slotPages * NDB_SLOTS_PER_PAGE - 2, Math.floor((data.length - 32) / 16));
  const blobs: Buffer[] = [];
  for (let i = 0; i < slots; i++) {
    const at = 32 + i * 16;
    if (data.readUInt32LE(at) !== NDB_SLOT_MAGIC) continue;
    const pkgIndex = data.readUInt32LE(at + 4);
    const blockOffset = data.readUInt32LE(at + 8);
    if (pkgIndex === 0) continue;
    const blobAt = blockOffset * 16;
    if (blobAt + 16 > data.length || data.readUInt32LE(blobAt) !== NDB_BLOB_MAGIC || data.readUInt32LE(blobAt + 4) !== pkgIndex) continue;
    const len = data.readUInt32LE(blobAt + 12);
    if (blobAt + 16 + len > data.length) continue;
    blobs.push(data.subarray(blobAt + 16, blobAt + 16 + len));
  }
  return blobs;
}

/** The header blobs of an rpmdb in any of the three formats, told apart by their magic. */
export async function rpmdbHeaderBlobs(data: Buffer): Promise<Buffer[]> {
  if (data.subarray(0, SQLITE_MAGIC.length).equals(SQLITE_MAGIC)) return sqliteHeaderBlobs(data);
  if (isNdb(data)) return ndbHeaderBlobs(data);
  if (isBerkeleyHash(data)) return berkeleyHeaderBlobs(data);
  throw new Error('unknown rpmdb format (expected SQLite, BerkeleyDB hash or ndb)');
}

export async function parseRpmdb(data: Buffer): Promise<FoundPackage[]> {
  const packages: FoundPackage[] = [];
  for (const blob of await rpmdbHeaderBlobs(data)) {
    // Records that are not headers (BerkeleyDB keeps a counter under key 0) are skipped.
    let pkg: FoundPackage | undefined;
    try {
      pkg = rpmPackageFromHeader(blob);
    } catch {
      continue;
    }
    if (pkg) packages.push(pkg);
  }
  return packages;
}

const RPMDB = /^(?:var\/lib\/rpm|usr\/lib\/sysimage\/rpm)\/(?:rpmdb\.sqlite|Packages|Packages\.db)$/;

export const rpmExtractor: Extractor = {
  name: 'rpm',
  matches: (f) => RPMDB.test(f.path),
  maxBytes: 64 * MiB,
  extract: async (data) => ({ packages: await parseRpmdb(data) }),
};
