// Pushing a generated document (an SBOM) as an OCI 1.1 artifact that refers to an image: an
// empty config, one layer holding the document, and the image as `subject`, so clients find
// it through the referrers API. Goes through the same services as a client push (quotas
// apply; the manifest is recorded as pushed by `scanner`).
import { Readable } from 'node:stream';
import type { BlobService } from '../registry/blobs.js';
import type { ManifestService } from '../registry/manifests.js';
import { digestOf } from '../registry/digest.js';
import type { ArtifactPush } from './service.js';

const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const EMPTY_CONFIG = 'application/vnd.oci.empty.v1+json';

async function putBlob(blobs: BlobService, repository: string, bytes: Buffer): Promise<{ digest: string; size: number }> {
  const digest = digestOf('sha256', bytes).value;
  await blobs.putMonolithic(repository, digest, { body: Readable.from([bytes]), length: bytes.length });
  return { digest, size: bytes.length };
}

/** Push the artifact; returns its manifest digest. */
export async function pushReferrerArtifact(blobs: BlobService, manifests: ManifestService, a: ArtifactPush): Promise<string> {
  const config = await putBlob(blobs, a.repository, Buffer.from('{}'));
  const layer = await putBlob(blobs, a.repository, a.bytes);
  const manifest = {
    schemaVersion: 2,
    mediaType: OCI_MANIFEST,
    artifactType: a.artifactType,
    config: { mediaType: EMPTY_CONFIG, ...config },
    layers: [{ mediaType: a.artifactType, ...layer }],
    subject: a.subject,
    annotations: a.annotations,
  };
  const body = Buffer.from(JSON.stringify(manifest));
  const digest = digestOf('sha256', body).value;
  await manifests.put(a.repository, digest, body, OCI_MANIFEST, 'scanner');
  return digest;
}
