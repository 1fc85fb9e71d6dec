// Package URLs (https://github.com/package-url/purl-spec) for inventory records; OS packages
// need the image's OS release for their namespace and distro qualifier.
import type { Ecosystem, OsRelease } from '../model.js';
import type { FoundPackage } from './extractor.js';

/** Percent-encodes all but the purl spec's unencoded set: letters, digits, ".-_~" and ":". */
function encode(s: string): string {
  return encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`).replace(/%3A/g, ':');
}

export interface PurlParts {
  type: string;
  namespace?: string | undefined;
  name: string;
  version?: string | null | undefined;
  qualifiers?: Record<string, string>;
}

/** pkg:type/namespace/name@version?qualifiers, each part encoded, qualifiers sorted by key and empty ones left out. */
export function formatPurl(p: PurlParts): string {
  const namespace = p.namespace ? `${p.namespace.split('/').filter((s) => s !== '').map(encode).join('/')}/` : '';
  const version = p.version ? `@${encode(p.version)}` : '';
  const qualifiers = Object.entries(p.qualifiers ?? {})
    .filter(([, v]) => v !== '')
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([k, v]) => `${k.toLowerCase()}=${encode(v)}`)
    .join('&');
  return `pkg:${p.type.toLowerCase()}/${namespace}${encode(p.name)}${version}${qualifiers ? `?${qualifiers}` : ''}`;
}

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
      return formatPurl({ type: 'deb', namespace: pkg.ecosystem.toLowerCase(), name: pkg.name, version: pkg.version, qualifiers: { ...arch, ...distro(os) } });
    case 'Alpine':
      return formatPurl({ type: 'apk', namespace: os?.id ?? 'alpine', name: pkg.name, version: pkg.version, qualifiers: { ...arch, ...distro(os) } });
    case 'RPM': {
      // The rpm purl type carries the epoch as a qualifier, not in the version.
      const m = /^(\d+):(.*)$/.exec(pkg.version);
      const epoch: Record<string, string> = m ? { epoch: m[1]! } : {};
      return formatPurl({ type: 'rpm', namespace: os?.id, name: pkg.name, version: m ? m[2]! : pkg.version, qualifiers: { ...arch, ...distro(os), ...epoch } });
    }
    case 'npm': {
      const [scope, name] = pkg.name.startsWith('@') ? split(pkg.name, '/') : [undefined, pkg.name];
      return formatPurl({ type: 'npm', namespace: scope?.toLowerCase(), name: name.toLowerCase(), version: pkg.version });
    }
    case 'PyPI':
      // The pypi type normalizes names: lower case, "_" as "-".
      return formatPurl({ type: 'pypi', name: pkg.name.toLowerCase().replace(/_/g, '-'), version: pkg.version });
    case 'Go': {
      const [namespace, name] = split(pkg.name, '/');
      // A main module built outside version control reports "(devel)", which is no version.
      return formatPurl({ type: 'golang', namespace, name, version: pkg.version === '(devel)' ? null : pkg.version });
    }
    case 'Maven': {
      const [group, artifact] = split(pkg.name, ':');
      return formatPurl({ type: 'maven', namespace: group, name: artifact, version: pkg.version });
    }
  }
}
