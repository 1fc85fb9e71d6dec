// The OS release from etc/os-release (or usr/lib/os-release): shell-style KEY=value lines.
import type { OsRelease } from '../model.js';
import { type Extractor, KiB } from './extractor.js';

export const OS_RELEASE_PATHS = ['etc/os-release', 'usr/lib/os-release'] as const;

function unquote(raw: string): string {
  const v = raw.trim();
  if (v.length >= 2 && v[0] === '"' && v.endsWith('"')) return v.slice(1, -1).replace(/\\(["\\$`])/g, '$1');
  if (v.length >= 2 && v[0] === "'" && v.endsWith("'")) return v.slice(1, -1);
  return v;
}

export function parseOsRelease(text: string): OsRelease | undefined {
  const fields = new Map<string, string>();
  for (const line of text.split(/\r?\n/)) {
    const m = /^\s*([A-Z0-9_]+)=(.*)$/.exec(line);
    if (m) fields.set(m[1]!, unquote(m[2]!));
  }
  const id = fields.get('ID');
  if (!id) return undefined;
  const os: OsRelease = { id: id.toLowerCase() };
  const versionId = fields.get('VERSION_ID');
  if (versionId) os.versionId = versionId;
  const codename = fields.get('VERSION_CODENAME');
  if (codename) os.versionCodename = codename;
  const pretty = fields.get('PRETTY_NAME');
  if (pretty) os.prettyName = pretty;
  const like = fields.get('ID_LIKE');
  if (like) os.idLike = like.split(/\s+/).filter((s) => s !== '');
  return os;
}

export const osReleaseExtractor: Extractor = {
  name: 'os-release',
  matches: (f) => (OS_RELEASE_PATHS as readonly string[]).includes(f.path),
  maxBytes: 64 * KiB,
  extract(data) {
    const os = parseOsRelease(data.toString('utf8'));
    return os ? { os, packages: [] } : { packages: [] };
  },
};
