// Promotion: copy (or move) an image from one repository to another on this registry without
// moving bytes. The copy takes the image's whole closure: the platform manifests of an index,
// its referrers (signatures, SBOMs, attestations, and referrers of those), and cosign's
// tag-scheme companions (`sha256-<hex>.sig|.att|.sbom`). Blobs are linked into the target (a
// cross-repository mount, so quotas apply) and manifests stored through ManifestService, so
// the target's immutable-tag rules, repository quota and scans apply as for any push. Scan
// results are per digest and so are shared already.
import { RegistryError } from './errors.js';
import type { BlobService } from './blobs.js';
import type { ManifestService } from './manifests.js';
import type { ManifestRecord, MetadataStore } from '../metadata/store.js';
import { checkName } from './names.js';
import { manifestRefs } from './manifest.js';

/** Cosign stores signatures, attestations and SBOMs under tags derived from the digest. */
const COSIGN_SUFFIXES = ['sig', 'att', 'sbom'];
/** Bounds the closure of one promotion (an index of indexes with many referrers). */
const MAX_MANIFESTS = 2_000;

export interface PromotionRequest {
  sourceRepository: string;
  /** Tag or digest in the source. */
  reference: string;
  targetRepository: string;
  /** Tag to give the image in the target (default: the source tag, when the reference is one). */
  targetTag?: string;
  /** Also delete the source tag (a move). */
  move?: boolean;
  actor: string;
}

export interface PromotionResult {
  digest: string;
  targetRepository: string;
  targetTag: string | null;
  /** Every manifest stored in the target (children and referrers included). */
  manifests: string[];
  /** Blobs linked into the target. */
  blobs: number;
  /** Cosign companion tags copied. */
  tags: string[];
  moved: boolean;
}

/** Checks an image may enter the target (e.g. a namespace's signature and vulnerability policy); throws to refuse. */
export type PromotionGate = (targetRepository: string, record: ManifestRecord) => Promise<void>;

export class PromotionService {
  constructor(
    private readonly metadata: MetadataStore,
    private readonly blobs: BlobService,
    private readonly manifests: ManifestService,
    private readonly gate: PromotionGate = async () => undefined,
  ) {}

  async promote(req: PromotionRequest): Promise<PromotionResult> {
    checkName(req.sourceRepository);
    checkName(req.targetRepository);
    const byTag = !req.reference.includes(':');
    const root = byTag ? await this.metadata.getManifestByTag(req.sourceRepository, req.reference) : await this.metadata.getManifest(req.sourceRepository, req.reference);
    if (!root) throw new RegistryError('MANIFEST_UNKNOWN', undefined, { repository: req.sourceRepository, reference: req.reference });
    const targetTag = req.targetTag ?? (byTag ? req.reference : undefined);
    if (req.move && !byTag) throw new RegistryError('UNSUPPORTED', 'a move needs a source tag (the tag is what moves)', { reference: req.reference }, { status: 400 });
    if (req.sourceRepository === req.targetRepository && (targetTag === undefined || targetTag === req.reference)) {
      throw new RegistryError('UNSUPPORTED', 'source and target are the same', { repository: req.targetRepository }, { status: 400 });
    }
    // Children before their index, subjects before their referrers: every manifest stored
    // finds what it references already in the target.
    const ordered: ManifestRecord[] = [];
    const seen = new Set<string>();
    const companionTags: { tag: string; record: ManifestRecord }[] = [];
    const visit = async (record: ManifestRecord): Promise<void> => {
      if (seen.has(record.digest)) return;
      seen.add(record.digest);
      if (seen.size > MAX_MANIFESTS) throw new RegistryError('UNSUPPORTED', `the image has more than ${MAX_MANIFESTS} manifests with its referrers`, undefined, { status: 400 });
      for (const child of manifestRefs(record.content, record.mediaType).manifests.map((m) => m.digest)) {
        const c = await this.metadata.getManifest(req.sourceRepository, child);
        if (!c) throw new RegistryError('MANIFEST_BLOB_UNKNOWN', 'the index lists a manifest the source repository lacks', { digest: child });
        await visit(c);
      }
      ordered.push(record);
      for (const r of await this.metadata.listReferrers(req.sourceRepository, record.digest)) {
        const referrer = await this.metadata.getManifest(req.sourceRepository, r.digest);
        if (referrer) await visit(referrer);
      }
      const hex = record.digest.replace(':', '-');
      for (const suffix of COSIGN_SUFFIXES) {
        const tag = `${hex}.${suffix}`;
        const companion = await this.metadata.getManifestByTag(req.sourceRepository, tag);
        if (!companion) continue;
        companionTags.push({ tag, record: companion });
        await visit(companion);
      }
    };
    await visit(root);

    let linked = 0;
    const linkedBlobs = new Set<string>();
    for (const record of ordered) {
      for (const { digest: blob } of manifestRefs(record.content, record.mediaType).blobs) {
        if (linkedBlobs.has(blob)) continue;
        linkedBlobs.add(blob);
        if (!(await this.blobs.mount(req.targetRepository, blob, req.sourceRepository))) {
          throw new RegistryError('BLOB_UNKNOWN', 'a blob of the image is not available in the source repository', { digest: blob });
        }
        linked++;
      }
      await this.manifests.put(req.targetRepository, record.digest, record.content, record.mediaType, req.actor);
    }
    for (const { tag, record } of companionTags) await this.manifests.put(req.targetRepository, tag, record.content, record.mediaType, req.actor);
    // Judged in the target, with the signatures copied along; refused, the image is not tagged
    // (its untagged copies are refused on pull by the same policy, and collected later).
    await this.gate(req.targetRepository, root);
    if (targetTag !== undefined) await this.manifests.put(req.targetRepository, targetTag, root.content, root.mediaType, req.actor);
    if (req.move) await this.manifests.delete(req.sourceRepository, req.reference);
    return {
      digest: root.digest,
      targetRepository: req.targetRepository,
      targetTag: targetTag ?? null,
      manifests: ordered.map((r) => r.digest),
      blobs: linked,
      tags: companionTags.map((c) => c.tag),
      moved: req.move === true,
    };
  }
}
