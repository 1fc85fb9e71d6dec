// Package URLs (https://github.com/package-url/purl-spec) for inventory records; OS packages
// need the image's OS release for their namespace and distro qualifier.
import { PackageURL } from 'packageurl-js';
import type { Ecosystem, OsRelease } from '../model.js';
import type { FoundPackage } from './extractor.js';

/** dpkg records are Debian's unless the OS says Ubuntu (or a derivative of it). */
export function dpkgEcosystem(os: OsRelease | undefined): Ecosystem {
  return os?.id === 'ubuntu' || os?.idLike?.includes('ubuntu') ? 'Ubuntu' : 'Debian';
}

function distro(os: OsRelease | undefined): Record<string, string> {
  return os?.versionId ? { distro: `${os.id}-${os.versionId}` } : os ? { distro: os.id } : {};
}

/** Splits "a/b/c" into namespace "a/b" and name "c" (npm scopes, Go module paths, Maven group:artifact). */
function split(name: string, sep: string): [namespace: string | undefined, name: string] {
  const at = name.lastIndexOf(sep);
  return at > 0 ? [name.slice(0, at), name.slice(at + 1)] : [undefined, name];
}

export function packagePurl(pkg: FoundPackage, os: OsRelease | undefined): string {
  const arch: Record<string, string> = pkg.arch ? { arch: pkg.arch } : {};
  switch (pkg.ecosystem) {
    case 'Debian':
    case 'Ubuntu':
      return new PackageURL('deb', pkg.ecosystem.toLowerCase(), pkg.name, pkg.version, { ...arch, ...distro(os) }).toString();
    case 'Alpine':
      return new PackageURL('apk', os?.id ?? 'alpine', pkg.name, pkg.version, { ...arch, ...distro(os) }).toString();
    case 'RPM': {
      // The rpm purl type carries the epoch as a qualifier, not in the version.
      const m = /^(\d+):(.*)$/.exec(pkg.version);
      const epoch: Record<string, string> = m ? { epoch: m[1]! } : {};
      return new PackageURL('rpm', os?.id ?? null, pkg.name, m ? m[2]! : pkg.version, { ...arch, ...distro(os), ...epoch }).toString();
    }
    case 'npm': {
      const [scope, name] = pkg.name.startsWith('@') ? split(pkg.name, '/') : [undefined, pkg.name];
      return new PackageURL('npm', scope ?? null, name, pkg.version).toString();
    }
    case 'PyPI':
      return new PackageURL('pypi', null, pkg.name, pkg.version).toString();
    case 'Go': {
      const [namespace, name] = split(pkg.name, '/');
      // A main module built outside version control reports "(devel)", which is no version.
      const version = pkg.version === '(devel)' || pkg.version === '' ? null : pkg.version;
      return new PackageURL('golang', namespace ?? null, name, version).toString();
    }
    case 'Maven': {
      const [group, artifact] = split(pkg.name, ':');
      return new PackageURL('maven', group ?? null, artifact, pkg.version).toString();
    }
  }
}
