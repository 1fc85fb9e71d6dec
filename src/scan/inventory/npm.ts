// npm packages: package.json of each installed module under node_modules, and the
// lockfileVersion 2/3 "packages" map of package-lock.json files outside node_modules.
import { type Extractor, type FoundPackage, MiB } from './extractor.js';

type Json = Record<string, unknown>;

function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function licenseOf(pkg: Json): string | undefined {
  const l = pkg['license'];
  if (typeof l === 'string' && l !== '') return l;
  if (isObject(l) && typeof l['type'] === 'string') return l['type'];
  return undefined;
}

function npmPackage(name: unknown, version: unknown, license?: string): FoundPackage | undefined {
  if (typeof name !== 'string' || typeof version !== 'string' || name === '' || version === '') return undefined;
  return { ecosystem: 'npm', name, version, ...(license ? { license } : {}) };
}

export function parsePackageJson(text: string): FoundPackage[] {
  const pkg: unknown = JSON.parse(text);
  if (!isObject(pkg)) return [];
  const found = npmPackage(pkg['name'], pkg['version'], licenseOf(pkg));
  return found ? [found] : [];
}

/** Lockfile v2/v3: every "node_modules/..." key is an installed package (links and the root project are not). */
export function parsePackageLock(text: string): FoundPackage[] {
  const lock: unknown = JSON.parse(text);
  if (!isObject(lock) || !isObject(lock['packages'])) return [];
  const packages: FoundPackage[] = [];
  for (const [key, entry] of Object.entries(lock['packages'])) {
    const at = key.lastIndexOf('node_modules/');
    if (at < 0 || !isObject(entry) || entry['link'] === true) continue;
    const name = typeof entry['name'] === 'string' ? entry['name'] : key.slice(at + 'node_modules/'.length);
    const found = npmPackage(name, entry['version'], licenseOf(entry));
    if (found) packages.push(found);
  }
  return packages;
}

const MODULE_MANIFEST = /(?:^|\/)node_modules\/(?:@[^/]+\/)?[^/@.][^/]*\/package\.json$/;
const LOCKFILE = /(?:^|\/)package-lock\.json$/;

export const npmPackageExtractor: Extractor = {
  name: 'npm-package',
  matches: (f) => MODULE_MANIFEST.test(f.path),
  maxBytes: 1 * MiB,
  extract: (data) => ({ packages: parsePackageJson(data.toString('utf8')) }),
};

export const npmLockExtractor: Extractor = {
  name: 'npm-lock',
  matches: (f) => LOCKFILE.test(f.path) && !f.path.includes('node_modules/'),
  maxBytes: 32 * MiB,
  extract: (data) => ({ packages: parsePackageLock(data.toString('utf8')) }),
};
