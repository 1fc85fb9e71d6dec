// `registry export`: images of one repository (a tag, a digest, or every tag), with every
// platform of an index and optionally their referrers (signatures, SBOMs), written from the
// configured stores as an OCI image layout tar. Blobs stream from the store into the archive.
import type { BlobService } from '../registry/blobs.js';
import type { ManifestRecord, MetadataStore } from '../metadata/store.js';
import { parseDigest } from '../registry/digest.js';
import { parseReference } from '../registry/manifests.js';
import { checkName } from '../registry/names.js';
import { manifestRefs, type ProgressReporter } from './content.js';
import { IMAGE_NAME, REF_NAME, type IndexEntry, type LayoutTarWriter } from './layout-writer.js';

export interface ExportRequest {
  repository: string;
  /** Tags or digests; empty with allTags. */
  references: string[];
  allTags?: boolean;
  /** Also the manifests that refer to the exported ones (and theirs). */
  referrers?: boolean;
}

export interface ExportReport {
  repository: string;
  /** What index.json names: tags (or digests) and the manifests they point at. */
  images: { reference: string; digest: string }[];
  manifests: number;
  blobs: number;
  bytes: number;
}

export interface ExportStores {
  metadata: MetadataStore;
  blobs: BlobService;
}

const TAG_PAGE = 1000;

export class ExportError extends Error {}

async function allTags(metadata: MetadataStore, repository: string): Promise<string[]> {
  const tags: string[] = [];
  for (let after: string | undefined; ; ) {
    const page = await metadata.listTags(repository, { limit: TAG_PAGE, ...(after !== undefined ? { after } : {}) });
    tags.push(...page);
    if (page.length < TAG_PAGE) return tags;
    after = page[page.length - 1];
  }
}

export async function exportImages(
  stores: ExportStores,
  request: ExportRequest,
  writer: LayoutTarWriter,
  onProgress: ProgressReporter = () => undefined,
): Promise<ExportReport> {
  const { metadata, blobs } = stores;
  const repository = checkName(request.repository);
  const references = request.allTags ? await allTags(metadata, repository) : request.references;
  if (references.length === 0) throw new ExportError(request.allTags ? `repository ${repository} has no tags` : 'nothing to export: give a tag, a digest or --all-tags');

  const roots: { reference: string; tag?: string; record: ManifestRecord }[] = [];
  for (const reference of references) {
    const ref = parseReference(reference);
    const record = ref.kind === 'tag' ? await metadata.getManifestByTag(repository, ref.tag) : await metadata.getManifest(repository, ref.digest);
    if (!record) throw new ExportError(`no manifest ${repository}${ref.kind === 'tag' ? `:${ref.tag}` : `@${ref.digest}`}`);
    roots.push({ reference, ...(ref.kind === 'tag' ? { tag: ref.tag } : {}), record });
  }

  // Everything reachable first (manifests are small), so progress has a total and a missing
  // child fails the export before a byte is written.
  const manifests = new Map<string, ManifestRecord>();
  const blobSizes = new Map<string, number>();
  const referrers: IndexEntry[] = [];
  const visit = async (record: ManifestRecord): Promise<void> => {
    if (manifests.has(record.digest)) return;
    manifests.set(record.digest, record);
    const refs = manifestRefs(record.content, record.mediaType);
    for (const b of refs.blobs) {
      if (blobSizes.has(b.digest)) continue;
      const info = await blobs.stat(repository, b.digest).catch(() => undefined);
      if (!info) throw new ExportError(`blob ${b.digest} of ${repository}@${record.digest} is not in the registry`);
      blobSizes.set(b.digest, info.size);
    }
    for (const child of refs.manifests) {
      const childRecord = await metadata.getManifest(repository, child.digest);
      if (!childRecord) throw new ExportError(`manifest ${repository}@${child.digest} (a child of ${record.digest}) is not in the registry`);
      await visit(childRecord);
    }
    if (request.referrers) {
      for (const r of await metadata.listReferrers(repository, record.digest)) {
        const referrer = await metadata.getManifest(repository, r.digest);
        if (!referrer || manifests.has(r.digest)) continue;
        referrers.push({ mediaType: r.mediaType, digest: r.digest, size: r.size, annotations: { [IMAGE_NAME]: `${repository}@${r.digest}` } });
        await visit(referrer);
      }
    }
  };
  for (const root of roots) await visit(root.record);

  let total = 0;
  for (const size of blobSizes.values()) total += size;
  for (const record of manifests.values()) total += record.content.length;
  let bytes = 0;
  const onBytes = (n: number) => onProgress('export', (bytes += n), total, 'bytes');
  onProgress('export', bytes, total, 'bytes');
  for (const [digest, size] of blobSizes) await writer.addBlob(digest, size, () => blobs.open({ digest: parseDigest(digest), size }), onBytes);
  for (const record of manifests.values()) await writer.addBytes(record.digest, record.content, onBytes);

  const entries: IndexEntry[] = roots.map((root) => ({
    mediaType: root.record.mediaType,
    digest: root.record.digest,
    size: root.record.content.length,
    annotations: (root.tag !== undefined ? { [REF_NAME]: root.tag, [IMAGE_NAME]: `${repository}:${root.tag}` } : { [IMAGE_NAME]: `${repository}@${root.record.digest}` }) as Record<string, string>,
  }));
  await writer.finish([...entries, ...referrers]);
  return {
    repository,
    images: roots.map((r) => ({ reference: r.reference, digest: r.record.digest })),
    manifests: manifests.size,
    blobs: blobSizes.size,
    bytes,
  };
}
