// Go module versions: semantic versions with a leading v (v1.2.3), pseudo-versions
// (v0.0.0-20240101120000-abcdef123456, v1.2.4-0.2024...: pre-releases, so they sort by time
// below the next tag), and +incompatible (build metadata, so v2.0.0+incompatible == v2.0.0).
// The standard library ("stdlib" in OSV) is versioned as Go releases: go1.21.3, go1.22rc1.
import * as semverOrder from './semver.js';

/** The version as OSV's Go database writes it: SemVer without the leading v. */
export function canonical(version: string): string | undefined {
  const v = version.trim();
  const release = /^go(\d+)(?:\.(\d+))?(?:\.(\d+))?(?:(alpha|beta|rc)(\d+))?$/.exec(v);
  if (release) {
    const [, major, minor = '0', patch = '0', pre, n] = release;
    return `${major}.${minor}.${patch}${pre ? `-${pre}.${n}` : ''}`;
  }
  if (!/^v?\d/.test(v)) return undefined;
  const parsed = semverOrder.parse(v);
  return parsed ? v.replace(/^v/, '') : undefined;
}

export function valid(version: string): boolean {
  return canonical(version) !== undefined;
}

/** Throws on a string that is not a Go module or release version. */
export function compare(a: string, b: string): number {
  const x = canonical(a);
  const y = canonical(b);
  if (x === undefined || y === undefined) throw new Error(`not a Go version: ${x === undefined ? a : b}`);
  return semverOrder.compare(x, y);
}
