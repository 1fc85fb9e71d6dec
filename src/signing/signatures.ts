// Finding and verifying the signatures of a manifest in its repository: cosign's
// `sha256-<hex>.sig` tag and the referrers whose artifactType marks a signature. cosign
// signatures are verified against the public keys of the repository's namespace: the
// signature must verify over the exact payload bytes, and the payload must name this very
// manifest and be of cosign's type. Other kinds are listed, not verified.
import { digestOf, parseDigest } from '../registry/digest.js';
import { namespaceOf } from '../registry/names.js';
import type { MetadataStore } from '../metadata/store.js';
import type { BlobStore } from '../storage/blob-store.js';
import type { SigningKey, SigningStore } from '../metadata/signing-store.js';
import { COSIGN_TYPE, MAX_PAYLOAD_BYTES, cosignLayers, cosignSignatureTag, parseSimpleSigning, referrerSignatureKind, type CosignLayer, type SignatureKind } from './formats.js';
import { parsePublicKey, verifyPayload, type PublicKeyInfo } from './keys.js';

export interface FoundSignature {
  kind: SignatureKind;
  /** The signature manifest. */
  manifestDigest: string;
  artifactType: string | null;
  /** cosign kinds: the payload blob, whether a key of the namespace verified it, which, or why not. */
  payloadDigest?: string;
  verified?: boolean;
  key?: { id: string; name: string; algorithm: string };
  reason?: string;
}

interface UsableKey {
  key: SigningKey;
  info: PublicKeyInfo;
}

export class SignatureService {
  /** Parsed keys by id (keys never change; a deleted key's entry is simply not asked for again). */
  private parsed = new Map<string, PublicKeyInfo | string>();

  constructor(
    private readonly metadata: MetadataStore,
    private readonly blobs: BlobStore,
    private readonly store: SigningStore,
  ) {}

  /** Every signature of `digest` in the repository, cosign ones verified. */
  async list(repository: string, digest: string): Promise<FoundSignature[]> {
    const keys = await this.keysOf(namespaceOf(repository));
    const found: FoundSignature[] = [];
    const tagged = await this.metadata.getManifestByTag(repository, cosignSignatureTag(digest));
    if (tagged) found.push(...(await this.cosign('cosign', repository, digest, tagged.digest, tagged.artifactType, tagged.content, keys)));
    for (const referrer of await this.metadata.listReferrers(repository, digest)) {
      const kind = referrerSignatureKind(referrer.artifactType);
      if (kind === undefined) continue;
      if (kind !== 'cosign-referrer') {
        found.push({ kind, manifestDigest: referrer.digest, artifactType: referrer.artifactType });
        continue;
      }
      const manifest = await this.metadata.getManifest(repository, referrer.digest);
      if (manifest) found.push(...(await this.cosign(kind, repository, digest, manifest.digest, manifest.artifactType, manifest.content, keys)));
    }
    return found;
  }

  /** Whether a key of the repository's namespace verifies a cosign signature of `digest`. */
  async hasValidSignature(repository: string, digest: string): Promise<boolean> {
    return (await this.list(repository, digest)).some((s) => s.verified === true);
  }

  private async keysOf(namespace: string): Promise<UsableKey[]> {
    const usable: UsableKey[] = [];
    for (const key of await this.store.listKeys(namespace)) {
      let info = this.parsed.get(key.id);
      if (info === undefined) {
        info = parsePublicKey(key.publicKey);
        this.parsed.set(key.id, info);
      }
      if (typeof info !== 'string') usable.push({ key, info });
    }
    return usable;
  }

  private async cosign(
    kind: SignatureKind,
    repository: string,
    digest: string,
    manifestDigest: string,
    artifactType: string | null,
    content: Buffer,
    keys: UsableKey[],
  ): Promise<FoundSignature[]> {
    let layers: CosignLayer[] = [];
    try {
      layers = cosignLayers(JSON.parse(content.toString('utf8')));
    } catch {
      // Stored manifests are valid JSON; nothing to list if this one is not.
    }
    const base = { kind, manifestDigest, artifactType };
    if (layers.length === 0) return [{ ...base, verified: false, reason: 'the manifest has no simple-signing layer with a signature annotation' }];
    const out: FoundSignature[] = [];
    for (const layer of layers) {
      out.push({ ...base, payloadDigest: layer.payloadDigest, ...(await this.verifyLayer(repository, digest, layer, keys)) });
    }
    return out;
  }

  private async verifyLayer(repository: string, digest: string, layer: CosignLayer, keys: UsableKey[]): Promise<Pick<FoundSignature, 'verified' | 'key' | 'reason'>> {
    const refuse = (reason: string) => ({ verified: false, reason });
    if (keys.length === 0) return refuse(`namespace ${namespaceOf(repository)} has no signing keys`);
    if (layer.payloadSize > MAX_PAYLOAD_BYTES) return refuse('the payload is too large to be a simple-signing payload');
    const payload = await this.readPayload(layer.payloadDigest);
    if (payload === undefined) return refuse('the payload blob is missing or does not match its digest');
    const key = keys.find((k) => verifyPayload(k.info, payload, layer.signature));
    if (!key) return refuse(`no signing key of namespace ${namespaceOf(repository)} verifies the signature`);
    const claims = parseSimpleSigning(payload);
    if (typeof claims === 'string') return refuse(claims);
    if (claims.type !== COSIGN_TYPE) return refuse(`the payload's critical.type is not "${COSIGN_TYPE}"`);
    if (claims.manifestDigest !== digest) return refuse(`the payload signs ${claims.manifestDigest.slice(0, 200)}, another manifest`);
    return { verified: true, key: { id: key.key.id, name: key.key.name, algorithm: key.info.algorithm } };
  }

  /** The payload blob's bytes, checked against its digest (at most MAX_PAYLOAD_BYTES). */
  private async readPayload(payloadDigest: string): Promise<Buffer | undefined> {
    let parsed;
    try {
      parsed = parseDigest(payloadDigest);
    } catch {
      return undefined;
    }
    const parts: Buffer[] = [];
    let total = 0;
    try {
      const stream = await this.blobs.read(parsed);
      for await (const chunk of stream) {
        total += (chunk as Buffer).length;
        if (total > MAX_PAYLOAD_BYTES) {
          stream.destroy();
          return undefined;
        }
        parts.push(chunk as Buffer);
      }
    } catch {
      return undefined;
    }
    const bytes = Buffer.concat(parts, total);
    return digestOf(parsed.algorithm, bytes).value === parsed.value ? bytes : undefined;
  }
}
