// Signatures the way cosign makes them, built here with Node's crypto: a simple-signing
// payload naming the image digest, signed with a private key, pushed as a blob with a
// signature manifest carrying the base64 signature in the layer annotation, either under the
// `sha256-<hex>.sig` tag or as an OCI 1.1 referrer of the image. Also Notary Project and
// sigstore-bundle referrers (recognised, not verified).
import { generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { EMPTY_DESCRIPTOR, EMPTY_JSON, MediaType, pushBlob, pushManifest, sha256, type Descriptor } from './oci.js';

export const SIMPLESIGNING = 'application/vnd.dev.cosign.simplesigning.v1+json';
export const COSIGN_SIG_ARTIFACT = 'application/vnd.dev.cosign.artifact.sig.v1+json';
export const NOTARY_SIG = 'application/vnd.cncf.notary.signature';
export const SIGSTORE_BUNDLE = 'application/vnd.dev.sigstore.bundle.v0.3+json';

export interface KeyPair {
  privateKey: KeyObject;
  /** PEM SubjectPublicKeyInfo, as cosign.pub holds it. */
  publicPem: string;
}

export function ecKeyPair(namedCurve: 'P-256' | 'P-384' = 'P-256'): KeyPair {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve });
  return { privateKey, publicPem: publicKey.export({ type: 'spki', format: 'pem' }).toString() };
}

/** The simple-signing payload cosign signs for `reference` at `digest`. */
export function cosignPayload(reference: string, digest: string, type = 'cosign container image signature'): Buffer {
  return Buffer.from(
    JSON.stringify({
      critical: { identity: { 'docker-reference': reference }, image: { 'docker-manifest-digest': digest }, type },
      optional: { creator: 'registry tests' },
    }),
  );
}

/** Base64 signature over the payload bytes (SHA-256; ECDSA signatures DER-encoded, as cosign writes them). */
export function signPayload(privateKey: KeyObject, payload: Buffer): string {
  const hash = privateKey.asymmetricKeyType === 'ed25519' ? null : 'sha256';
  return sign(hash, payload, privateKey).toString('base64');
}

export interface CosignOptions {
  /** Push as an OCI 1.1 referrer of the image (cosign's OCI 1.1 mode) instead of under the .sig tag. */
  referrer?: boolean;
  /** The payload to push (default: the right one for the image). */
  payload?: Buffer;
  /** The signature to put in the annotation (default: the key's signature over the payload). */
  signature?: string;
  headers?: Record<string, string>;
}

/** Sign image `digest` of `repo` with `key` the way cosign does; the signature manifest's digest. */
export async function cosignSign(base: string, repo: string, digest: string, key: KeyObject, options: CosignOptions = {}): Promise<string> {
  const headers = options.headers ?? {};
  const payload = options.payload ?? cosignPayload(`${new URL(base).host}/${repo}`, digest);
  const layerBlob = await pushBlob(base, repo, payload, SIMPLESIGNING, headers);
  const layer: Descriptor = { ...layerBlob, annotations: { 'dev.cosignproject.cosign/signature': options.signature ?? signPayload(key, payload) } };
  if (options.referrer) {
    await pushBlob(base, repo, EMPTY_JSON, MediaType.OciEmpty, headers);
    const manifest = {
      schemaVersion: 2,
      mediaType: MediaType.OciManifest,
      artifactType: COSIGN_SIG_ARTIFACT,
      config: EMPTY_DESCRIPTOR,
      layers: [layer],
      subject: { mediaType: MediaType.OciManifest, digest, size: 0 },
    };
    return (await pushManifest(base, repo, sha256(JSON.stringify(manifest)), manifest, MediaType.OciManifest, headers)).digest;
  }
  const config = Buffer.from(JSON.stringify({ architecture: '', os: '', config: {}, rootfs: { type: 'layers', diff_ids: [] } }));
  const configDesc = await pushBlob(base, repo, config, MediaType.OciConfig, headers);
  const manifest = { schemaVersion: 2, mediaType: MediaType.OciManifest, config: configDesc, layers: [layer] };
  return (await pushManifest(base, repo, `sha256-${digest.slice('sha256:'.length)}.sig`, manifest, MediaType.OciManifest, headers)).digest;
}

/** An OCI 1.1 referrer of `digest` with this artifactType and one opaque layer (notation, sigstore bundle). */
export async function pushSignatureReferrer(base: string, repo: string, digest: string, artifactType: string, headers: Record<string, string> = {}): Promise<string> {
  await pushBlob(base, repo, EMPTY_JSON, MediaType.OciEmpty, headers);
  const envelope = await pushBlob(base, repo, JSON.stringify({ payload: 'e30', signature: 'c2ln', nonce: Math.random() }), artifactType === NOTARY_SIG ? 'application/jose+json' : artifactType, headers);
  const manifest = {
    schemaVersion: 2,
    mediaType: MediaType.OciManifest,
    artifactType,
    config: EMPTY_DESCRIPTOR,
    layers: [envelope],
    subject: { mediaType: MediaType.OciManifest, digest, size: 0 },
  };
  return (await pushManifest(base, repo, sha256(JSON.stringify(manifest)), manifest, MediaType.OciManifest, headers)).digest;
}
