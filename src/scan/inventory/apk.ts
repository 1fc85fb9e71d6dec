// Alpine packages: lib/apk/db/installed, blank-line separated records of "X:value" lines.
import { type Extractor, type FoundPackage, MiB } from './extractor.js';

export function parseApkInstalled(text: string): FoundPackage[] {
  const packages: FoundPackage[] = [];
  for (const block of text.split(/\r?\n\r?\n/)) {
    const f = new Map<string, string>();
    for (const line of block.split(/\r?\n/)) {
      // Fields repeat for files (F:, R:, ...); the package fields come once, first.
      if (line.length >= 2 && line[1] === ':' && !f.has(line[0]!)) f.set(line[0]!, line.slice(2));
    }
    const name = f.get('P');
    const version = f.get('V');
    if (!name || !version) continue;
    const pkg: FoundPackage = { ecosystem: 'Alpine', name, version };
    const arch = f.get('A');
    if (arch) pkg.arch = arch;
    const license = f.get('L');
    if (license) pkg.license = license;
    const origin = f.get('o');
    if (origin) {
      pkg.sourceName = origin;
      pkg.sourceVersion = version;
    }
    packages.push(pkg);
  }
  return packages;
}

export const apkExtractor: Extractor = {
  name: 'apk',
  matches: (f) => f.path === 'lib/apk/db/installed',
  maxBytes: 32 * MiB,
  extract: (data) => ({ packages: parseApkInstalled(data.toString('utf8')) }),
};
