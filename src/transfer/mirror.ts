// `registry mirror`: copy repositories of another registry into this one through the
// Distribution client. Tags whose digest is already here cost one HEAD; of a new image only the
// manifests and blobs missing here are fetched; every platform of an index comes along and
// digests are preserved (the bytes are stored as they arrived, after checking them).
import { globMatcher } from '../registry/glob.js';
import type { DistributionClient } from '../distribution-client/client.js';
import type { BlobService } from '../registry/blobs.js';
import type { ManifestService } from '../registry/manifests.js';
import type { MetadataStore } from '../metadata/store.js';
import { pipeline } from 'node:stream';
import { RegistryError } from '../registry/errors.js';
import { byteCounter, manifestRefs, type ProgressReporter } from './content.js';

/** Fetches of one blob before its image is given up (the client already retries each request). */
const BLOB_ATTEMPTS = 3;

export interface MirrorRequest {
  /** Repositories at the source: `name` (its tags), `name:tag` or `name@digest`. */
  repositories: string[];
  /** With a bare name: only the tags matching this glob (`*`, `?`); otherwise every tag. */
  tags?: string;
  /** Also copy the manifests that refer to each copied one (signatures, SBOMs). */
  referrers?: boolean;
  /** Put each repository under this namespace here (`mirror` makes `alpine` into `mirror/alpine`). */
  prefix?: string;
}

export interface MirroredReference {
  reference: string;
  digest?: string;
  status: 'copied' | 'unchanged' | 'failed';
  error?: string;
}

export interface MirrorReport {
  repositories: { source: string; repository: string; references: MirroredReference[] }[];
  manifestsCopied: number;
  blobsFetched: number;
  /** Blobs not fetched: already in the repository, or mounted from another repository of this run. */
  blobsPresent: number;
  bytesFetched: number;
  failures: number;
}

export interface MirrorServices {
  blobs: BlobService;
  manifests: ManifestService;
  metadata: MetadataStore;
}

/** `name[:tag|@digest]` into its parts. */
export function splitSource(value: string): { name: string; tag?: string; digest?: string } {
  const at = value.indexOf('@');
  if (at !== -1) return { name: value.slice(0, at), digest: value.slice(at + 1) };
  const colon = value.lastIndexOf(':');
  if (colon > value.lastIndexOf('/')) return { name: value.slice(0, colon), tag: value.slice(colon + 1) };
  return { name: value };
}

/** What copying one reference takes: its manifests (children first) and the blobs missing here. */
interface ReferencePlan {
  reference: string;
  /** The manifest the reference names at the source. */
  digest: string;
  /** Tag to set (undefined for a digest reference). */
  tag?: string;
  manifests: { digest: string; bytes: Buffer; mediaType: string }[];
  blobs: Map<string, number>;
}

export async function mirrorRepositories(
  client: DistributionClient,
  services: MirrorServices,
  request: MirrorRequest,
  onProgress: ProgressReporter = () => undefined,
): Promise<MirrorReport> {
  const { blobs, manifests, metadata } = services;
  const report: MirrorReport = { repositories: [], manifestsCopied: 0, blobsFetched: 0, blobsPresent: 0, bytesFetched: 0, failures: 0 };
  const matches = request.tags !== undefined ? globMatcher(request.tags) : () => true;
  /** A repository here that has the blob (seen or stored during this run). */
  const storedIn = new Map<string, string>();
  const failed = (entry: { references: MirroredReference[] }, reference: string, err: unknown, digest?: string) => {
    report.failures++;
    entry.references.push({ reference, ...(digest !== undefined ? { digest } : {}), status: 'failed', error: err instanceof Error ? err.message : String(err) });
  };

  for (const source of request.repositories) {
    const { name, tag, digest } = splitSource(source);
    const repository = request.prefix ? `${request.prefix.replace(/\/+$/, '')}/${name}` : name;
    const entry = { source, repository, references: [] as MirroredReference[] };
    report.repositories.push(entry);
    let references: string[];
    try {
      references = digest !== undefined ? [digest] : tag !== undefined ? [tag] : (await client.listTags(name)).filter(matches).sort();
    } catch (err) {
      failed(entry, '(tags)', err);
      continue;
    }

    const isHere = async (blobDigest: string): Promise<boolean> => {
      if (await blobs.stat(repository, blobDigest).then(() => true, () => false)) return true;
      // Layers shared between the repositories of one run are fetched once, then mounted.
      const other = storedIn.get(blobDigest);
      return other !== undefined && (await blobs.mount(repository, blobDigest, other)) !== undefined;
    };

    /** Walk a manifest and what it needs that is not here yet (manifests are fetched, blobs only listed). */
    const plan = async (p: ReferencePlan, manifestDigest: string, seen: Set<string>, known?: { bytes: Buffer; mediaType: string }): Promise<void> => {
      if (seen.has(manifestDigest) || (await metadata.getManifest(repository, manifestDigest))) return;
      seen.add(manifestDigest);
      const { bytes, mediaType } = known ?? (await client.getManifest(name, manifestDigest));
      const refs = manifestRefs(bytes, mediaType);
      for (const blob of refs.blobs) {
        if (p.blobs.has(blob.digest)) continue;
        if (await isHere(blob.digest)) {
          report.blobsPresent++;
          storedIn.set(blob.digest, repository);
        } else p.blobs.set(blob.digest, blob.size);
      }
      for (const child of refs.manifests) await plan(p, child.digest, seen);
      p.manifests.push({ digest: manifestDigest, bytes, mediaType: refs.mediaType });
      // After their subject: the referrers (signatures, SBOMs) of each copied manifest.
      if (request.referrers) for (const r of await client.listReferrers(name, manifestDigest)) await plan(p, r.digest, seen);
    };

    // 1. What each reference needs (manifests fetched and checked; a tag already here costs a HEAD).
    const plans: ReferencePlan[] = [];
    let planned = 0;
    onProgress(`plan ${name}`, planned, references.length);
    for (const reference of references) {
      try {
        const isDigest = reference.includes(':');
        const head = await client.headManifest(name, reference);
        if (!head) throw new Error('not found at the source');
        const local = isDigest ? await metadata.getManifest(repository, head.digest) : await metadata.getManifestByTag(repository, reference);
        const p: ReferencePlan = { reference, digest: head.digest, ...(isDigest ? {} : { tag: reference }), manifests: [], blobs: new Map() };
        const seen = new Set<string>();
        if (local?.digest === head.digest) {
          // Referrers may have been added since (a new signature): those missing here are copied.
          if (request.referrers) for (const r of await client.listReferrers(name, head.digest)) await plan(p, r.digest, seen);
        } else {
          const got = await client.getManifest(name, head.digest);
          await plan(p, got.digest, seen, got);
          // The root is pushed by tag below; planned (children first) even when it is here already.
          if (!p.manifests.some((m) => m.digest === got.digest)) p.manifests.push({ digest: got.digest, bytes: got.bytes, mediaType: manifestRefs(got.bytes, got.mediaType).mediaType });
        }
        plans.push(p);
      } catch (err) {
        failed(entry, reference, err);
      }
      onProgress(`plan ${name}`, ++planned, references.length);
    }

    // 2. The missing blobs, once each, with one byte count for the repository.
    const missing = new Map<string, number>();
    for (const p of plans) for (const [d, size] of p.blobs) missing.set(d, size);
    const total = [...missing.values()].reduce((a, b) => a + b, 0);
    let bytes = 0;
    const broken = new Map<string, unknown>();
    if (missing.size) onProgress(`fetch ${name}`, bytes, total, 'bytes');
    for (const [blobDigest, size] of missing) {
      try {
        if (await isHere(blobDigest)) {
          report.blobsPresent++;
        } else {
          await fetchBlob(client, blobs, name, repository, blobDigest, size, (n) => onProgress(`fetch ${name}`, (bytes += n), total, 'bytes'));
          report.blobsFetched++;
          report.bytesFetched += size;
        }
        storedIn.set(blobDigest, repository);
      } catch (err) {
        broken.set(blobDigest, err);
      }
    }

    // 3. Manifests (children first) and tags of every reference whose blobs all arrived.
    for (const p of plans) {
      const blobError = [...p.blobs.keys()].map((d) => broken.get(d)).find((e) => e !== undefined);
      try {
        if (blobError !== undefined) throw blobError;
        let copied = false;
        for (const m of p.manifests) {
          // The root goes in under its tag (which stores it by digest too).
          const isRoot = m.digest === p.digest;
          await manifests.put(repository, isRoot && p.tag !== undefined ? p.tag : m.digest, m.bytes, m.mediaType, 'mirror');
          report.manifestsCopied++;
          copied ||= isRoot;
        }
        entry.references.push({ reference: p.reference, digest: p.digest, status: copied ? 'copied' : 'unchanged' });
      } catch (err) {
        failed(entry, p.reference, err, p.digest);
      }
    }
  }
  return report;
}

/** Stream one blob from the source into the store; a connection that breaks mid-blob starts it again (bounded). */
async function fetchBlob(client: DistributionClient, blobs: BlobService, name: string, repository: string, digest: string, size: number, onBytes: (n: number) => void): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    let counted = 0;
    try {
      const fetched = await client.getBlob(name, digest, size);
      const body = byteCounter((n) => {
        counted += n;
        onBytes(n);
      });
      pipeline(fetched.stream, body, () => undefined);
      await blobs.putMonolithic(repository, digest, { body, length: size });
      return;
    } catch (err) {
      onBytes(-counted);
      if (attempt >= BLOB_ATTEMPTS || err instanceof RegistryError) throw err;
    }
  }
}
