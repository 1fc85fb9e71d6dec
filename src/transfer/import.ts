// `registry import`: everything an image layout (or `docker save` archive) holds goes into the
// registry through the domain services, as a push would (quotas, immutable tags and scans
// apply). The whole closure of every entry is read and every blob checked against its digest
// before the first write, so a corrupt or incomplete archive leaves nothing behind.
import type { BlobService } from '../registry/blobs.js';
import type { ManifestService } from '../registry/manifests.js';
import { digestOf, parseDigest } from '../registry/digest.js';
import { RegistryError } from '../registry/errors.js';
import { isValidName, isValidTag } from '../registry/names.js';
import { verifyingStream } from '../distribution-client/client.js';
import { byteCounter, manifestRefs, type ProgressReporter } from './content.js';
import { IMAGE_NAME, REF_NAME, type IndexEntry } from './layout-writer.js';
import { LayoutError, type LayoutSource } from './layout-reader.js';
import { pipeline } from 'node:stream/promises';
import { pipeline as pipelineCallback, Writable } from 'node:stream';

export interface ImportOptions {
  /** Where everything goes; otherwise the repository the archive names for each image. */
  repository?: string;
  /** Recorded as the pusher (default `import`). */
  actor?: string;
  manifestMaxBytes?: number;
}

export interface ImportReport {
  images: { repository: string; tag?: string; digest: string }[];
  manifests: number;
  blobsPushed: number;
  /** Blobs the repository had already (not written again). */
  blobsPresent: number;
  bytesPushed: number;
}

export interface ImportServices {
  blobs: BlobService;
  manifests: ManifestService;
}

interface PlannedManifest {
  digest: string;
  mediaType: string;
  bytes: Buffer;
}

interface RepositoryPlan {
  manifests: PlannedManifest[];
  seen: Set<string>;
  blobs: Map<string, number>;
  tags: { tag: string; manifest: PlannedManifest }[];
  roots: PlannedManifest[];
}

/** `[host/]name[:tag][@digest]` split into the repository (without a registry host) and tag. */
export function splitImageName(full: string): { repository?: string; tag?: string } {
  let rest = full.split('@', 1)[0]!;
  let tag: string | undefined;
  const colon = rest.lastIndexOf(':');
  if (colon > rest.lastIndexOf('/')) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
  }
  const parts = rest.split('/');
  if (parts.length > 1 && (parts[0]!.includes('.') || parts[0]!.includes(':') || parts[0] === 'localhost')) parts.shift();
  const repository = parts.join('/');
  return { ...(repository ? { repository } : {}), ...(tag ? { tag } : {}) };
}

/** The repository and tag an index.json entry names, from its ref.name and image name annotations. */
function entryName(entry: IndexEntry): { repository?: string; tag?: string } {
  const refName = entry.annotations?.[REF_NAME];
  const imageName = entry.annotations?.[IMAGE_NAME];
  const fromRef = refName === undefined ? {} : isValidTag(refName) ? { tag: refName } : splitImageName(refName);
  const fromImage = imageName !== undefined ? splitImageName(imageName) : {};
  const repository = fromRef.repository ?? fromImage.repository;
  const tag = fromRef.tag ?? fromImage.tag;
  return { ...(repository ? { repository } : {}), ...(tag ? { tag } : {}) };
}

export async function importLayout(
  source: LayoutSource,
  services: ImportServices,
  options: ImportOptions = {},
  onProgress: ProgressReporter = () => undefined,
): Promise<ImportReport> {
  if (source.entries.length === 0) throw new LayoutError('the layout names no images (index.json is empty)');
  const maxBytes = options.manifestMaxBytes ?? 4 * 1024 * 1024;
  const named = source.entries.map((entry) => ({ entry, ...entryName(entry) }));
  const archiveRepositories = new Set(named.flatMap((n) => (n.repository ? [n.repository] : [])));
  const fallback = options.repository ?? (archiveRepositories.size === 1 ? [...archiveRepositories][0] : undefined);

  const plans = new Map<string, RepositoryPlan>();
  const planFor = (repository: string): RepositoryPlan => {
    let plan = plans.get(repository);
    if (!plan) plans.set(repository, (plan = { manifests: [], seen: new Set(), blobs: new Map(), tags: [], roots: [] }));
    return plan;
  };

  const visit = async (plan: RepositoryPlan, descriptor: { digest: string; mediaType: string; size: number }, path: string): Promise<PlannedManifest> => {
    const bytes = await source.read(descriptor.digest, maxBytes);
    const actual = digestOf(parseDigest(descriptor.digest).algorithm, bytes).value;
    if (actual !== descriptor.digest) throw new LayoutError(`manifest ${descriptor.digest} in the archive is corrupt: its bytes hash to ${actual}`);
    let refs;
    try {
      refs = manifestRefs(bytes, descriptor.mediaType);
    } catch (err) {
      if (err instanceof RegistryError) throw new LayoutError(`manifest ${descriptor.digest} (${path}) is invalid: ${err.message}`);
      throw err;
    }
    const manifest = { digest: descriptor.digest, mediaType: refs.mediaType, bytes };
    if (plan.seen.has(descriptor.digest)) return manifest;
    plan.seen.add(descriptor.digest);
    for (const blob of refs.blobs) {
      const size = await source.size(blob.digest);
      if (size === undefined) throw new LayoutError(`blob ${blob.digest} (${path}) is not in the archive`);
      if (size !== blob.size) throw new LayoutError(`blob ${blob.digest} (${path}) is ${size} bytes, its descriptor says ${blob.size}`);
      plan.blobs.set(blob.digest, size);
    }
    for (const child of refs.manifests) await visit(plan, child, `${path} > ${child.digest}`);
    // Children before their index: the registry checks an index's manifests are there.
    plan.manifests.push(manifest);
    return manifest;
  };

  for (const { entry, repository, tag } of named) {
    const target = options.repository ?? repository ?? fallback;
    if (!target) throw new LayoutError(`the archive does not say which repository ${entry.digest} belongs to; give --repository`);
    if (!isValidName(target)) throw new LayoutError(`${target} is not a valid repository name; give --repository`);
    if (tag !== undefined && !isValidTag(tag)) throw new LayoutError(`${tag} is not a valid tag`);
    const plan = planFor(target);
    const manifest = await visit(plan, entry, tag ?? entry.digest);
    if (tag !== undefined) plan.tags.push({ tag, manifest });
    else plan.roots.push(manifest);
  }

  // Every byte checked before the first write.
  const unchecked = new Map<string, number>();
  for (const plan of plans.values()) for (const [digest, size] of plan.blobs) if (!source.verified.has(digest)) unchecked.set(digest, size);
  const checkTotal = [...unchecked.values()].reduce((a, b) => a + b, 0);
  let checked = 0;
  const onChecked = (n: number) => onProgress('verify', (checked += n), checkTotal, 'bytes');
  for (const [digest, size] of unchecked) {
    await pipeline(await source.open(digest), byteCounter(onChecked), verifyingStream(digest, size), new Writable({ write: (_c, _e, cb) => cb() })).catch((err: Error) => {
      throw new LayoutError(`blob ${digest} in the layout is corrupt (${err.message})`);
    });
  }

  const report: ImportReport = { images: [], manifests: 0, blobsPushed: 0, blobsPresent: 0, bytesPushed: 0 };
  let total = 0;
  for (const plan of plans.values()) for (const size of plan.blobs.values()) total += size;
  let done = 0;
  const onStored = (n: number) => onProgress('import', (done += n), total, 'bytes');
  const actor = options.actor ?? 'import';
  onProgress('import', done, total, 'bytes');
  for (const [repository, plan] of plans) {
    for (const [digest, size] of plan.blobs) {
      const present = await services.blobs.stat(repository, digest).then(
        () => true,
        () => false,
      );
      if (present) {
        report.blobsPresent++;
        onStored(size);
      } else {
        const body = byteCounter(onStored);
        pipelineCallback(await source.open(digest), body, () => undefined);
        await services.blobs.putMonolithic(repository, digest, { body, length: size });
        report.blobsPushed++;
        report.bytesPushed += size;
      }
    }
    for (const m of plan.manifests) {
      await services.manifests.put(repository, m.digest, m.bytes, m.mediaType, actor);
      report.manifests++;
    }
    for (const { tag, manifest } of plan.tags) {
      await services.manifests.put(repository, tag, manifest.bytes, manifest.mediaType, actor);
      report.images.push({ repository, tag, digest: manifest.digest });
    }
    for (const root of plan.roots) report.images.push({ repository, digest: root.digest });
  }
  return report;
}
