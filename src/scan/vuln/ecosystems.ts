// Where an installed package is looked up in OSV: the ecosystem family, which of the family's
// ecosystem strings apply to the image's OS release ("Debian:12", "Ubuntu:22.04:LTS",
// "Alpine:v3.19", "Red Hat:enterprise_linux:9::appstream", ...), the names advisories use for
// it (OS advisories name source packages) and the version to compare.
import type { InstalledPackage, OsRelease } from '../model.js';
import { ecosystemOrdering, type VersionOrdering } from '../versions/index.js';
import { normalizePypiName } from './osv.js';

export interface MatchTarget {
  pkg: InstalledPackage;
  /** The OSV ecosystem name without suffix: Debian, Ubuntu, Alpine, Red Hat, npm, ... */
  family: string;
  /** Whether an advisory's affected[].package.ecosystem covers this image. */
  accepts(ecosystem: string): boolean;
  /** Lookup names (see lookupName), most specific first. */
  names: string[];
  /** The version compared with the advisory's ranges. */
  version: string;
  ordering: VersionOrdering;
}

/** Ubuntu releases are named "YY.MM", with ":LTS" for long-term-support ones (even years' .04). */
export function ubuntuEcosystem(os: OsRelease): string | undefined {
  const m = /^(\d+)\.(\d+)/.exec(os.versionId ?? '');
  if (!m) return undefined;
  const lts = os.prettyName !== undefined ? /\bLTS\b/.test(os.prettyName) : Number(m[1]) % 2 === 0 && m[2] === '04';
  return `Ubuntu:${m[1]}.${m[2]}${lts ? ':LTS' : ''}`;
}

const major = (os: OsRelease | undefined): string | undefined => /^\d+/.exec(os?.versionId ?? '')?.[0];

/** The binary package of a source RPM file name: bash-5.1.8-6.el9.src.rpm -> bash. */
export function sourceRpmName(source: string): string {
  const m = /^(.+)-[^-]+-[^-]+\.(?:src|nosrc)\.rpm$/.exec(source);
  return m ? m[1]! : source;
}

/** RPM distributions OSV covers, by os-release ID: the family and the ecosystems that apply. */
function rpmEcosystem(os: OsRelease | undefined): { family: string; accepts(e: string): boolean; binaryNames: boolean } | undefined {
  if (!os) return undefined;
  const id = os.id.toLowerCase();
  const release = major(os);
  const scoped = (family: string) => ({ family, binaryNames: false, accepts: (e: string) => e === family || (release !== undefined && e === `${family}:${release}`) });
  const exact = (family: string, suffix: string | undefined) => ({ family, binaryNames: false, accepts: (e: string) => suffix !== undefined && e === `${family}:${suffix}` });
  switch (id) {
    case 'rhel':
      // "Red Hat:<CPE without cpe:/o:redhat:>", e.g. enterprise_linux:9::baseos: the main
      // streams of the image's major release. Red Hat advisories name binary or source RPMs.
      return {
        family: 'Red Hat',
        binaryNames: true,
        accepts: (e) => {
          const [family, product, version] = e.split(':');
          return family === 'Red Hat' && product === 'enterprise_linux' && release !== undefined && (version === release || version?.startsWith(`${release}.`) === true);
        },
      };
    case 'rocky':
      return scoped('Rocky Linux');
    case 'almalinux':
      return scoped('AlmaLinux');
    case 'opensuse-leap':
    case 'opensuse-tumbleweed':
    case 'opensuse':
      return exact('openSUSE', os.prettyName);
    case 'sles':
    case 'sled':
    case 'sle-micro':
      return exact('SUSE', os.prettyName);
    case 'mageia':
      return exact('Mageia', os.versionId);
    case 'photon':
      return exact('Photon OS', os.versionId);
    default:
      return undefined;
  }
}

function target(pkg: InstalledPackage, family: string, accepts: (e: string) => boolean, names: string[], version: string): MatchTarget | undefined {
  const ordering = ecosystemOrdering(family);
  if (!ordering) return undefined;
  return { pkg, family, accepts, names: [...new Set(names)], version, ordering };
}

/** How to look the package up, or undefined when OSV has no ecosystem for it (or its OS). */
export function matchTarget(pkg: InstalledPackage, os: OsRelease | undefined): MatchTarget | undefined {
  const source = pkg.sourceName || pkg.name;
  switch (pkg.ecosystem) {
    case 'Debian': {
      const debianLike = os !== undefined && (os.id === 'debian' || (os.idLike ?? []).includes('debian'));
      const release = debianLike ? (major(os) ?? os.versionCodename) : undefined;
      return target(pkg, 'Debian', (e) => e === 'Debian' || (release !== undefined && e === `Debian:${release}`), [source], pkg.sourceVersion || pkg.version);
    }
    case 'Ubuntu': {
      const ecosystem = os ? ubuntuEcosystem(os) : undefined;
      if (!ecosystem) return undefined;
      return target(pkg, 'Ubuntu', (e) => e === ecosystem, [source], pkg.sourceVersion || pkg.version);
    }
    case 'Alpine': {
      const m = /^(\d+)\.(\d+)/.exec(os?.versionId ?? '');
      if (!m) return undefined;
      const ecosystem = `Alpine:v${m[1]}.${m[2]}`;
      return target(pkg, 'Alpine', (e) => e === ecosystem, [source], pkg.version);
    }
    case 'RPM': {
      const rpm = rpmEcosystem(os);
      if (!rpm) return undefined;
      const sourceName = pkg.sourceName ? sourceRpmName(pkg.sourceName) : pkg.name;
      return target(pkg, rpm.family, rpm.accepts, rpm.binaryNames ? [sourceName, pkg.name] : [sourceName], pkg.version);
    }
    case 'npm':
      return target(pkg, 'npm', (e) => e === 'npm', [pkg.name], pkg.version);
    case 'PyPI':
      return target(pkg, 'PyPI', (e) => e === 'PyPI', [normalizePypiName(pkg.name)], pkg.version);
    case 'Go':
      return target(pkg, 'Go', (e) => e === 'Go', [pkg.name], pkg.version);
    case 'Maven':
      // "Maven" is Maven Central; "Maven:<repository URL>" others, with the same coordinates.
      return target(pkg, 'Maven', (e) => e === 'Maven' || e.startsWith('Maven:'), [pkg.name], pkg.version);
  }
}
