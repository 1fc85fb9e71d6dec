// The push direction of replication, symmetric to `registry mirror`: images of this registry
// are read from our stores and sent to another registry through the Distribution client. A
// tag whose digest the peer already has costs one HEAD; of a new image only the blobs the peer
// lacks are uploaded (or mounted from a repository pushed earlier in the run); children go
// before their index, referrers after their subject. Bytes go as stored: digests are preserved.
import { globMatcher } from '../registry/glob.js';
import type { DistributionClient, Descriptor } from '../distribution-client/client.js';
import type { BlobService } from '../registry/blobs.js';
import type { MetadataStore } from '../metadata/store.js';
import { pipeline } from 'node:stream';
import { byteCounter, manifestRefs, type ProgressReporter } from '../transfer/content.js';
import { splitSource, type MirroredReference } from '../transfer/mirror.js';

const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
const TAG_PAGE = 1000;

export interface PushRequest {
  /** Repositories here: `name` (its tags), `name:tag` or `name@digest`. */
  repositories: string[];
  /** With a bare name: only the tags matching this glob; otherwise every tag. */
  tags?: string;
  /** Also push the manifests that refer to each pushed one (signatures, SBOMs). */
  referrers?: boolean;
  /** Only find out what would be sent (HEAD requests at the peer, nothing written). */
  dryRun?: boolean;
}

export interface PushReport {
  repositories: { repository: string; references: MirroredReference[] }[];
  manifestsCopied: number;
  blobsSent: number;
  /** Blobs the peer had already, or mounted there from another repository. */
  blobsPresent: number;
  bytesSent: number;
  failures: number;
}

export interface PushSources {
  blobs: BlobService;
  metadata: MetadataStore;
}

/** Every tag of a repository here, page by page. */
export async function localTags(metadata: MetadataStore, repository: string): Promise<string[]> {
  const tags: string[] = [];
  for (;;) {
    const page = await metadata.listTags(repository, { limit: TAG_PAGE, ...(tags.length ? { after: tags[tags.length - 1]! } : {}) });
    tags.push(...page);
    if (page.length < TAG_PAGE) return tags;
  }
}

export async function pushRepositories(client: DistributionClient, sources: PushSources, request: PushRequest, onProgress: ProgressReporter = () => undefined): Promise<PushReport> {
  const { blobs, metadata } = sources;
  const report: PushReport = { repositories: [], manifestsCopied: 0, blobsSent: 0, blobsPresent: 0, bytesSent: 0, failures: 0 };
  const matches = request.tags !== undefined ? globMatcher(request.tags) : () => true;
  /** A repository at the peer that has the blob (pushed or seen there during this run). */
  const pushedIn = new Map<string, string>();
  let bytes = 0;

  for (const source of request.repositories) {
    const { name, tag, digest } = splitSource(source);
    const entry = { repository: name, references: [] as MirroredReference[] };
    report.repositories.push(entry);
    const references = digest !== undefined ? [digest] : tag !== undefined ? [tag] : (await localTags(metadata, name)).filter(matches);
    /** Referrers pushed per subject (for peers without the referrers API: their tag index). */
    const referrersOf = new Map<string, Descriptor[]>();
    const seen = new Set<string>();

    const sendBlob = async (blob: { digest: string; size: number }): Promise<void> => {
      if (request.dryRun) {
        if (await client.headBlob(name, blob.digest)) report.blobsPresent++;
        else {
          report.blobsSent++;
          report.bytesSent += blob.size;
        }
        return;
      }
      const info = await blobs.stat(name, blob.digest);
      const mountFrom = pushedIn.get(blob.digest);
      const how = await client.pushBlob(
        name,
        blob,
        async () => {
          const counter = byteCounter((n) => onProgress(`push ${name}`, (bytes += n), undefined, 'bytes'));
          pipeline(await blobs.open(info), counter, () => undefined);
          return counter;
        },
        mountFrom !== undefined ? { mountFrom } : {},
      );
      if (how === 'uploaded') {
        report.blobsSent++;
        report.bytesSent += blob.size;
      } else report.blobsPresent++;
      pushedIn.set(blob.digest, name);
    };

    /** Push one manifest with what it needs (children, blobs), then its referrers. */
    const sendManifest = async (manifestDigest: string, asTag?: string): Promise<boolean> => {
      if (seen.has(manifestDigest)) return false;
      seen.add(manifestDigest);
      const record = await metadata.getManifest(name, manifestDigest);
      if (!record) throw new Error(`manifest ${manifestDigest} not found in ${name}`);
      const refs = manifestRefs(record.content, record.mediaType);
      const there = (await client.headManifest(name, manifestDigest)) !== undefined;
      let sent = false;
      if (!there) {
        for (const child of refs.manifests) await sendManifest(child.digest);
        for (const blob of refs.blobs) await sendBlob(blob);
      }
      if (!there || asTag !== undefined) {
        if (!request.dryRun) await client.pushManifest(name, asTag ?? manifestDigest, record.content, refs.mediaType);
        report.manifestsCopied++;
        sent = true;
      }
      if (refs.subject !== undefined && !there) {
        const list = referrersOf.get(refs.subject) ?? [];
        list.push({ mediaType: refs.mediaType, digest: manifestDigest, size: record.content.length, ...(record.artifactType ? { artifactType: record.artifactType } : {}), ...(record.annotations ? { annotations: record.annotations } : {}) });
        referrersOf.set(refs.subject, list);
      }
      if (request.referrers) for (const r of await metadata.listReferrers(name, manifestDigest)) await sendManifest(r.digest);
      return sent;
    };

    let done = 0;
    onProgress(`push ${name}`, done, references.length);
    for (const reference of references) {
      try {
        const isDigest = reference.includes(':');
        const local = isDigest ? await metadata.getManifest(name, reference) : await metadata.getManifestByTag(name, reference);
        if (!local) throw new Error('not found here');
        const remote = isDigest ? undefined : await client.headManifest(name, reference);
        const copied = await sendManifest(local.digest, isDigest || remote?.digest === local.digest ? undefined : reference);
        entry.references.push({ reference, digest: local.digest, status: copied ? 'copied' : 'unchanged' });
      } catch (err) {
        report.failures++;
        entry.references.push({ reference, status: 'failed', error: err instanceof Error ? err.message : String(err) });
      }
      onProgress(`push ${name}`, ++done, references.length);
    }
    if (!request.dryRun) {
      for (const [subject, pushed] of referrersOf) {
        try {
          await listReferrersAt(client, name, subject, pushed);
        } catch (err) {
          report.failures++;
          entry.references.push({ reference: subject, status: 'failed', error: `referrers index: ${err instanceof Error ? err.message : String(err)}` });
        }
      }
    }
  }
  return report;
}

/**
 * Make the peer list the referrers pushed to `subject`: a registry with the referrers API does
 * so by itself; one without it gets (or has extended) the `sha256-<hex>` tag index of the
 * referrers tag schema, as OCI 1.1 clients leave it.
 */
async function listReferrersAt(client: DistributionClient, repository: string, subject: string, pushed: Descriptor[]): Promise<void> {
  const listed = await client.listReferrers(repository, subject);
  const missing = pushed.filter((d) => !listed.some((l) => l.digest === d.digest));
  if (missing.length === 0) return;
  const index = { schemaVersion: 2, mediaType: OCI_INDEX, manifests: [...listed, ...missing] };
  await client.pushManifest(repository, subject.replace(':', '-'), Buffer.from(JSON.stringify(index)), OCI_INDEX);
}
