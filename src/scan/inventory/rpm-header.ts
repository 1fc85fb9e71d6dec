// The RPM header binary format as the rpmdb stores it: a count of index entries and the
// data length (big-endian int32s), 16-byte index entries (tag, type, offset, count), then
// the data store the offsets point into.
import type { FoundPackage } from './extractor.js';

const TAG = { NAME: 1000, VERSION: 1001, RELEASE: 1002, EPOCH: 1003, LICENSE: 1014, ARCH: 1022, SOURCERPM: 1044 } as const;
const TYPE = { INT32: 4, STRING: 6, STRING_ARRAY: 8, I18NSTRING: 9 } as const;
const MAX_ENTRIES = 65_536;

interface HeaderEntry {
  type: number;
  offset: number;
  count: number;
}

export function readRpmHeader(blob: Buffer): Map<number, string | number> {
  if (blob.length < 8) throw new Error('rpm header: too short');
  const il = blob.readUInt32BE(0);
  const dl = blob.readUInt32BE(4);
  const dataStart = 8 + il * 16;
  if (il > MAX_ENTRIES || dataStart + dl > blob.length) throw new Error('rpm header: index or data beyond the blob');
  const entries = new Map<number, HeaderEntry>();
  for (let i = 0; i < il; i++) {
    const at = 8 + i * 16;
    entries.set(blob.readInt32BE(at), { type: blob.readUInt32BE(at + 4), offset: blob.readInt32BE(at + 8), count: blob.readUInt32BE(at + 12) });
  }
  const values = new Map<number, string | number>();
  for (const tag of Object.values(TAG)) {
    const e = entries.get(tag);
    if (!e || e.offset < 0 || e.offset >= dl) continue;
    const at = dataStart + e.offset;
    if (e.type === TYPE.INT32 && e.offset + 4 <= dl) values.set(tag, blob.readInt32BE(at));
    else if (e.type === TYPE.STRING || e.type === TYPE.STRING_ARRAY || e.type === TYPE.I18NSTRING) {
      const end = blob.indexOf(0, at);
      values.set(tag, blob.toString('utf8', at, end < 0 || end > dataStart + dl ? dataStart + dl : end));
    }
  }
  return values;
}

/** "bash-5.1.8-6.el9.src.rpm" -> name bash, version 5.1.8, release 6.el9. */
export function parseSourceRpm(file: string): { name: string; version: string; release: string } | undefined {
  const m = /^(.+)-([^-]+)-([^-]+)\.(?:no)?src\.rpm$/.exec(file);
  return m ? { name: m[1]!, version: m[2]!, release: m[3]! } : undefined;
}

/** One package from one header blob; undefined for pseudo-packages (gpg-pubkey) and blobs without a name. */
export function rpmPackageFromHeader(blob: Buffer): FoundPackage | undefined {
  const h = readRpmHeader(blob);
  const name = h.get(TAG.NAME);
  const version = h.get(TAG.VERSION);
  const release = h.get(TAG.RELEASE);
  if (typeof name !== 'string' || typeof version !== 'string' || name === 'gpg-pubkey') return undefined;
  const epoch = h.get(TAG.EPOCH);
  const epochPrefix = typeof epoch === 'number' ? `${epoch}:` : '';
  const pkg: FoundPackage = {
    ecosystem: 'RPM',
    name,
    version: `${epochPrefix}${version}${typeof release === 'string' ? `-${release}` : ''}`,
  };
  const arch = h.get(TAG.ARCH);
  if (typeof arch === 'string' && arch !== '') pkg.arch = arch;
  const license = h.get(TAG.LICENSE);
  if (typeof license === 'string' && license !== '') pkg.license = license;
  const srpm = h.get(TAG.SOURCERPM);
  const source = typeof srpm === 'string' ? parseSourceRpm(srpm) : undefined;
  if (source) {
    pkg.sourceName = source.name;
    pkg.sourceVersion = `${epochPrefix}${source.version}-${source.release}`;
  }
  return pkg;
}
