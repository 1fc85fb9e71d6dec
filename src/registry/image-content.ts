// What a stored manifest is: an image (layers that are filesystem tars), an index (platform
// manifests), or another artifact (signatures, SBOMs, attestations, charts). Scanning reads
// images; pull policies judge images and indexes; artifacts are neither scanned nor blocked.
const LAYER_TYPES = new Set([
  'application/vnd.oci.image.layer.v1.tar',
  'application/vnd.oci.image.layer.v1.tar+gzip',
  'application/vnd.oci.image.layer.v1.tar+zstd',
  'application/vnd.oci.image.layer.nondistributable.v1.tar',
  'application/vnd.oci.image.layer.nondistributable.v1.tar+gzip',
  'application/vnd.oci.image.layer.nondistributable.v1.tar+zstd',
  'application/vnd.docker.image.rootfs.diff.tar.gzip',
  'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip',
]);

/** OCI and Docker filesystem layers (tar, compressed or not, distributable or not). */
export function isImageLayer(mediaType: unknown): boolean {
  return typeof mediaType === 'string' && LAYER_TYPES.has(mediaType);
}

export interface LayerRef {
  digest: string;
  mediaType: string;
  size: number;
}

export type ImageContent = { kind: 'image'; layers: LayerRef[] } | { kind: 'index'; children: string[] } | { kind: 'artifact' };

interface ManifestShape {
  mediaType?: string;
  manifests?: { digest?: unknown }[];
  layers?: { digest?: unknown; mediaType?: unknown; size?: unknown }[];
  subject?: unknown;
  artifactType?: unknown;
}

/** Classify manifest bytes (already validated when they were pushed). */
export function imageContent(bytes: Buffer): ImageContent {
  let m: ManifestShape;
  try {
    m = JSON.parse(bytes.toString('utf8')) as ManifestShape;
  } catch {
    return { kind: 'artifact' };
  }
  if (Array.isArray(m.manifests)) {
    return { kind: 'index', children: m.manifests.map((d) => d.digest).filter((d): d is string => typeof d === 'string') };
  }
  if (!Array.isArray(m.layers) || m.subject !== undefined || m.artifactType !== undefined) return { kind: 'artifact' };
  const layers = m.layers.filter((l) => typeof l.digest === 'string' && typeof l.mediaType === 'string');
  if (layers.length === 0 || !layers.every((l) => isImageLayer(l.mediaType))) return { kind: 'artifact' };
  return { kind: 'image', layers: layers.map((l) => ({ digest: l.digest as string, mediaType: l.mediaType as string, size: Number(l.size ?? 0) })) };
}
