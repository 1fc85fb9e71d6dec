// What the web UI shows of a manifest: its layers and their sizes, the image configuration
// (platform, labels, environment, history), the platforms of an index, its tags and referrers.
// Built from the stored manifest; the configuration blob is read only when it is small.
import type { ManifestRecord, ReferrerRecord } from '../metadata/store.js';
import { parseManifest, type Descriptor } from './manifest.js';
import type { DescriptorView, ImageConfigSummary, ManifestDetails } from './manifest-view.js';
import { isIndexMediaType } from './media-types.js';

export type { DescriptorView, HistoryEntry, ImageConfigSummary, ManifestDetails } from './manifest-view.js';

/** Larger configuration blobs are not read (an image's is a few kilobytes). */
export const CONFIG_READ_LIMIT = 1024 * 1024;

const IMAGE_CONFIG_TYPES = new Set<string>(['application/vnd.oci.image.config.v1+json', 'application/vnd.docker.container.image.v1+json']);

export interface DetailSources {
  /** The configuration blob's bytes, or undefined when it is absent or too large. */
  readConfig(digest: string, size: number): Promise<Buffer | undefined>;
  tagsOf(digest: string): Promise<string[]>;
  referrers(digest: string): Promise<ReferrerRecord[]>;
}

function view(d: Descriptor): DescriptorView {
  return {
    digest: d.digest.value,
    mediaType: d.mediaType,
    size: d.size,
    ...(d.artifactType ? { artifactType: d.artifactType } : {}),
    ...(d.platform ? { platform: d.platform } : {}),
    ...(d.annotations ? { annotations: d.annotations } : {}),
  };
}

const str = (v: unknown): string | null => (typeof v === 'string' ? v : null);
const strings = (v: unknown): string[] | null => (Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : null);
const record = (v: unknown): Record<string, unknown> => (typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : {});

/** The parts of an OCI or Docker image configuration worth showing; tolerant of odd fields. */
export function summarizeImageConfig(raw: Buffer): ImageConfigSummary | null {
  let body: unknown;
  try {
    body = JSON.parse(raw.toString('utf8'));
  } catch {
    return null;
  }
  const top = record(body);
  const config = record(top['config']);
  const labels: Record<string, string> = {};
  for (const [k, v] of Object.entries(record(config['Labels']))) if (typeof v === 'string') labels[k] = v;
  const history = Array.isArray(top['history'])
    ? top['history'].map((h) => {
        const e = record(h);
        return { created: str(e['created']), createdBy: str(e['created_by']), comment: str(e['comment']), emptyLayer: e['empty_layer'] === true };
      })
    : [];
  return {
    created: str(top['created']),
    architecture: str(top['architecture']),
    os: str(top['os']),
    variant: str(top['variant']),
    author: str(top['author']),
    labels,
    env: strings(config['Env']) ?? [],
    entrypoint: strings(config['Entrypoint']),
    cmd: strings(config['Cmd']),
    workingDir: str(config['WorkingDir']),
    user: str(config['User']),
    exposedPorts: Object.keys(record(config['ExposedPorts'])),
    history,
  };
}

export async function describeManifest(record: ManifestRecord, sources: DetailSources): Promise<ManifestDetails> {
  const parsed = parseManifest(record.content, record.mediaType);
  const isIndex = isIndexMediaType(parsed.mediaType);
  let config: ManifestDetails['config'] = null;
  if (parsed.config) {
    const isImage = IMAGE_CONFIG_TYPES.has(parsed.config.mediaType);
    const bytes = isImage && parsed.config.size <= CONFIG_READ_LIMIT ? await sources.readConfig(parsed.config.digest.value, parsed.config.size) : undefined;
    config = { ...view(parsed.config), image: bytes ? summarizeImageConfig(bytes) : null };
  }
  const layers = parsed.layers.map(view);
  const manifests = parsed.manifests.map(view);
  const [tags, referrers] = await Promise.all([sources.tagsOf(record.digest), sources.referrers(record.digest)]);
  const parts = isIndex ? manifests : [...(config ? [config] : []), ...layers];
  return {
    repository: record.repository,
    digest: record.digest,
    mediaType: parsed.mediaType,
    kind: isIndex ? 'index' : config && IMAGE_CONFIG_TYPES.has(config.mediaType) ? 'image' : 'artifact',
    size: record.content.length,
    totalSize: record.content.length + parts.reduce((sum, p) => sum + p.size, 0),
    artifactType: record.artifactType,
    annotations: parsed.annotations ?? {},
    subject: parsed.subject ? view(parsed.subject) : null,
    config,
    layers,
    manifests,
    tags,
    referrers: referrers.map((r) => ({
      digest: r.digest,
      mediaType: r.mediaType,
      size: r.size,
      ...(r.artifactType ? { artifactType: r.artifactType } : {}),
      ...(r.annotations ? { annotations: r.annotations } : {}),
    })),
    createdAt: record.createdAt.toISOString(),
  };
}
