// Images as a build tool pushes them, for the browse API and UI tests: a configuration with
// a platform, labels and history, layers of given sizes, multi-platform indexes and artifacts
// (a signature) referring to an image.
import { EMPTY_DESCRIPTOR, MediaType, pushBlob, pushManifest, randomBytes, sha256, type Descriptor } from './oci.js';

export interface BuiltImage {
  digest: string;
  /** Bytes of the manifest. */
  size: number;
  config: Descriptor;
  layers: Descriptor[];
}

export interface BuildOptions {
  architecture?: string;
  labels?: Record<string, string>;
  layerSizes?: number[];
  headers?: Record<string, string>;
}

export async function pushBuiltImage(base: string, repo: string, reference: string, options: BuildOptions = {}): Promise<BuiltImage> {
  const headers = options.headers ?? {};
  const layerSizes = options.layerSizes ?? [300, 700];
  const config = {
    architecture: options.architecture ?? 'amd64',
    os: 'linux',
    created: '2026-01-02T03:04:05Z',
    config: { Labels: options.labels ?? {}, Env: ['PATH=/usr/local/bin:/usr/bin'], Cmd: ['/app', '--serve'], WorkingDir: '/srv' },
    rootfs: { type: 'layers', diff_ids: layerSizes.map(() => `sha256:${'0'.repeat(64)}`) },
    history: [
      { created: '2026-01-02T03:04:00Z', created_by: 'ADD rootfs.tar /' },
      { created: '2026-01-02T03:04:05Z', created_by: 'COPY app /app' },
      { created: '2026-01-02T03:04:05Z', created_by: 'CMD ["/app"]', empty_layer: true },
    ],
    nonce: randomBytes(6).toString('hex'),
  };
  const configDescriptor = await pushBlob(base, repo, JSON.stringify(config), MediaType.OciConfig, headers);
  const layers: Descriptor[] = [];
  for (const size of layerSizes) layers.push(await pushBlob(base, repo, randomBytes(size), MediaType.OciLayer, headers));
  const manifest = { schemaVersion: 2, mediaType: MediaType.OciManifest, config: configDescriptor, layers };
  const pushed = await pushManifest(base, repo, reference, manifest, MediaType.OciManifest, headers);
  return { digest: pushed.digest, size: pushed.bytes.length, config: configDescriptor, layers };
}

/** An index of images for linux/amd64 and linux/arm64. */
export async function pushPlatformIndex(base: string, repo: string, reference: string, headers: Record<string, string> = {}): Promise<{ digest: string; children: BuiltImage[] }> {
  const children: BuiltImage[] = [];
  for (const architecture of ['amd64', 'arm64']) children.push(await pushBuiltImage(base, repo, `${reference}-${architecture}`, { architecture, headers }));
  const index = {
    schemaVersion: 2,
    mediaType: MediaType.OciIndex,
    manifests: children.map((c, i) => ({ mediaType: MediaType.OciManifest, digest: c.digest, size: c.size, platform: { os: 'linux', architecture: i === 0 ? 'amd64' : 'arm64' } })),
  };
  const pushed = await pushManifest(base, repo, reference, index, MediaType.OciIndex, headers);
  return { digest: pushed.digest, children };
}

export const SIGNATURE_TYPE = 'application/vnd.dev.cosign.artifact.sig.v1+json';

/** A signature-like artifact whose subject is `subject`. */
export async function pushSignatureArtifact(base: string, repo: string, subject: BuiltImage, headers: Record<string, string> = {}): Promise<string> {
  await pushBlob(base, repo, '{}', MediaType.OciEmpty, headers);
  const payload = await pushBlob(base, repo, randomBytes(64), 'application/vnd.dev.cosign.simplesigning.v1+json', headers);
  const manifest = {
    schemaVersion: 2,
    mediaType: MediaType.OciManifest,
    artifactType: SIGNATURE_TYPE,
    config: EMPTY_DESCRIPTOR,
    layers: [payload],
    subject: { mediaType: MediaType.OciManifest, digest: subject.digest, size: subject.size },
  };
  const bytes = Buffer.from(JSON.stringify(manifest));
  return (await pushManifest(base, repo, sha256(bytes), bytes, MediaType.OciManifest, headers)).digest;
}
