// Maven artifact versions, ordered as Maven's ComparableVersion orders them. A version is read
// (case-insensitively) into a list of items: numbers and qualifiers separated by `.`, while
// `-` and each switch between digits and letters open a nested list. Trailing "null" items
// (0, "", ga, final, release) are dropped, so 1 = 1.0 = 1-ga. Known qualifiers sort
// alpha < beta < milestone < rc = cr < snapshot < "" (the release) < sp, unknown ones after
// those (alphabetically); a, b, m directly followed by a number mean alpha, beta, milestone.
import { compareDigits } from './digits.js';

type Item = { kind: 'int'; value: string } | { kind: 'string'; value: string } | { kind: 'list'; items: Item[] };

const QUALIFIERS = ['alpha', 'beta', 'milestone', 'rc', 'snapshot', '', 'sp'];
const ALIASES: Record<string, string> = { ga: '', final: '', release: '', cr: 'rc' };

function stringItem(text: string, followedByDigit: boolean): Item {
  let value = text;
  if (followedByDigit && value.length === 1) value = { a: 'alpha', b: 'beta', m: 'milestone' }[value] ?? value;
  return { kind: 'string', value: ALIASES[value] ?? value };
}

const intItem = (text: string): Item => ({ kind: 'int', value: text.replace(/^0+(?=\d)/, '') });
const item = (isDigit: boolean, text: string): Item => (isDigit ? intItem(text) : stringItem(text, false));

function isNull(i: Item): boolean {
  if (i.kind === 'int') return i.value === '0';
  if (i.kind === 'string') return i.value === '';
  return i.items.length === 0;
}

/** Drop trailing null items, looking through nested lists at the end. */
function normalize(list: Item[]): void {
  for (let i = list.length - 1; i >= 0; i--) {
    const last = list[i]!;
    if (isNull(last)) list.splice(i, 1);
    else if (last.kind !== 'list') break;
  }
}

export function parse(version: string): Item {
  const v = version.trim().toLowerCase();
  const root: Item[] = [];
  let list = root;
  const stack: Item[][] = [root];
  const openList = (): void => {
    const child: Item[] = [];
    list.push({ kind: 'list', items: child });
    list = child;
    stack.push(child);
  };
  let isDigit = false;
  let start = 0;
  for (let i = 0; i < v.length; i++) {
    const c = v[i]!;
    if (c === '.' || c === '-') {
      list.push(i === start ? intItem('0') : item(isDigit, v.slice(start, i)));
      start = i + 1;
      if (c === '-') openList();
    } else if (c >= '0' && c <= '9') {
      if (!isDigit && i > start) {
        list.push(stringItem(v.slice(start, i), true));
        start = i;
        openList();
      }
      isDigit = true;
    } else {
      if (isDigit && i > start) {
        list.push(intItem(v.slice(start, i)));
        start = i;
        openList();
      }
      isDigit = false;
    }
  }
  if (v.length > start) list.push(item(isDigit, v.slice(start)));
  while (stack.length > 0) normalize(stack.pop()!);
  return { kind: 'list', items: root };
}

function qualifierKey(q: string): string {
  const i = QUALIFIERS.indexOf(q);
  return i >= 0 ? String(i) : `${QUALIFIERS.length}-${q}`;
}

const RELEASE_KEY = qualifierKey('');
const order = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/** ComparableVersion's Item.compareTo; `b` undefined is the padding of a shorter list. */
function compareItems(a: Item, b: Item | undefined): number {
  switch (a.kind) {
    case 'int':
      if (b === undefined) return a.value === '0' ? 0 : 1;
      return b.kind === 'int' ? compareDigits(a.value, b.value) : 1;
    case 'string':
      if (b === undefined) return order(qualifierKey(a.value), RELEASE_KEY);
      if (b.kind === 'int' || b.kind === 'list') return -1;
      return order(qualifierKey(a.value), qualifierKey(b.value));
    case 'list': {
      if (b === undefined) return a.items.length === 0 ? 0 : compareItems(a.items[0]!, undefined);
      if (b.kind === 'int') return -1;
      if (b.kind === 'string') return 1;
      const n = Math.max(a.items.length, b.items.length);
      for (let i = 0; i < n; i++) {
        const l = a.items[i];
        const r = b.items[i];
        const c = l === undefined ? (r === undefined ? 0 : -compareItems(r, undefined)) : compareItems(l, r);
        if (c !== 0) return c;
      }
      return 0;
    }
  }
}

export function valid(version: string): boolean {
  return version.trim().length > 0;
}

export function compare(a: string, b: string): number {
  return compareItems(parse(a), parse(b));
}
