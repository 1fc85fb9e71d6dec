// Parsing and validation of manifests per media type: OCI image manifest and index, Docker
// schema2 manifest and manifest list, OCI artifacts. Pure functions: no I/O here; the caller
// checks that the referenced blobs and manifests exist.
import { RegistryError } from './errors.js';
import { parseDigest, type Digest } from './digest.js';
import {
  MediaType,
  bareMediaType,
  isIndexMediaType,
  isManifestMediaType,
  type ManifestMediaType,
} from './media-types.js';

export interface Descriptor {
  mediaType: string;
  digest: Digest;
  size: number;
  artifactType?: string;
  annotations?: Record<string, string>;
  urls?: string[];
  platform?: Platform;
}

export interface Platform {
  architecture: string;
  os: string;
  variant?: string;
}

export interface ParsedManifest {
  mediaType: ManifestMediaType;
  /** artifactType as the referrers API reports it (manifest field, else config media type). */
  artifactType?: string;
  subject?: Descriptor;
  annotations?: Record<string, string>;
  config?: Descriptor;
  layers: Descriptor[];
  /** Child manifests of an index or manifest list. */
  manifests: Descriptor[];
}

/** Layer media types that may live outside the registry and need not be uploaded. */
const FOREIGN_LAYER_TYPES = new Set([
  'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip',
  'application/vnd.oci.image.layer.nondistributable.v1.tar',
  'application/vnd.oci.image.layer.nondistributable.v1.tar+gzip',
  'application/vnd.oci.image.layer.nondistributable.v1.tar+zstd',
]);

export function isForeignLayer(d: Descriptor): boolean {
  return FOREIGN_LAYER_TYPES.has(d.mediaType) || (d.urls !== undefined && d.urls.length > 0);
}

type Json = Record<string, unknown>;

function invalid(message: string, detail?: unknown): RegistryError {
  return new RegistryError('MANIFEST_INVALID', message, detail);
}

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

const MEDIA_TYPE_GRAMMAR = /^[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}\/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}$/;

function optionalString(obj: Json, field: string, where: string): string | undefined {
  const value = obj[field];
  if (value === undefined) return undefined;
  if (typeof value !== 'string') throw invalid(`${where}.${field} must be a string`);
  return value;
}

function mediaTypeField(obj: Json, field: string, where: string, required: boolean): string | undefined {
  const value = optionalString(obj, field, where);
  if (value === undefined) {
    if (required) throw invalid(`${where}.${field} is required`);
    return undefined;
  }
  if (!MEDIA_TYPE_GRAMMAR.test(value)) throw invalid(`${where}.${field} is not a valid media type`, { [field]: value });
  return value;
}

function annotationsField(obj: Json, where: string): Record<string, string> | undefined {
  const value = obj['annotations'];
  if (value === undefined || value === null) return undefined;
  if (!isObject(value)) throw invalid(`${where}.annotations must be an object`);
  for (const [k, v] of Object.entries(value)) {
    if (typeof v !== 'string') throw invalid(`${where}.annotations[${JSON.stringify(k)}] must be a string`);
  }
  return value as Record<string, string>;
}

export function parseDescriptor(value: unknown, where: string): Descriptor {
  if (!isObject(value)) throw invalid(`${where} must be a descriptor object`);
  const mediaType = mediaTypeField(value, 'mediaType', where, true)!;
  const rawDigest = value['digest'];
  if (typeof rawDigest !== 'string') throw invalid(`${where}.digest is required`);
  let digest: Digest;
  try {
    digest = parseDigest(rawDigest);
  } catch {
    throw invalid(`${where}.digest is not a valid digest`, { digest: rawDigest.slice(0, 256) });
  }
  const size = value['size'];
  if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0) {
    throw invalid(`${where}.size must be a non-negative integer`);
  }
  const descriptor: Descriptor = { mediaType, digest, size };
  const artifactType = mediaTypeField(value, 'artifactType', where, false);
  if (artifactType !== undefined) descriptor.artifactType = artifactType;
  const annotations = annotationsField(value, where);
  if (annotations !== undefined) descriptor.annotations = annotations;
  const urls = value['urls'];
  if (urls !== undefined) {
    if (!Array.isArray(urls) || urls.some((u) => typeof u !== 'string')) throw invalid(`${where}.urls must be strings`);
    descriptor.urls = urls as string[];
  }
  const platform = value['platform'];
  if (platform !== undefined) {
    if (!isObject(platform) || typeof platform['architecture'] !== 'string' || typeof platform['os'] !== 'string') {
      throw invalid(`${where}.platform needs architecture and os`);
    }
    descriptor.platform = {
      architecture: platform['architecture'],
      os: platform['os'],
      ...(typeof platform['variant'] === 'string' ? { variant: platform['variant'] } : {}),
    };
  }
  return descriptor;
}

function descriptorList(obj: Json, field: string, required: boolean): Descriptor[] {
  const value = obj[field];
  if (value === undefined && !required) return [];
  if (!Array.isArray(value)) throw invalid(`${field} must be an array`);
  return value.map((d, i) => parseDescriptor(d, `${field}[${i}]`));
}

/** Decide which media type a pushed manifest claims, from its body and Content-Type. */
function resolveMediaType(body: Json, contentType: string | undefined): ManifestMediaType {
  const declared = body['mediaType'];
  if (declared !== undefined && typeof declared !== 'string') throw invalid('mediaType must be a string');
  const header = bareMediaType(contentType);
  const usableHeader = header !== undefined && header !== 'application/json' && header !== 'application/octet-stream' ? header : undefined;
  if (declared === MediaType.DockerSchema1 || declared === MediaType.DockerSchema1Signed || body['schemaVersion'] === 1) {
    throw new RegistryError('MANIFEST_INVALID', 'Docker schema 1 manifests are not supported; push schema 2 or OCI', undefined);
  }
  if (declared !== undefined) {
    if (!isManifestMediaType(declared)) {
      throw invalid(`unsupported manifest media type ${declared}`, { mediaType: declared });
    }
    if (usableHeader !== undefined && usableHeader !== declared) {
      throw invalid('Content-Type does not match the manifest mediaType', { contentType: usableHeader, mediaType: declared });
    }
    return declared;
  }
  if (usableHeader !== undefined) {
    if (!isManifestMediaType(usableHeader)) {
      throw invalid(`unsupported manifest media type ${usableHeader}`, { mediaType: usableHeader });
    }
    return usableHeader;
  }
  // OCI allows omitting mediaType; fall back to the shape of the document.
  if (Array.isArray(body['manifests'])) return MediaType.OciIndex;
  if (body['config'] !== undefined) return MediaType.OciManifest;
  throw invalid('cannot tell the manifest media type: set mediaType or Content-Type');
}

/** Parse and validate a manifest body. Throws MANIFEST_INVALID with a precise message. */
export function parseManifest(raw: Uint8Array, contentType: string | undefined): ParsedManifest {
  let body: unknown;
  try {
    body = JSON.parse(Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength).toString('utf8'));
  } catch {
    throw invalid('manifest is not valid JSON');
  }
  if (!isObject(body)) throw invalid('manifest must be a JSON object');
  const mediaType = resolveMediaType(body, contentType);
  if (body['schemaVersion'] !== 2) throw invalid('schemaVersion must be 2');

  const manifest: ParsedManifest = { mediaType, layers: [], manifests: [] };
  const annotations = annotationsField(body, 'manifest');
  if (annotations !== undefined) manifest.annotations = annotations;
  if (body['subject'] !== undefined) manifest.subject = parseDescriptor(body['subject'], 'subject');
  const artifactType = mediaTypeField(body, 'artifactType', 'manifest', false);

  if (isIndexMediaType(mediaType)) {
    manifest.manifests = descriptorList(body, 'manifests', true);
    if (artifactType !== undefined) manifest.artifactType = artifactType;
    if (mediaType === MediaType.DockerManifestList && manifest.subject) {
      throw invalid('a Docker manifest list cannot have a subject');
    }
    return manifest;
  }

  manifest.config = parseDescriptor(body['config'], 'config');
  manifest.layers = descriptorList(body, 'layers', true);
  if (mediaType === MediaType.DockerManifest) {
    if (artifactType !== undefined || manifest.subject) throw invalid('Docker schema 2 manifests cannot carry artifactType or subject');
    if (manifest.layers.length === 0) throw invalid('a Docker schema 2 manifest needs at least one layer');
  }
  // Image spec 1.1: artifactType is required when the config is the empty descriptor.
  if (artifactType === undefined && manifest.config.mediaType === MediaType.OciEmpty && manifest.subject === undefined && manifest.layers.length === 0) {
    throw invalid('artifactType is required when config is the empty descriptor');
  }
  manifest.artifactType = artifactType ?? manifest.config.mediaType;
  return manifest;
}

/** Blobs a manifest references that must be in the repository (config and non-foreign layers). */
export function requiredBlobs(manifest: ParsedManifest): Descriptor[] {
  const blobs = manifest.config ? [manifest.config, ...manifest.layers] : [...manifest.layers];
  return blobs.filter((d) => !isForeignLayer(d));
}

/** What a manifest points at, for copying it (export, import, mirror, promotion, replication). */
export interface Ref {
  mediaType: string;
  digest: string;
  size: number;
}

export interface ManifestRefs {
  /** The media type the manifest declares (or the one it was served with). */
  mediaType: string;
  /** Config and layers (foreign layers left out: they live elsewhere). */
  blobs: Ref[];
  /** Child manifests of an index. */
  manifests: Ref[];
  /** The manifest this one refers to (signatures, SBOMs, ...). */
  subject?: string;
}

export function manifestRefs(bytes: Buffer, contentType: string | undefined): ManifestRefs {
  const parsed = parseManifest(bytes, contentType);
  const ref = (d: { mediaType: string; digest: { value: string }; size: number }): Ref => ({ mediaType: d.mediaType, digest: d.digest.value, size: d.size });
  return {
    mediaType: parsed.mediaType,
    blobs: requiredBlobs(parsed).map(ref),
    manifests: parsed.manifests.map(ref),
    ...(parsed.subject ? { subject: parsed.subject.digest.value } : {}),
  };
}
