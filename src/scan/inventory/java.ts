// Java archives: META-INF/maven/<group>/<artifact>/pom.properties inside .jar/.war/.ear
// files, and inside the jars those carry (Spring Boot BOOT-INF/lib, WEB-INF/lib), one level deep.
import yauzl from 'yauzl';
import { type Extractor, type FoundPackage, MiB } from './extractor.js';

const POM_PROPERTIES = /^META-INF\/maven\/[^/]+\/[^/]+\/pom\.properties$/;
const NESTED_ARCHIVE = /\.jar$/i;
const NESTED_MAX_BYTES = 32 * MiB;
const PROPERTIES_MAX_BYTES = 64 * 1024;

/** Java .properties: key=value or key: value lines; # and ! start comments. */
export function parseProperties(text: string): Map<string, string> {
  const props = new Map<string, string>();
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (line === '' || line[0] === '#' || line[0] === '!') continue;
    const m = /^([^=:\s]+)\s*[=:]?\s*(.*)$/.exec(line);
    if (m) props.set(m[1]!, m[2]!);
  }
  return props;
}

export function mavenPackage(properties: string): FoundPackage | undefined {
  const p = parseProperties(properties);
  const group = p.get('groupId');
  const artifact = p.get('artifactId');
  const version = p.get('version');
  if (!group || !artifact || !version) return undefined;
  return { ecosystem: 'Maven', name: `${group}:${artifact}`, version };
}

function openZip(data: Buffer): Promise<yauzl.ZipFile> {
  return new Promise((resolve, reject) =>
    yauzl.fromBuffer(data, { lazyEntries: true, decodeStrings: true }, (err, zip) => (err ? reject(err) : resolve(zip))),
  );
}

function readZipEntry(zip: yauzl.ZipFile, entry: yauzl.Entry, max: number): Promise<Buffer | undefined> {
  if (entry.uncompressedSize > max) return Promise.resolve(undefined);
  return new Promise((resolve, reject) =>
    zip.openReadStream(entry, (err, stream) => {
      if (err) return reject(err);
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => resolve(Buffer.concat(chunks)));
      stream.on('error', reject);
    }),
  );
}

/** The Maven packages an archive declares; `path` names it in the image (nested: "outer.jar!/BOOT-INF/lib/x.jar"). */
export async function parseJavaArchive(data: Buffer, path: string, nested = true): Promise<FoundPackage[]> {
  const zip = await openZip(data);
  const packages: FoundPackage[] = [];
  // Entries are read one at a time, so at most one nested jar is held at once.
  const onEntry = async (entry: yauzl.Entry): Promise<void> => {
    if (POM_PROPERTIES.test(entry.fileName)) {
      const bytes = await readZipEntry(zip, entry, PROPERTIES_MAX_BYTES);
      const pkg = bytes ? mavenPackage(bytes.toString('utf8')) : undefined;
      if (pkg) packages.push({ ...pkg, path });
    } else if (nested && NESTED_ARCHIVE.test(entry.fileName)) {
      const bytes = await readZipEntry(zip, entry, NESTED_MAX_BYTES);
      // A nested jar that is not a zip after all is skipped, not fatal for its parent.
      if (bytes) packages.push(...(await parseJavaArchive(bytes, `${path}!/${entry.fileName}`, false).catch(() => [])));
    }
  };
  await new Promise<void>((resolve, reject) => {
    zip.on('entry', (entry: yauzl.Entry) => onEntry(entry).then(() => zip.readEntry(), reject));
    zip.on('end', resolve);
    zip.on('error', reject);
    zip.readEntry();
  });
  return packages;
}

const ARCHIVE = /\.(?:jar|war|ear)$/i;

export const javaExtractor: Extractor = {
  name: 'java',
  matches: (f) => ARCHIVE.test(f.path),
  maxBytes: 100 * MiB,
  magic: Buffer.from('PK'),
  extract: async (data, file) => ({ packages: await parseJavaArchive(data, file.path) }),
};
