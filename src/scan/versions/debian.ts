// Debian package versions ([epoch:]upstream[-revision]) ordered as dpkg orders them
// (deb-version(7)): epochs numerically, then upstream and revision each compared as
// alternating runs of non-digits (character by character: `~` before everything, even the
// end of the string; letters before other characters) and digits (numerically).
import { compareDigits, sign } from './digits.js';

export interface DebianVersion {
  epoch: number;
  upstream: string;
  /** Empty when the version has none (it then sorts as "0"). */
  revision: string;
}

const VALID = /^(?:(\d+):)?([0-9][A-Za-z0-9.+~:-]*?)(?:-([A-Za-z0-9.+~]+))?$/;

export function parse(version: string): DebianVersion {
  const v = version.trim();
  const colon = v.indexOf(':');
  const epochText = colon > 0 && /^\d+$/.test(v.slice(0, colon)) ? v.slice(0, colon) : '';
  const rest = epochText ? v.slice(colon + 1) : v;
  const dash = rest.lastIndexOf('-');
  return {
    epoch: epochText ? Number(epochText) : 0,
    upstream: dash >= 0 ? rest.slice(0, dash) : rest,
    revision: dash >= 0 ? rest.slice(dash + 1) : '',
  };
}

/** Whether dpkg would accept the version (upstream starts with a digit, allowed characters only). */
export function valid(version: string): boolean {
  const m = VALID.exec(version.trim());
  if (!m || version.trim().endsWith('-')) return false;
  // A hyphen in the upstream part needs a revision after it, which the regex guarantees.
  return !(m[1] === undefined && m[2]!.includes(':'));
}

/** Sort weight of one character of a non-digit run; 0 is the end of the run. */
function weight(c: string | undefined): number {
  if (c === undefined) return 0;
  if (c === '~') return -1;
  const code = c.charCodeAt(0);
  if (/[A-Za-z]/.test(c)) return code;
  return code + 256;
}

const isDigit = (c: string | undefined): boolean => c !== undefined && c >= '0' && c <= '9';

/** dpkg's comparison of an upstream version or a revision. */
export function compareFragment(a: string, b: string): number {
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    // Non-digit runs, character by character (a digit or the end weighs 0).
    while ((i < a.length && !isDigit(a[i])) || (j < b.length && !isDigit(b[j]))) {
      const wa = isDigit(a[i]) ? 0 : weight(a[i]);
      const wb = isDigit(b[j]) ? 0 : weight(b[j]);
      if (wa !== wb) return sign(wa - wb);
      i++;
      j++;
    }
    let ea = i;
    while (isDigit(a[ea])) ea++;
    let eb = j;
    while (isDigit(b[eb])) eb++;
    const c = compareDigits(a.slice(i, ea), b.slice(j, eb));
    if (c !== 0) return c;
    i = ea;
    j = eb;
  }
  return 0;
}

export function compare(a: string, b: string): number {
  const x = parse(a);
  const y = parse(b);
  if (x.epoch !== y.epoch) return sign(x.epoch - y.epoch);
  return compareFragment(x.upstream, y.upstream) || compareFragment(x.revision, y.revision);
}
