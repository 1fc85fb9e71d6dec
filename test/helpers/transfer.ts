// Fixtures for the export, import and mirror tests: a two-platform image (real gzip'ed tar
// layers, as an OCI layout on disk) with an SBOM artifact that refers to its index, pushed into
// a registry with plain HTTP requests.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { OciLayout, OCI_INDEX, OCI_MANIFEST, sha256, type BuiltImage, type Descriptor } from './oci-layout.js';
import { EMPTY_DESCRIPTOR, EMPTY_JSON, pushBlob, pushManifest } from './oci.js';

export const SBOM_TYPE = 'application/vnd.example.sbom.v1+json';

export interface MultiArchFixture {
  layout: OciLayout;
  images: BuiltImage[];
  index: { index: Buffer; descriptor: Descriptor };
  /** An SBOM artifact whose subject is the index. */
  referrer: { manifest: Buffer; digest: string; sbom: Buffer };
}

export async function multiArchFixture(dir: string, tag = 'v1'): Promise<MultiArchFixture> {
  const layout = await OciLayout.create(join(dir, `layout-${randomBytes(4).toString('hex')}`));
  const shared = [{ path: 'etc/os-release', content: 'ID=transfer\n' }];
  const images = [
    await layout.addImage({ os: 'linux', architecture: 'amd64' }, [shared, [{ path: 'bin/tool', content: randomBytes(300_000), mode: 0o755 }]]),
    await layout.addImage({ os: 'linux', architecture: 'arm64', variant: 'v8' }, [shared, [{ path: 'bin/tool', content: randomBytes(200_000), mode: 0o755 }]]),
  ];
  const index = await layout.addIndex(images);
  layout.tag(index.descriptor, tag);
  await layout.save();
  const sbom = Buffer.from(JSON.stringify({ bomFormat: 'CycloneDX', nonce: randomBytes(6).toString('hex') }));
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      artifactType: SBOM_TYPE,
      config: EMPTY_DESCRIPTOR,
      layers: [{ mediaType: SBOM_TYPE, digest: sha256(sbom), size: sbom.length }],
      subject: { mediaType: OCI_INDEX, digest: index.descriptor.digest, size: index.descriptor.size },
    }),
  );
  return { layout, images, index, referrer: { manifest, digest: sha256(manifest), sbom } };
}

/** Every blob and manifest of the fixture (the referrer too), as a client push would send them. */
export async function pushFixture(base: string, repo: string, tag: string, f: MultiArchFixture, headers: Record<string, string> = {}): Promise<void> {
  for (const image of f.images) {
    await pushBlob(base, repo, image.config, undefined, headers);
    for (const layer of image.layers) await pushBlob(base, repo, layer.gz, undefined, headers);
    await pushManifest(base, repo, image.descriptor.digest, image.manifest, OCI_MANIFEST, headers);
  }
  await pushManifest(base, repo, tag, f.index.index, OCI_INDEX, headers);
  await pushBlob(base, repo, EMPTY_JSON, undefined, headers);
  await pushBlob(base, repo, f.referrer.sbom, undefined, headers);
  await pushManifest(base, repo, f.referrer.digest, f.referrer.manifest, OCI_MANIFEST, headers);
}

/** Every blob of the fixture's images with its bytes (configs, layers, manifests, the index). */
export function fixtureBlobs(f: MultiArchFixture): Map<string, Buffer> {
  const blobs = new Map<string, Buffer>([[f.index.descriptor.digest, f.index.index]]);
  for (const image of f.images) {
    blobs.set(image.descriptor.digest, image.manifest);
    blobs.set(image.configDigest, image.config);
    for (const layer of image.layers) blobs.set(layer.digest, layer.gz);
  }
  return blobs;
}

/** The registry serves every one of `blobs` in `repo` with exactly these bytes (manifests by digest too). */
export async function assertHolds(base: string, repo: string, blobs: Map<string, Buffer>, manifests: Set<string>): Promise<void> {
  for (const [digest, bytes] of blobs) {
    const kind = manifests.has(digest) ? 'manifests' : 'blobs';
    const res = await fetch(`${base}/v2/${repo}/${kind}/${digest}`, { headers: { Accept: `${OCI_MANIFEST}, ${OCI_INDEX}` } });
    assert.equal(res.status, 200, `${kind} ${digest} in ${repo}`);
    assert.ok(Buffer.from(await res.arrayBuffer()).equals(bytes), `${kind} ${digest} byte for byte`);
  }
}

export function manifestDigests(f: MultiArchFixture): Set<string> {
  return new Set([f.index.descriptor.digest, ...f.images.map((i) => i.descriptor.digest)]);
}
