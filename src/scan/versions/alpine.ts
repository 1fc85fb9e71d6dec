// Alpine package versions (apk): numbers separated by dots, an optional letter, suffixes
// (_alpha _beta _pre _rc sort before the plain release; _cvs _svn _git _hg _p after it), each
// with an optional number, an optional ~commit hash and an optional -rN package revision.
// Ordered as apk orders them: with equal leading parts, the version with more number
// components wins, a letter wins over none, a pre-release suffix loses to anything, and a
// missing revision sorts before -r0.
import { compareDigits, sign } from './digits.js';

/** Suffix ranks: negative before the release (rank 0), positive after it. */
const SUFFIXES: Record<string, number> = { alpha: -4, beta: -3, pre: -2, rc: -1, cvs: 1, svn: 2, git: 3, hg: 4, p: 5 };

export interface AlpineVersion {
  numbers: string[];
  letter?: string;
  suffixes: { name: string; rank: number; number?: string }[];
  hash?: string;
  revision?: string;
}

const PATTERN = /^(\d+(?:\.\d+)*)([a-z])?((?:_(?:alpha|beta|pre|rc|cvs|svn|git|hg|p)\d*)*)(?:~([0-9a-f]+))?(?:-r(\d+))?$/;

export function valid(version: string): boolean {
  return PATTERN.test(version.trim());
}

/** Throws on a version apk would reject. */
export function parse(version: string): AlpineVersion {
  const m = PATTERN.exec(version.trim());
  if (!m) throw new Error(`not an Alpine package version: ${version}`);
  const suffixes = [...(m[3] ?? '').matchAll(/_([a-z]+)(\d*)/g)].map((s) => ({
    name: s[1]!,
    rank: SUFFIXES[s[1]!]!,
    ...(s[2] ? { number: s[2] } : {}),
  }));
  return {
    numbers: m[1]!.split('.'),
    ...(m[2] ? { letter: m[2] } : {}),
    suffixes,
    ...(m[4] ? { hash: m[4] } : {}),
    ...(m[5] !== undefined ? { revision: m[5] } : {}),
  };
}

/**
 * A number component after the first: apk reads leading zeros as a fraction (1.01 < 1.1, and
 * 1.001 < 1.01), so more leading zeros sort lower, then the remaining digits by value.
 */
function compareComponent(a: string, b: string, first: boolean): number {
  if (first) return compareDigits(a, b);
  const za = /^0*/.exec(a)![0].length;
  const zb = /^0*/.exec(b)![0].length;
  if (za === 0 && zb === 0) return compareDigits(a, b);
  if (za !== zb) return za === 0 ? 1 : zb === 0 ? -1 : sign(zb - za);
  const ra = a.slice(za);
  const rb = b.slice(zb);
  if (ra === '' || rb === '') return ra === rb ? 0 : ra === '' ? -1 : 1;
  return compareDigits(ra, rb);
}

function compareParsed(x: AlpineVersion, y: AlpineVersion): number {
  const n = Math.min(x.numbers.length, y.numbers.length);
  for (let i = 0; i < n; i++) {
    const c = compareComponent(x.numbers[i]!, y.numbers[i]!, i === 0);
    if (c !== 0) return c;
  }
  if (x.numbers.length !== y.numbers.length) {
    // apk ranks a further number above whatever the shorter one has next (a letter, a
    // suffix, a revision or the end), so the version with more components is greater.
    return x.numbers.length > y.numbers.length ? 1 : -1;
  }
  if (x.letter !== y.letter) {
    if (x.letter === undefined) return -1;
    if (y.letter === undefined) return 1;
    return x.letter < y.letter ? -1 : 1;
  }
  const m = Math.max(x.suffixes.length, y.suffixes.length);
  for (let i = 0; i < m; i++) {
    const a = x.suffixes[i];
    const b = y.suffixes[i];
    if (a === undefined) return b!.rank < 0 ? 1 : -1;
    if (b === undefined) return a.rank < 0 ? -1 : 1;
    if (a.rank !== b.rank) return sign(a.rank - b.rank);
    if (a.number !== b.number) {
      if (a.number === undefined) return -1;
      if (b.number === undefined) return 1;
      const c = compareDigits(a.number, b.number);
      if (c !== 0) return c;
    }
  }
  // A ~commit hash names a snapshot; hashes have no order, so they do not take part.
  if (x.revision === y.revision) return 0;
  if (x.revision === undefined) return -1;
  if (y.revision === undefined) return 1;
  return compareDigits(x.revision, y.revision);
}

export function compare(a: string, b: string): number {
  return compareParsed(parse(a), parse(b));
}
