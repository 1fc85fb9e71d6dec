// Debian and Ubuntu packages: var/lib/dpkg/status, and the one-stanza-per-package files
// distroless images keep in var/lib/dpkg/status.d/.
import { type Extractor, type FoundPackage, KiB, MiB } from './extractor.js';
import { parseStanzas } from './rfc822.js';

/** Binary packages that are installed (Status "<want> ok installed"; status.d stanzas have no Status). */
export function parseDpkgStatus(text: string): FoundPackage[] {
  const packages: FoundPackage[] = [];
  for (const s of parseStanzas(text)) {
    const name = s.get('package');
    const version = s.get('version');
    if (!name || !version) continue;
    const status = s.get('status');
    if (status !== undefined) {
      const [, flag, state] = status.split(/\s+/);
      if (flag !== 'ok' || state !== 'installed') continue;
    }
    const pkg: FoundPackage = { ecosystem: 'Debian', name, version };
    const arch = s.get('architecture');
    if (arch) pkg.arch = arch;
    const source = s.get('source');
    if (source) {
      // "Source: openssl" or "Source: glibc (2.36-9)" when the source version differs.
      const m = /^(\S+)(?:\s+\((\S+)\))?/.exec(source);
      if (m) {
        pkg.sourceName = m[1]!;
        pkg.sourceVersion = m[2] ?? version;
      }
    }
    packages.push(pkg);
  }
  return packages;
}

const STATUS_D = /^var\/lib\/dpkg\/status\.d\/[^/]+$/;

export const dpkgExtractor: Extractor = {
  name: 'dpkg',
  matches: (f) =>
    f.path === 'var/lib/dpkg/status' || (STATUS_D.test(f.path) && !f.path.endsWith('.md5sums') && f.size <= 256 * KiB),
  maxBytes: 32 * MiB,
  extract: (data) => ({ packages: parseDpkgStatus(data.toString('utf8')) }),
};
