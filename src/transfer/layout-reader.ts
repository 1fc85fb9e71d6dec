// Reads what `registry import` is given: an OCI image layout as a directory or a tar (gzip'ed
// or not), or a `docker save` archive (manifest.json with config and layer tars), as one view:
// index.json's entries and the blobs by digest. A tar is unpacked into a temporary directory
// first, each blob hashed as it is written, so a corrupt archive is refused before anything
// reaches the registry; `docker save` images get an OCI manifest made for them.
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { lstat, mkdir, mkdtemp, open, readFile, realpath, rm, stat, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, isAbsolute, join, normalize, relative, sep } from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import { extract } from 'tar-stream';
import { IMAGE_NAME, REF_NAME, type IndexEntry } from './layout-writer.js';

export interface LayoutSource {
  /** index.json's manifests (for `docker save`: one per image and tag). */
  entries: IndexEntry[];
  /** The blob's size, or undefined when the layout lacks it. */
  size(digest: string): Promise<number | undefined>;
  open(digest: string): Promise<Readable>;
  /** A small blob (a manifest) in memory; refused above `max` bytes. */
  read(digest: string, max: number): Promise<Buffer>;
  /** Blobs whose bytes were already checked against their digest. */
  verified: Set<string>;
  close(): Promise<void>;
}

/** The archive or directory is not something import can read, or its content is corrupt. */
export class LayoutError extends Error {}

const DIGEST_PATH = /^blobs\/(sha256|sha512)\/([a-f0-9]+)$/;
const GZIP_MAGIC = Buffer.from([0x1f, 0x8b]);

export async function openLayout(path: string): Promise<LayoutSource> {
  const info = await stat(path).catch(() => undefined);
  if (!info) throw new LayoutError(`${path} does not exist`);
  if (info.isDirectory()) return readLayoutDir(path, new Set(), async () => undefined);
  const dir = await mkdtemp(join(tmpdir(), 'registry-import-'));
  try {
    const verified = await extractTar(path, dir);
    return await readLayoutDir(dir, verified, () => rm(dir, { recursive: true, force: true }));
  } catch (err) {
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
}

function inside(root: string, name: string): string | undefined {
  const clean = normalize(name).replace(/^(\.\/)+/, '');
  if (clean === '' || clean === '.' || isAbsolute(clean) || clean.split(sep).includes('..')) return undefined;
  return join(root, clean);
}

async function isGzip(file: string): Promise<boolean> {
  const handle = await open(file, 'r');
  try {
    const head = Buffer.alloc(2);
    await handle.read(head, 0, 2, 0);
    return head.equals(GZIP_MAGIC);
  } finally {
    await handle.close();
  }
}

/** Unpack regular files (and symlinks that stay inside) into `dir`; returns the blob digests checked on the way. */
async function extractTar(file: string, dir: string): Promise<Set<string>> {
  const verified = new Set<string>();
  const tar = extract();
  const source = createReadStream(file);
  const feeding = (await isGzip(file)) ? pipeline(source, createGunzip(), tar) : pipeline(source, tar);
  feeding.catch(() => undefined);
  const root = await realpath(dir);
  try {
    for await (const entry of tar) {
      const header = entry.header;
      const target = inside(root, header.name);
      if (!target || (header.type !== 'file' && header.type !== 'symlink' && header.type !== 'directory')) {
        entry.resume();
        continue;
      }
      if (header.type === 'directory') {
        await mkdir(target, { recursive: true });
        entry.resume();
        continue;
      }
      await mkdir(dirname(target), { recursive: true });
      if (header.type === 'symlink') {
        // `docker save` links layers shared by two images; nothing may point outside the archive.
        const linked = header.linkname ? inside(root, join(dirname(relative(root, target)), header.linkname)) : undefined;
        if (linked) await symlink(relative(dirname(target), linked), target).catch(() => undefined);
        entry.resume();
        continue;
      }
      const blob = DIGEST_PATH.exec(relative(root, target).split(sep).join('/'));
      const hash = blob ? createHash(blob[1]!) : undefined;
      await pipeline(
        entry,
        new Transform({
          transform(chunk: Buffer, _enc, cb) {
            hash?.update(chunk);
            cb(null, chunk);
          },
        }),
        createWriteStream(target, { flags: 'wx', mode: 0o600 }),
      );
      if (blob && hash) {
        const digest = `${blob[1]}:${blob[2]}`;
        const actual = `${blob[1]}:${hash.digest('hex')}`;
        if (actual !== digest) throw new LayoutError(`blob ${digest} in the archive is corrupt: its bytes hash to ${actual}`);
        verified.add(digest);
      }
    }
    await feeding;
  } catch (err) {
    source.destroy();
    tar.destroy();
    if (err instanceof LayoutError) throw err;
    throw new LayoutError(`cannot read ${file} as a tar archive (${(err as Error).message})`);
  }
  return verified;
}

async function readJson(file: string, what: string): Promise<unknown> {
  try {
    return JSON.parse(await readFile(file, 'utf8'));
  } catch (err) {
    throw new LayoutError(`${what} is missing or not valid JSON (${(err as Error).message.slice(0, 200)})`);
  }
}

async function exists(file: string): Promise<boolean> {
  return (await lstat(file).catch(() => undefined)) !== undefined;
}

async function readLayoutDir(dir: string, verified: Set<string>, cleanup: () => Promise<unknown>): Promise<LayoutSource> {
  try {
    if (await exists(join(dir, 'oci-layout'))) return await ociLayout(dir, verified, cleanup);
    if (await exists(join(dir, 'manifest.json'))) return await dockerSave(dir, verified, cleanup);
  } catch (err) {
    await cleanup();
    throw err;
  }
  await cleanup();
  throw new LayoutError('not an OCI image layout (no oci-layout file) nor a docker save archive (no manifest.json)');
}

function blobPath(dir: string, digest: string): string {
  const m = /^(sha256|sha512):([a-f0-9]+)$/.exec(digest);
  if (!m) throw new LayoutError(`unsupported digest ${digest.slice(0, 140)}`);
  return join(dir, 'blobs', m[1]!, m[2]!);
}

/** Sizes, streams and small reads of files by digest, plus blobs made in memory. */
function fileSource(paths: (digest: string) => string | undefined, memory: Map<string, Buffer>, entries: IndexEntry[], verified: Set<string>, cleanup: () => Promise<unknown>): LayoutSource {
  return {
    entries,
    verified,
    async size(digest) {
      const inMemory = memory.get(digest);
      if (inMemory) return inMemory.length;
      const path = paths(digest);
      const info = path ? await stat(path).catch(() => undefined) : undefined;
      return info?.isFile() ? info.size : undefined;
    },
    async open(digest) {
      const inMemory = memory.get(digest);
      if (inMemory) return Readable.from([inMemory]);
      const path = paths(digest);
      if (!path) throw new LayoutError(`blob ${digest} is not in the layout`);
      return createReadStream(path);
    },
    async read(digest, max) {
      const inMemory = memory.get(digest);
      if (inMemory) return inMemory;
      const path = paths(digest);
      const info = path ? await stat(path).catch(() => undefined) : undefined;
      if (!path || !info?.isFile()) throw new LayoutError(`manifest ${digest} is not in the layout`);
      if (info.size > max) throw new LayoutError(`manifest ${digest} is larger than ${max} bytes`);
      return readFile(path);
    },
    async close() {
      await cleanup();
    },
  };
}

async function ociLayout(dir: string, verified: Set<string>, cleanup: () => Promise<unknown>): Promise<LayoutSource> {
  const layout = (await readJson(join(dir, 'oci-layout'), 'oci-layout')) as { imageLayoutVersion?: unknown };
  if (typeof layout?.imageLayoutVersion !== 'string' || !layout.imageLayoutVersion.startsWith('1.')) {
    throw new LayoutError(`unsupported image layout version ${JSON.stringify(layout?.imageLayoutVersion)}`);
  }
  const index = (await readJson(join(dir, 'index.json'), 'index.json')) as { manifests?: unknown };
  if (!Array.isArray(index?.manifests)) throw new LayoutError('index.json has no manifests list');
  const entries = (index.manifests as IndexEntry[]).filter((d) => typeof d?.digest === 'string' && typeof d.mediaType === 'string' && typeof d.size === 'number');
  return fileSource((digest) => blobPath(dir, digest), new Map(), entries, verified, cleanup);
}

interface DockerSaveImage {
  Config?: unknown;
  RepoTags?: unknown;
  Layers?: unknown;
}

async function hashFile(path: string): Promise<{ digest: string; size: number }> {
  const hash = createHash('sha256');
  let size = 0;
  for await (const chunk of createReadStream(path)) {
    hash.update(chunk as Buffer);
    size += (chunk as Buffer).length;
  }
  return { digest: `sha256:${hash.digest('hex')}`, size };
}

/**
 * `docker save` (before Docker 25, which writes an OCI layout as well): each image is a config
 * file and uncompressed layer tars; the config's diff_ids are the layers' digests, which checks them.
 */
async function dockerSave(dir: string, verified: Set<string>, cleanup: () => Promise<unknown>): Promise<LayoutSource> {
  const images = (await readJson(join(dir, 'manifest.json'), 'manifest.json')) as DockerSaveImage[];
  if (!Array.isArray(images)) throw new LayoutError('manifest.json is not a list of images');
  const root = await realpath(dir);
  const files = new Map<string, string>();
  const memory = new Map<string, Buffer>();
  const entries: IndexEntry[] = [];
  const resolveFile = async (name: unknown, what: string): Promise<string> => {
    const path = typeof name === 'string' ? inside(root, name) : undefined;
    const real = path ? await realpath(path).catch(() => undefined) : undefined;
    if (!real || !real.startsWith(root + sep)) throw new LayoutError(`${what} ${String(name).slice(0, 200)} is not in the archive`);
    return real;
  };
  for (const image of images) {
    const configPath = await resolveFile(image.Config, 'config');
    const config = await readFile(configPath);
    const configDigest = `sha256:${createHash('sha256').update(config).digest('hex')}`;
    const named = /([a-f0-9]{64})(?:\.json)?$/.exec(String(image.Config));
    if (named && named[1] !== configDigest.slice(7)) throw new LayoutError(`config ${String(image.Config)} in the archive is corrupt: its bytes hash to ${configDigest}`);
    let diffIds: unknown;
    try {
      diffIds = (JSON.parse(config.toString('utf8')) as { rootfs?: { diff_ids?: unknown } }).rootfs?.diff_ids;
    } catch {
      throw new LayoutError(`config ${String(image.Config)} is not valid JSON`);
    }
    const layerNames = Array.isArray(image.Layers) ? image.Layers : [];
    if (!Array.isArray(diffIds) || diffIds.length !== layerNames.length) throw new LayoutError(`config ${String(image.Config)} does not list one diff_id per layer`);
    files.set(configDigest, configPath);
    verified.add(configDigest);
    const layers = [];
    for (const [i, name] of layerNames.entries()) {
      const path = await resolveFile(name, 'layer');
      const { digest, size } = await hashFile(path);
      if (digest !== diffIds[i]) throw new LayoutError(`layer ${String(name)} in the archive is corrupt: its bytes hash to ${digest}, the config says ${String(diffIds[i])}`);
      files.set(digest, path);
      verified.add(digest);
      layers.push({ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest, size });
    }
    const manifest = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: configDigest, size: config.length },
        layers,
      }),
    );
    const digest = `sha256:${createHash('sha256').update(manifest).digest('hex')}`;
    memory.set(digest, manifest);
    verified.add(digest);
    const descriptor = { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest, size: manifest.length };
    const tags = Array.isArray(image.RepoTags) ? image.RepoTags.filter((t): t is string => typeof t === 'string') : [];
    if (tags.length === 0) entries.push(descriptor);
    for (const name of tags) {
      const colon = name.lastIndexOf(':');
      entries.push({ ...descriptor, annotations: { [IMAGE_NAME]: name, ...(colon > name.lastIndexOf('/') ? { [REF_NAME]: name.slice(colon + 1) } : {}) } });
    }
  }
  return fileSource((digest) => files.get(digest), memory, entries, verified, cleanup);
}
