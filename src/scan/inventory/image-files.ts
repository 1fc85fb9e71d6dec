// The image's union filesystem, reduced to the files an extractor read: what each layer
// found, minus what higher layers delete (".wh.<name>"), hide (".wh..wh..opq") or overwrite.
import type { Found } from './extractor.js';

export interface FileRecord {
  layer: string;
  found: Found;
}

/** What one layer does to the paths below it, and what it found itself. */
export class LayerChanges {
  /** Paths removed with their subtree: whiteouts, and non-directories written over a lower directory. */
  readonly removed: string[] = [];
  /** Directories whose lower-layer content is hidden. */
  readonly opaque: string[] = [];
  /** Paths written in this layer (any type), so a lower record at the same path is replaced. */
  readonly written = new Set<string>();
  readonly found = new Map<string, Found>();
}

const WHITEOUT = '.wh.';
const OPAQUE = '.wh..wh..opq';

export type EntryKind = 'whiteout' | 'entry';

function parentOf(path: string): string {
  const at = path.lastIndexOf('/');
  return at < 0 ? '' : path.slice(0, at);
}

/** "./usr//lib/" -> "usr/lib": paths as the image sees them, relative to its root. */
export function normalizePath(name: string): string {
  const parts: string[] = [];
  for (const p of name.split('/')) {
    if (p === '' || p === '.') continue;
    if (p === '..') parts.pop();
    else parts.push(p);
  }
  return parts.join('/');
}

export class ImageFiles {
  private readonly records = new Map<string, FileRecord>();
  /** Every directory above a recorded path, so a file written over one is found without a scan. */
  private readonly dirs = new Map<string, number>();

  /** Notes how a tar entry of the current layer affects lower ones; whiteouts are not files themselves. */
  note(changes: LayerChanges, path: string, isDirectory: boolean): EntryKind {
    const base = path.slice(path.lastIndexOf('/') + 1);
    const dir = parentOf(path);
    if (base === OPAQUE) {
      changes.opaque.push(dir);
      return 'whiteout';
    }
    if (base.startsWith(WHITEOUT)) {
      changes.removed.push(dir === '' ? base.slice(WHITEOUT.length) : `${dir}/${base.slice(WHITEOUT.length)}`);
      return 'whiteout';
    }
    if (this.records.has(path)) changes.written.add(path);
    if (!isDirectory && this.dirs.has(path)) changes.removed.push(path);
    return 'entry';
  }

  /** Applies a finished layer: its deletions hit lower layers only, then its own records are added. */
  apply(layer: string, changes: LayerChanges): void {
    const under = (path: string, dir: string) => dir === '' || path === dir || path.startsWith(`${dir}/`);
    for (const path of [...this.records.keys()]) {
      const gone =
        changes.written.has(path) ||
        changes.removed.some((r) => under(path, r)) ||
        changes.opaque.some((o) => path !== o && under(path, o));
      if (gone) this.delete(path);
    }
    for (const [path, found] of changes.found) {
      this.delete(path);
      this.records.set(path, { layer, found });
      for (let d = parentOf(path); d !== ''; d = parentOf(d)) this.dirs.set(d, (this.dirs.get(d) ?? 0) + 1);
    }
  }

  get(path: string): FileRecord | undefined {
    return this.records.get(path);
  }

  /** Records in path order, so an inventory does not depend on tar entry order. */
  all(): [string, FileRecord][] {
    return [...this.records.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  }

  private delete(path: string): void {
    if (!this.records.delete(path)) return;
    for (let d = parentOf(path); d !== ''; d = parentOf(d)) {
      const n = (this.dirs.get(d) ?? 1) - 1;
      if (n === 0) this.dirs.delete(d);
      else this.dirs.set(d, n);
    }
  }
}
