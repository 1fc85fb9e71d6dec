// Package inventory of an image: streams its layers in order, lets each extractor read the
// few files it knows (OS release, package databases, language manifests, Go binaries, jars)
// and applies OCI whiteouts, so only records the final filesystem still holds count.
import type { Inventory, InstalledPackage } from '../model.js';
import { apkExtractor } from './apk.js';
import { dpkgExtractor } from './dpkg.js';
import type { Extractor } from './extractor.js';
import { goBinaryExtractor } from './go-binary.js';
import { ImageFiles, LayerChanges, normalizePath } from './image-files.js';
import { javaExtractor } from './java.js';
import { type ImageLayer, tarEntries } from './layer-tar.js';
import { npmLockExtractor, npmPackageExtractor } from './npm.js';
import { OS_RELEASE_PATHS, osReleaseExtractor } from './os-release.js';
import { dpkgEcosystem, packagePurl } from './purl.js';
import { pythonExtractor } from './python.js';
import { rpmExtractor } from './rpmdb.js';

export { type ImageLayer, LayerFormatError } from './layer-tar.js';

/** In order of precedence: the first that matches a file reads it. Go binaries last (any executable). */
export const EXTRACTORS: readonly Extractor[] = [
  osReleaseExtractor,
  dpkgExtractor,
  apkExtractor,
  rpmExtractor,
  npmPackageExtractor,
  npmLockExtractor,
  pythonExtractor,
  javaExtractor,
  goBinaryExtractor,
];

export interface InventoryOptions {
  extractors?: readonly Extractor[];
  /** Files that could not be read (too big, corrupt); the scan goes on without them. */
  onSkipped?: (skip: { layer: string; path: string; extractor: string; reason: string }) => void;
  /** A layer unpacking to more than this fails with LayerFormatError (decompression bombs). */
  maxLayerBytes?: number;
}

const TAR_FILE_TYPES = new Set(['file', 'contiguous-file']);

async function readLayer(files: ImageFiles, layer: ImageLayer, opts: InventoryOptions): Promise<LayerChanges> {
  const extractors = opts.extractors ?? EXTRACTORS;
  const changes = new LayerChanges();
  for await (const entry of tarEntries(layer, opts.maxLayerBytes)) {
    const h = entry.header;
    const path = normalizePath(h.name);
    if (path === '' || files.note(changes, path, h.type === 'directory') === 'whiteout') continue;
    // A path written twice in one layer: the later entry is the one the filesystem shows.
    changes.found.delete(path);
    if (!TAR_FILE_TYPES.has(h.type ?? 'file')) continue;
    const file = { path, size: h.size ?? 0, mode: h.mode ?? 0 };
    const extractor = extractors.find((x) => x.matches(file));
    if (!extractor) continue;
    const skipped = (reason: string) => opts.onSkipped?.({ layer: layer.digest, path, extractor: extractor.name, reason });
    if (file.size > extractor.maxBytes && !extractor.truncate) {
      skipped(`larger than ${extractor.maxBytes} bytes`);
      continue;
    }
    const data = await entry.read(extractor.maxBytes, {
      ...(extractor.truncate ? { truncate: true } : {}),
      ...(extractor.magic ? { magic: extractor.magic } : {}),
    });
    if (!data) continue;
    try {
      const found = await extractor.extract(data, file);
      // Files that hold nothing (an ELF that is not Go) need no record: a higher layer's write is noted anyway.
      if (found.os || found.packages.length > 0) changes.found.set(path, found);
    } catch (err) {
      skipped((err as Error).message);
    }
  }
  return changes;
}

export async function inventoryImage(layers: AsyncIterable<ImageLayer> | Iterable<ImageLayer>, opts: InventoryOptions = {}): Promise<Inventory> {
  const files = new ImageFiles();
  for await (const layer of layers) files.apply(layer.digest, await readLayer(files, layer, opts));

  const os = OS_RELEASE_PATHS.map((p) => files.get(p)?.found.os).find((o) => o !== undefined);
  const packages: InstalledPackage[] = [];
  for (const [path, record] of files.all()) {
    for (const found of record.found.packages) {
      const ecosystem = found.ecosystem === 'Debian' || found.ecosystem === 'Ubuntu' ? dpkgEcosystem(os) : found.ecosystem;
      const pkg = { ...found, ecosystem, path: found.path ?? path, layer: record.layer };
      packages.push({ ...pkg, purl: packagePurl(pkg, os) });
    }
  }
  return os ? { os, packages } : { packages };
}
