// Imports OSV advisories into the vulnerability database, offline: from directory trees of
// .json files, single .json files, or the .zip archives osv.dev publishes per ecosystem
// (read entry by entry, never whole). Incremental: an advisory not modified since the stored
// copy is skipped, a withdrawn one is removed. Work is committed in batches, so an
// interrupted import keeps what it did and the next one carries on.
import { createReadStream } from 'node:fs';
import { opendir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import yauzl from 'yauzl';
import type { AdvisoryPackage, NewAdvisory, VulnDbState, VulnStore } from '../../metadata/vuln-store.js';
import { ecosystemFamily, lookupName, parseAdvisory, type OsvAdvisory } from './osv.js';

/** Advisories per transaction. */
const BATCH = 500;
/** An advisory file larger than this is refused (a zip entry could claim anything). */
const MAX_ADVISORY_BYTES = 32 * 1024 * 1024;
/** Problems reported individually; the rest are only counted. */
const MAX_ERRORS = 20;

export interface AdvisoryFile {
  /** Where it came from, for messages: a path, or archive.zip:entry.json. */
  name: string;
  text: string;
}

export interface ImportSummary {
  files: number;
  added: number;
  updated: number;
  removed: number;
  skipped: number;
  invalid: number;
  /** The first problems found (file name: reason). */
  errors: string[];
  state: VulnDbState;
}

async function isZip(path: string): Promise<boolean> {
  if (path.toLowerCase().endsWith('.zip')) return true;
  const handle = createReadStream(path, { start: 0, end: 3 });
  const chunks: Buffer[] = [];
  for await (const c of handle) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('latin1') === 'PK\u0003\u0004';
}

async function* walkDirectory(dir: string): AsyncGenerator<AdvisoryFile> {
  const entries: { name: string; directory: boolean }[] = [];
  for await (const entry of await opendir(dir)) {
    if (entry.name.startsWith('.')) continue;
    if (entry.isDirectory() || (entry.isFile() && entry.name.endsWith('.json'))) entries.push({ name: entry.name, directory: entry.isDirectory() });
  }
  // A stable order: the same tree imports the same way every time.
  entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const { name, directory } of entries) {
    const path = join(dir, name);
    if (directory) yield* walkDirectory(path);
    else yield { name: path, text: await readFile(path, 'utf8') };
  }
}

async function readLimited(stream: NodeJS.ReadableStream, limit: number): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of stream) {
    size += (chunk as Buffer).length;
    if (size > limit) throw new Error(`larger than ${limit} bytes`);
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

async function* readZip(path: string, onError: (name: string, err: unknown) => void): AsyncGenerator<AdvisoryFile> {
  const zip = await yauzl.openPromise(path, { lazyEntries: true, autoClose: true, strictFileNames: false });
  for await (const entry of zip.eachEntry()) {
    if (entry.fileName.endsWith('/') || !entry.fileName.endsWith('.json')) continue;
    const name = `${path}:${entry.fileName}`;
    if (entry.uncompressedSize > MAX_ADVISORY_BYTES) {
      onError(name, new Error(`larger than ${MAX_ADVISORY_BYTES} bytes`));
      continue;
    }
    let text: string;
    try {
      text = await readLimited(await zip.openReadStreamPromise(entry), MAX_ADVISORY_BYTES);
    } catch (err) {
      onError(name, err);
      continue;
    }
    yield { name, text };
  }
}

/** Every advisory file of a source: a directory tree, a .json file or an OSV .zip archive. */
export async function* advisoryFiles(path: string, onError: (name: string, err: unknown) => void): AsyncGenerator<AdvisoryFile> {
  const info = await stat(path);
  if (info.isDirectory()) yield* walkDirectory(path);
  else if (await isZip(path)) yield* readZip(path, onError);
  else yield { name: path, text: await readFile(path, 'utf8') };
}

/** The package rows of an advisory: one per (ecosystem, name) it names. */
export function advisoryPackages(advisory: OsvAdvisory): AdvisoryPackage[] {
  const out: AdvisoryPackage[] = [];
  for (const affected of advisory.affected ?? []) {
    if (!affected.package) continue;
    const family = ecosystemFamily(affected.package.ecosystem);
    const name = lookupName(family, affected.package.name);
    // Longer than the columns allow: no package of ours has such a name.
    if (affected.package.ecosystem.length > 255 || family.length > 64 || name.length > 512) continue;
    out.push({ ecosystem: affected.package.ecosystem, family, name });
  }
  return out;
}

interface Parsed {
  name: string;
  advisory: OsvAdvisory;
  content: string;
}

export class AdvisoryImporter {
  private batch: Parsed[] = [];
  private readonly counts = { files: 0, added: 0, updated: 0, removed: 0, skipped: 0, invalid: 0 };
  private readonly errors: string[] = [];
  private readonly startedAt = new Date();

  constructor(private readonly store: VulnStore) {}

  private reject(name: string, err: unknown): void {
    this.counts.invalid++;
    if (this.errors.length < MAX_ERRORS) this.errors.push(`${name}: ${err instanceof Error ? err.message : String(err)}`);
  }

  async add(file: AdvisoryFile): Promise<void> {
    this.counts.files++;
    try {
      this.batch.push({ name: file.name, ...parseAdvisory(file.text) });
    } catch (err) {
      this.reject(file.name, err);
      return;
    }
    if (this.batch.length >= BATCH) await this.flush();
  }

  async importPath(path: string): Promise<void> {
    const unreadable = (name: string, err: unknown): void => {
      this.counts.files++;
      this.reject(name, err);
    };
    for await (const file of advisoryFiles(path, unreadable)) await this.add(file);
  }

  private async flush(): Promise<void> {
    // The newest copy of each advisory in the batch (an archive may hold an id twice).
    const latest = new Map<string, Parsed>();
    for (const p of this.batch) {
      const seen = latest.get(p.advisory.id);
      if (seen) this.counts.skipped++;
      if (!seen || Date.parse(p.advisory.modified) >= Date.parse(seen.advisory.modified)) latest.set(p.advisory.id, p);
    }
    this.batch = [];
    const stored = await this.store.modifiedTimes([...latest.keys()]);
    const put: NewAdvisory[] = [];
    const remove: string[] = [];
    for (const { advisory, content } of latest.values()) {
      const modified = new Date(advisory.modified);
      const current = stored.get(advisory.id);
      if (advisory.withdrawn !== undefined) {
        if (current) remove.push(advisory.id);
        else this.counts.skipped++;
      } else if (current && modified.getTime() <= current.getTime()) {
        this.counts.skipped++;
      } else {
        put.push({ id: advisory.id, modified, content, packages: advisoryPackages(advisory) });
        if (current) this.counts.updated++;
        else this.counts.added++;
      }
    }
    const { removed } = await this.store.applyChanges({ put, remove });
    this.counts.removed += removed;
  }

  /** Commit what is left and record the import. */
  async finish(source: string): Promise<ImportSummary> {
    await this.flush();
    const state = await this.store.recordImport({ source, startedAt: this.startedAt, finishedAt: new Date(), ...this.counts });
    return { ...this.counts, errors: [...this.errors], state };
  }
}

/** Import every advisory of the sources (directories, .json files, .zip archives). */
export async function importAdvisories(store: VulnStore, paths: string[]): Promise<ImportSummary> {
  const importer = new AdvisoryImporter(store);
  for (const path of paths) await importer.importPath(path);
  return importer.finish(paths.join(' '));
}
