// Go executables: the build info the linker embeds after the "\xff Go buildinf:" magic.
// Go >= 1.18 writes the version and module strings inline after the 32-byte header; older
// linkers wrote two pointers to Go string headers, resolved here through the ELF segments.
import { type Extractor, type FoundPackage, KiB, MiB } from './extractor.js';

const MAGIC = Buffer.from('\xff Go buildinf:', 'latin1');
const ELF_MAGIC = Buffer.from([0x7f, 0x45, 0x4c, 0x46]);
const FLAG_BIG_ENDIAN = 1;
const FLAG_INLINE = 2;

export interface GoModule {
  path: string;
  version: string;
}

export interface GoBuildInfo {
  goVersion: string;
  main?: GoModule;
  deps: GoModule[];
}

interface Segment {
  vaddr: number;
  offset: number;
  size: number;
}

/** PT_LOAD segments of an ELF file: how virtual addresses map to file offsets. */
function elfSegments(bin: Buffer): Segment[] {
  if (bin.length < 64 || !bin.subarray(0, 4).equals(ELF_MAGIC)) throw new Error('not an ELF file');
  const is64 = bin[4] === 2;
  const le = bin[5] === 1;
  const u16 = (at: number) => (le ? bin.readUInt16LE(at) : bin.readUInt16BE(at));
  const u32 = (at: number) => (le ? bin.readUInt32LE(at) : bin.readUInt32BE(at));
  const u64 = (at: number) => Number(le ? bin.readBigUInt64LE(at) : bin.readBigUInt64BE(at));
  const word = is64 ? u64 : u32;
  const phoff = is64 ? u64(32) : u32(28);
  const phentsize = u16(is64 ? 54 : 42);
  const phnum = u16(is64 ? 56 : 44);
  const segments: Segment[] = [];
  for (let i = 0; i < phnum; i++) {
    const at = phoff + i * phentsize;
    if (at + phentsize > bin.length || u32(at) !== 1 /* PT_LOAD */) continue;
    segments.push(
      is64
        ? { offset: word(at + 8), vaddr: word(at + 16), size: word(at + 32) }
        : { offset: word(at + 4), vaddr: word(at + 8), size: word(at + 16) },
    );
  }
  return segments;
}

function uvarint(buf: Buffer, at: number): [value: number, next: number] {
  let value = 0;
  let shift = 0;
  for (let i = at; i < buf.length && shift < 49; i++, shift += 7) {
    const b = buf[i]!;
    value += (b & 0x7f) * 2 ** shift;
    if (b < 0x80) return [value, i + 1];
  }
  throw new Error('go build info: bad varint');
}

/** The module text is wrapped in 16-byte sentinels that are not part of it. */
function stripSentinels(mod: Buffer): string {
  if (mod.length >= 33 && mod[mod.length - 17] === 0x0a) return mod.subarray(16, mod.length - 16).toString('utf8');
  return mod.toString('utf8');
}

export function parseGoModInfo(goVersion: string, modinfo: string): GoBuildInfo {
  const info: GoBuildInfo = { goVersion, deps: [] };
  let last: GoModule | undefined;
  for (const line of modinfo.split('\n')) {
    const [kind, path, version] = line.split('\t');
    if (!path) continue;
    if (kind === 'mod') info.main = last = { path, version: version ?? '' };
    else if (kind === 'dep') info.deps.push((last = { path, version: version ?? '' }));
    // A replaced dependency keeps its import path; the replacement's version is what is built.
    else if (kind === '=>' && last && version) last.version = version;
  }
  return info;
}

export function readGoBuildInfo(bin: Buffer): GoBuildInfo | undefined {
  const at = bin.indexOf(MAGIC);
  if (at < 0 || at + 32 > bin.length) return undefined;
  const ptrSize = bin[at + 14]!;
  const flags = bin[at + 15]!;
  if (flags & FLAG_INLINE) {
    const [vlen, vnext] = uvarint(bin, at + 32);
    const goVersion = bin.toString('utf8', vnext, vnext + vlen);
    const [mlen, mnext] = uvarint(bin, vnext + vlen);
    return parseGoModInfo(goVersion, stripSentinels(bin.subarray(mnext, mnext + mlen)));
  }
  if (ptrSize !== 4 && ptrSize !== 8) return undefined;
  const segments = elfSegments(bin);
  const be = (flags & FLAG_BIG_ENDIAN) !== 0;
  const readPtr = (off: number): number =>
    ptrSize === 8 ? Number(be ? bin.readBigUInt64BE(off) : bin.readBigUInt64LE(off)) : be ? bin.readUInt32BE(off) : bin.readUInt32LE(off);
  const offsetOf = (addr: number): number => {
    const s = segments.find((seg) => addr >= seg.vaddr && addr < seg.vaddr + seg.size);
    if (!s) throw new Error(`go build info: address 0x${addr.toString(16)} is outside the file`);
    return s.offset + (addr - s.vaddr);
  };
  // Each pointer leads to a Go string header {data pointer, length}.
  const readString = (addr: number): Buffer => {
    const header = offsetOf(addr);
    const data = offsetOf(readPtr(header));
    return bin.subarray(data, data + readPtr(header + ptrSize));
  };
  const goVersion = readString(readPtr(at + 16)).toString('utf8');
  return parseGoModInfo(goVersion, stripSentinels(readString(readPtr(at + 16 + ptrSize))));
}

/** "go1.21.5" (possibly followed by " X:boringcrypto") -> "v1.21.5", the form Go advisories use. */
export function stdlibVersion(goVersion: string): string {
  const v = goVersion.split(/\s/)[0]!;
  return v.startsWith('go') ? `v${v.slice(2)}` : v;
}

export function goPackages(info: GoBuildInfo): FoundPackage[] {
  const packages: FoundPackage[] = [];
  if (info.goVersion) packages.push({ ecosystem: 'Go', name: 'stdlib', version: stdlibVersion(info.goVersion) });
  for (const m of [...(info.main ? [info.main] : []), ...info.deps]) {
    packages.push({ ecosystem: 'Go', name: m.path, version: m.version });
  }
  return packages;
}

export const goBinaryExtractor: Extractor = {
  name: 'go-binary',
  // Executables of a size a Go program can have; shared libraries are not Go programs.
  matches: (f) => (f.mode & 0o111) !== 0 && f.size >= 64 * KiB && f.size <= 128 * MiB && !/\.so(\.\d+)*$/.test(f.path),
  maxBytes: 128 * MiB,
  magic: ELF_MAGIC,
  extract(data) {
    const info = readGoBuildInfo(data);
    return { packages: info ? goPackages(info) : [] };
  },
};
