// `registry mirror`: copy repositories of another registry into this one through the
// Distribution client. Tags whose digest is already here cost one HEAD; of a new image only the
// manifests and blobs missing here are fetched; every platform of an index comes along and
// digests are preserved (the bytes are stored as they arrived, after checking them).
import type { DistributionClient } from '../distribution-client/client.js';
import type { BlobService } from '../registry/blobs.js';
import type { ManifestService } from '../registry/manifests.js';
import type { MetadataStore } from '../metadata/store.js';
import { RegistryError } from '../registry/errors.js';
import { manifestRefs, globMatcher } from './content.js';

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

export async function mirrorRepositories(
  client: DistributionClient,
  services: MirrorServices,
  request: MirrorRequest,
  onProgress: (phase: string, done: number, total?: number) => void = () => undefined,
): Promise<MirrorReport> {
  const { blobs, manifests, metadata } = services;
  const report: MirrorReport = { repositories: [], manifestsCopied: 0, blobsFetched: 0, blobsPresent: 0, bytesFetched: 0, failures: 0 };
  const matches = request.tags !== undefined ? globMatcher(request.tags) : () => true;
  /** A repository here that has the blob (seen or stored during this run). */
  const storedIn = new Map<string, string>();

  for (const source of request.repositories) {
    const { name, tag, digest } = splitSource(source);
    const repository = request.prefix ? `${request.prefix.replace(/\/+$/, '')}/${name}` : name;
    const entry = { source, repository, references: [] as MirroredReference[] };
    report.repositories.push(entry);
    let references: string[];
    try {
      references = digest !== undefined ? [digest] : tag !== undefined ? [tag] : (await client.listTags(name)).filter(matches).sort();
    } catch (err) {
      report.failures++;
      entry.references.push({ reference: '(tags)', status: 'failed', error: err instanceof Error ? err.message : String(err) });
      continue;
    }

    /** Copy a manifest and what it needs that is not here yet; children first. */
    const copy = async (manifestDigest: string, known?: { bytes: Buffer; mediaType: string }): Promise<void> => {
      if (await metadata.getManifest(repository, manifestDigest)) return;
      const { bytes, mediaType } = known ?? (await client.getManifest(name, manifestDigest));
      const refs = manifestRefs(bytes, mediaType);
      for (const blob of refs.blobs) {
        if (await blobs.stat(repository, blob.digest).then(() => true, () => false)) {
          report.blobsPresent++;
          storedIn.set(blob.digest, repository);
          continue;
        }
        // Layers shared between the repositories of one run are fetched once, then mounted.
        const other = storedIn.get(blob.digest);
        if (other !== undefined && (await blobs.mount(repository, blob.digest, other))) {
          report.blobsPresent++;
          continue;
        }
        // A connection that breaks mid-blob fails the stream; the blob is fetched again from the start.
        for (let attempt = 1; ; attempt++) {
          try {
            const fetched = await client.getBlob(name, blob.digest, blob.size);
            await blobs.putMonolithic(repository, blob.digest, { body: fetched.stream, length: blob.size });
            break;
          } catch (err) {
            if (attempt >= BLOB_ATTEMPTS || err instanceof RegistryError) throw err;
          }
        }
        storedIn.set(blob.digest, repository);
        report.blobsFetched++;
        report.bytesFetched += blob.size;
      }
      for (const child of refs.manifests) await copy(child.digest);
      await manifests.put(repository, manifestDigest, bytes, refs.mediaType, 'mirror');
      report.manifestsCopied++;
      if (request.referrers) for (const r of await client.listReferrers(name, manifestDigest)) await copy(r.digest);
    };

    let done = 0;
    onProgress(`mirror ${name}`, done, references.length);
    for (const reference of references) {
      try {
        const isDigest = reference.includes(':');
        const head = await client.headManifest(name, reference);
        if (!head) throw new Error('not found at the source');
        const local = isDigest ? await metadata.getManifest(repository, head.digest) : await metadata.getManifestByTag(repository, reference);
        if (local?.digest === head.digest) {
          // Referrers may have been added since (a new signature): those missing here are copied.
          if (request.referrers) for (const r of await client.listReferrers(name, head.digest)) await copy(r.digest);
          entry.references.push({ reference, digest: head.digest, status: 'unchanged' });
        } else {
          const got = await client.getManifest(name, isDigest ? reference : head.digest);
          await copy(got.digest, got);
          if (!isDigest) await manifests.put(repository, reference, got.bytes, manifestRefs(got.bytes, got.mediaType).mediaType, 'mirror');
          entry.references.push({ reference, digest: got.digest, status: 'copied' });
        }
      } catch (err) {
        report.failures++;
        entry.references.push({ reference, status: 'failed', error: err instanceof Error ? err.message : String(err) });
      }
      onProgress(`mirror ${name}`, ++done, references.length);
    }
  }
  return report;
}
