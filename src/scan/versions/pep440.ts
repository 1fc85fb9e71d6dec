// Python package versions as PEP 440 defines them: [N!]N(.N)*[{a|b|rc}N][.postN][.devN][+local],
// with the spellings it allows (alpha, beta, c, pre, preview, rev, r, "-N" post-releases,
// separators, a leading v, upper case) normalised. Order: epoch, release (trailing zeros
// ignored), then dev-only releases < pre-releases < the release < post-releases, with .devN
// before what it develops; a local version sorts after the same public version.
import { compareDigits } from './digits.js';

export interface Pep440Version {
  epoch: string;
  release: string[];
  pre?: { phase: 'a' | 'b' | 'rc'; number: string };
  post?: string;
  dev?: string;
  local?: string[];
}

const PATTERN = new RegExp(
  '^v?' +
    '(?:(\\d+)!)?' +
    '(\\d+(?:\\.\\d+)*)' +
    '(?:[-_.]?(a|b|c|rc|alpha|beta|pre|preview)[-_.]?(\\d+)?)?' +
    '(?:-(\\d+)|[-_.]?(post|rev|r)[-_.]?(\\d+)?)?' +
    '(?:[-_.]?(dev)[-_.]?(\\d+)?)?' +
    '(?:\\+([a-z0-9]+(?:[-_.][a-z0-9]+)*))?$',
  'i',
);

const PHASES: Record<string, 'a' | 'b' | 'rc'> = { a: 'a', alpha: 'a', b: 'b', beta: 'b', c: 'rc', rc: 'rc', pre: 'rc', preview: 'rc' };
const strip = (n: string): string => n.replace(/^0+(?=\d)/, '');

export function parse(version: string): Pep440Version | undefined {
  const m = PATTERN.exec(version.trim());
  if (!m) return undefined;
  const [, epoch, release, preLabel, preN, postDash, postLabel, postN, devLabel, devN, local] = m;
  return {
    epoch: strip(epoch ?? '0'),
    release: release!.split('.').map(strip),
    ...(preLabel ? { pre: { phase: PHASES[preLabel.toLowerCase()]!, number: strip(preN ?? '0') } } : {}),
    ...(postDash !== undefined ? { post: strip(postDash) } : postLabel ? { post: strip(postN ?? '0') } : {}),
    ...(devLabel ? { dev: strip(devN ?? '0') } : {}),
    ...(local ? { local: local.toLowerCase().split(/[-_.]/).map((s) => (/^\d+$/.test(s) ? strip(s) : s)) } : {}),
  };
}

export function valid(version: string): boolean {
  return parse(version) !== undefined;
}

/** The canonical spelling, e.g. "1.0-Alpha_1.POST2" -> "1.0a1.post2". */
export function normalize(version: string): string | undefined {
  const v = parse(version);
  if (!v) return undefined;
  return (
    (v.epoch !== '0' ? `${v.epoch}!` : '') +
    v.release.join('.') +
    (v.pre ? `${v.pre.phase}${v.pre.number}` : '') +
    (v.post !== undefined ? `.post${v.post}` : '') +
    (v.dev !== undefined ? `.dev${v.dev}` : '') +
    (v.local ? `+${v.local.join('.')}` : '')
  );
}

const PHASE_RANK = { a: 0, b: 1, rc: 2 };

/** A part that is absent sorts as one of these, depending on the part. */
const LOW = -1;
const HIGH = 1;

function compareRelease(a: string[], b: string[]): number {
  const n = Math.max(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const c = compareDigits(a[i] ?? '0', b[i] ?? '0');
    if (c !== 0) return c;
  }
  return 0;
}

/** Absent parts take `absent` (LOW or HIGH) relative to any present value. */
function compareOptional<T>(a: T | undefined, b: T | undefined, absent: number, cmp: (x: T, y: T) => number): number {
  if (a === undefined && b === undefined) return 0;
  if (a === undefined) return absent;
  if (b === undefined) return -absent;
  return cmp(a, b);
}

function comparePre(x: Pep440Version, y: Pep440Version): number {
  // A release with only .devN sorts before every pre-release of it.
  const key = (v: Pep440Version): number => (v.pre ? 0 : v.post === undefined && v.dev !== undefined ? -1 : 1);
  const kx = key(x);
  const ky = key(y);
  if (kx !== ky) return kx < ky ? -1 : 1;
  if (!x.pre || !y.pre) return 0;
  if (x.pre.phase !== y.pre.phase) return PHASE_RANK[x.pre.phase] < PHASE_RANK[y.pre.phase] ? -1 : 1;
  return compareDigits(x.pre.number, y.pre.number);
}

function compareLocal(a: string[], b: string[]): number {
  const n = Math.max(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a[i];
    const y = b[i];
    if (x === undefined) return -1;
    if (y === undefined) return 1;
    const nx = /^\d+$/.test(x);
    const ny = /^\d+$/.test(y);
    // Numeric segments sort after alphanumeric ones.
    if (nx !== ny) return nx ? 1 : -1;
    const c = nx ? compareDigits(x, y) : x < y ? -1 : x > y ? 1 : 0;
    if (c !== 0) return c;
  }
  return 0;
}

export function compareParsed(x: Pep440Version, y: Pep440Version): number {
  return (
    compareDigits(x.epoch, y.epoch) ||
    compareRelease(x.release, y.release) ||
    comparePre(x, y) ||
    compareOptional(x.post, y.post, LOW, compareDigits) ||
    compareOptional(x.dev, y.dev, HIGH, compareDigits) ||
    compareOptional(x.local, y.local, LOW, compareLocal)
  );
}

/** Throws on a string that is not a PEP 440 version. */
export function compare(a: string, b: string): number {
  const x = parse(a);
  const y = parse(b);
  if (!x || !y) throw new Error(`not a PEP 440 version: ${x ? b : a}`);
  return compareParsed(x, y);
}
