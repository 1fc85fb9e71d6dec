// RPM package versions ([epoch:]version-release) ordered as rpm orders them: epochs
// numerically (none is 0), then version and release with rpmvercmp: runs of digits and runs of
// letters compared in turn (digits numerically and newer than letters), other characters only
// separate; `~` sorts before everything, even the end (pre-releases); `^` sorts after the end
// but before any further segment (snapshots after a release).
import { compareDigits, sign } from './digits.js';

export interface RpmVersion {
  epoch: number;
  version: string;
  /** undefined when the string has no release. */
  release?: string;
}

export function parse(evr: string): RpmVersion {
  const v = evr.trim();
  const colon = v.indexOf(':');
  const hasEpoch = colon > 0 && /^\d+$/.test(v.slice(0, colon));
  const rest = hasEpoch ? v.slice(colon + 1) : v;
  const dash = rest.lastIndexOf('-');
  return {
    epoch: hasEpoch ? Number(v.slice(0, colon)) : 0,
    version: dash >= 0 ? rest.slice(0, dash) : rest,
    ...(dash >= 0 ? { release: rest.slice(dash + 1) } : {}),
  };
}

export function valid(evr: string): boolean {
  return /^(?:\d+:)?[A-Za-z0-9._+~^]+(?:-[A-Za-z0-9._+~^]+)?$/.test(evr.trim());
}

const isAlnum = (c: string | undefined): boolean => c !== undefined && /[A-Za-z0-9]/.test(c);
const isDigit = (c: string | undefined): boolean => c !== undefined && c >= '0' && c <= '9';
const isAlpha = (c: string | undefined): boolean => c !== undefined && /[A-Za-z]/.test(c);

/** rpm's rpmvercmp on one version or release string. */
export function rpmvercmp(a: string, b: string): number {
  if (a === b) return 0;
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    while (i < a.length && !isAlnum(a[i]) && a[i] !== '~' && a[i] !== '^') i++;
    while (j < b.length && !isAlnum(b[j]) && b[j] !== '~' && b[j] !== '^') j++;
    if (a[i] === '~' || b[j] === '~') {
      if (a[i] !== '~') return 1;
      if (b[j] !== '~') return -1;
      i++;
      j++;
      continue;
    }
    if (a[i] === '^' || b[j] === '^') {
      if (i >= a.length) return -1;
      if (j >= b.length) return 1;
      if (a[i] !== '^') return 1;
      if (b[j] !== '^') return -1;
      i++;
      j++;
      continue;
    }
    if (i >= a.length || j >= b.length) break;
    const numeric = isDigit(a[i]);
    const inRun = numeric ? isDigit : isAlpha;
    let ea = i;
    while (inRun(a[ea])) ea++;
    let eb = j;
    while (inRun(b[eb])) eb++;
    // Segments of different kinds: the numeric one is newer.
    if (eb === j) return numeric ? 1 : -1;
    const sa = a.slice(i, ea);
    const sb = b.slice(j, eb);
    const c = numeric ? compareDigits(sa, sb) : sa < sb ? -1 : sa > sb ? 1 : 0;
    if (c !== 0) return c;
    i = ea;
    j = eb;
  }
  if (i >= a.length && j >= b.length) return 0;
  return i >= a.length ? -1 : 1;
}

export function compare(a: string, b: string): number {
  const x = parse(a);
  const y = parse(b);
  if (x.epoch !== y.epoch) return sign(x.epoch - y.epoch);
  const c = rpmvercmp(x.version, y.version);
  if (c !== 0) return c;
  // rpm compares releases only when both sides have one (a bare version matches any release).
  if (x.release === undefined || y.release === undefined) return 0;
  return rpmvercmp(x.release, y.release);
}
