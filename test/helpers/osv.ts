// OSV advisories and osv.dev-style zip archives for the vulnerability database tests.
import { createWriteStream } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import yazl from 'yazl';

export type Json = Record<string, unknown>;

/** An advisory affecting `name` in `ecosystem` before 2.0. */
export function advisory(id: string, modified: string, ecosystem: string, name: string, extra: Json = {}): Json {
  return {
    schema_version: '1.6.0',
    id,
    modified,
    summary: `${name} is vulnerable`,
    references: [{ type: 'WEB', url: `https://example.test/${id}` }],
    affected: [{ package: { ecosystem, name }, ranges: [{ type: 'ECOSYSTEM', events: [{ introduced: '0' }, { fixed: '2.0' }] }] }],
    ...extra,
  };
}

/** A zip archive of the files (name -> JSON or raw text; names ending in / are directories). */
export async function writeZip(path: string, files: Record<string, Json | string>): Promise<void> {
  const zip = new yazl.ZipFile();
  for (const [name, content] of Object.entries(files)) {
    if (name.endsWith('/')) zip.addEmptyDirectory(name);
    else zip.addBuffer(Buffer.from(typeof content === 'string' ? content : JSON.stringify(content)), name);
  }
  zip.end();
  await pipeline(zip.outputStream, createWriteStream(path));
}
