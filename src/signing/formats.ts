// The signature formats the registry recognises, as they appear in a repository: cosign's
// tag scheme (`sha256-<hex>.sig` manifests whose layers are simple-signing payloads with the
// signature in an annotation), cosign's OCI 1.1 referrers (same layers, artifactType
// ...cosign.artifact.sig), sigstore bundles and Notary Project (notation) signatures as
// referrers. Pure functions: no I/O here.
import { parseDigest } from '../registry/digest.js';

export const COSIGN_SIMPLESIGNING = 'application/vnd.dev.cosign.simplesigning.v1+json';
export const COSIGN_ARTIFACT_SIG = 'application/vnd.dev.cosign.artifact.sig.v1+json';
export const SIGSTORE_BUNDLE_PREFIX = 'application/vnd.dev.sigstore.bundle';
export const NOTARY_SIGNATURE = 'application/vnd.cncf.notary.signature';

export const ANNOTATION_SIGNATURE = 'dev.cosignproject.cosign/signature';
export const ANNOTATION_CERTIFICATE = 'dev.sigstore.cosign/certificate';
export const ANNOTATION_BUNDLE = 'dev.sigstore.cosign/bundle';

/** What the simple-signing payload's critical.type must say. */
export const COSIGN_TYPE = 'cosign container image signature';

/** Payloads are a few hundred bytes; anything far larger is not one. */
export const MAX_PAYLOAD_BYTES = 64 * 1024;

export type SignatureKind = 'cosign' | 'cosign-referrer' | 'sigstore-bundle' | 'notation';

/** The tag cosign stores an image's signatures under: `sha256:abc` → `sha256-abc.sig`. */
export function cosignSignatureTag(digest: string): string {
  const { algorithm, hex } = parseDigest(digest);
  return `${algorithm}-${hex}.sig`;
}

/** The kind of a referrer, from its artifactType; undefined for anything that is not a signature. */
export function referrerSignatureKind(artifactType: string | null): SignatureKind | undefined {
  if (artifactType === null) return undefined;
  if (artifactType === COSIGN_ARTIFACT_SIG) return 'cosign-referrer';
  if (artifactType.startsWith(SIGSTORE_BUNDLE_PREFIX)) return 'sigstore-bundle';
  if (artifactType === NOTARY_SIGNATURE) return 'notation';
  return undefined;
}

/** One cosign signature: a layer of a signature manifest. */
export interface CosignLayer {
  /** The payload blob. */
  payloadDigest: string;
  payloadSize: number;
  /** Base64 signature over the payload bytes. */
  signature: string;
  certificate?: string;
  bundle?: string;
}

/** The simple-signing layers of a cosign signature manifest (tag scheme or referrer). */
export function cosignLayers(manifest: unknown): CosignLayer[] {
  const layers = isObject(manifest) && Array.isArray(manifest['layers']) ? manifest['layers'] : [];
  const out: CosignLayer[] = [];
  for (const layer of layers) {
    if (!isObject(layer) || layer['mediaType'] !== COSIGN_SIMPLESIGNING) continue;
    const annotations = isObject(layer['annotations']) ? layer['annotations'] : {};
    const signature = annotations[ANNOTATION_SIGNATURE];
    if (typeof layer['digest'] !== 'string' || typeof layer['size'] !== 'number' || typeof signature !== 'string') continue;
    const certificate = annotations[ANNOTATION_CERTIFICATE];
    const bundle = annotations[ANNOTATION_BUNDLE];
    out.push({
      payloadDigest: layer['digest'],
      payloadSize: layer['size'],
      signature,
      ...(typeof certificate === 'string' ? { certificate } : {}),
      ...(typeof bundle === 'string' ? { bundle } : {}),
    });
  }
  return out;
}

export interface SimpleSigningPayload {
  dockerReference: string | undefined;
  manifestDigest: string;
  type: string;
}

/**
 * The fields of a simple-signing payload that verification needs, or why it is not one. Key
 * names are matched without regard to case, as cosign's own (Go) decoder does.
 */
export function parseSimpleSigning(bytes: Buffer): SimpleSigningPayload | string {
  let json: unknown;
  try {
    json = JSON.parse(bytes.toString('utf8'));
  } catch {
    return 'the payload is not JSON';
  }
  const critical = field(json, 'critical');
  const digest = field(field(critical, 'image'), 'docker-manifest-digest');
  const type = field(critical, 'type');
  const reference = field(field(critical, 'identity'), 'docker-reference');
  if (typeof digest !== 'string') return 'the payload names no critical.image.docker-manifest-digest';
  if (typeof type !== 'string') return 'the payload has no critical.type';
  return { manifestDigest: digest, type, dockerReference: typeof reference === 'string' ? reference : undefined };
}

function field(value: unknown, name: string): unknown {
  if (!isObject(value)) return undefined;
  if (name in value) return value[name];
  const key = Object.keys(value).find((k) => k.toLowerCase() === name);
  return key === undefined ? undefined : value[key];
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
