// The manifest media types this registry understands, and Accept-header negotiation.

export const MediaType = {
  OciManifest: 'application/vnd.oci.image.manifest.v1+json',
  OciIndex: 'application/vnd.oci.image.index.v1+json',
  DockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  DockerManifestList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  DockerSchema1: 'application/vnd.docker.distribution.manifest.v1+json',
  DockerSchema1Signed: 'application/vnd.docker.distribution.manifest.v1+prettyjws',
  OciEmpty: 'application/vnd.oci.empty.v1+json',
} as const;

export type ManifestMediaType =
  | typeof MediaType.OciManifest
  | typeof MediaType.OciIndex
  | typeof MediaType.DockerManifest
  | typeof MediaType.DockerManifestList;

export const MANIFEST_MEDIA_TYPES: readonly ManifestMediaType[] = [
  MediaType.OciManifest,
  MediaType.OciIndex,
  MediaType.DockerManifest,
  MediaType.DockerManifestList,
];

export function isManifestMediaType(value: string): value is ManifestMediaType {
  return (MANIFEST_MEDIA_TYPES as readonly string[]).includes(value);
}

export function isIndexMediaType(value: string): boolean {
  return value === MediaType.OciIndex || value === MediaType.DockerManifestList;
}

/** Media type without parameters (`; charset=utf-8`), lower-cased. */
export function bareMediaType(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  const bare = value.split(';', 1)[0]!.trim().toLowerCase();
  return bare === '' ? undefined : bare;
}

/**
 * The media types a client accepts, from one or several Accept headers. An empty list means
 * the client expressed no preference. Entries with q=0 are dropped.
 */
export function parseAccept(header: string | string[] | undefined): string[] {
  if (header === undefined) return [];
  const values = Array.isArray(header) ? header : [header];
  const types: string[] = [];
  for (const value of values) {
    for (const entry of value.split(',')) {
      const [type, ...params] = entry.split(';').map((p) => p.trim().toLowerCase());
      if (!type) continue;
      if (params.some((p) => /^q=0(?:\.0*)?$/.test(p))) continue;
      types.push(type);
    }
  }
  return types;
}

export function accepts(accepted: readonly string[], mediaType: string): boolean {
  if (accepted.length === 0) return true;
  const [major] = mediaType.split('/', 1);
  return accepted.some((a) => a === '*/*' || a === mediaType || a === `${major}/*`);
}
