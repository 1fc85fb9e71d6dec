// Semantic versions (SemVer 2.0: npm packages and OSV SEMVER ranges) through the `semver`
// package; build metadata does not take part in the order.
import semver from 'semver';

export function parse(version: string): semver.SemVer | null {
  return semver.parse(version.trim().replace(/^v(?=\d)/, ''), { loose: true });
}

export function valid(version: string): boolean {
  return parse(version) !== null;
}

/** Throws on a string that is not a semantic version. */
export function compare(a: string, b: string): number {
  const x = parse(a);
  const y = parse(b);
  if (!x || !y) throw new Error(`not a semantic version: ${x ? b : a}`);
  return x.compare(y);
}
