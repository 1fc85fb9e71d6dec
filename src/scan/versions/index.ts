// The version ordering of each OSV ecosystem the matcher knows, by the ecosystem's name
// (the part before the first ':' of an OSV ecosystem string: "Debian:12" -> Debian).
import * as alpine from './alpine.js';
import * as debian from './debian.js';
import * as go from './go.js';
import * as maven from './maven.js';
import * as pep440 from './pep440.js';
import * as rpm from './rpm.js';
import * as semver from './semver.js';

export interface VersionOrdering {
  /** Negative, zero or positive; may throw on a string that is not a version of the ecosystem. */
  compare(a: string, b: string): number;
  valid(version: string): boolean;
}

const ORDERINGS: Record<string, VersionOrdering> = {
  Debian: debian,
  Ubuntu: debian,
  Alpine: alpine,
  'Red Hat': rpm,
  'Rocky Linux': rpm,
  AlmaLinux: rpm,
  openSUSE: rpm,
  SUSE: rpm,
  Mageia: rpm,
  'Photon OS': rpm,
  npm: semver,
  Go: go,
  PyPI: pep440,
  Maven: maven,
};

export function ecosystemOrdering(ecosystem: string): VersionOrdering | undefined {
  const family = ecosystem.split(':', 1)[0]!;
  return ORDERINGS[family];
}

export { alpine, debian, go, maven, pep440, rpm, semver };
