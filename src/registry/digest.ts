// Digests per the OCI image spec: `algorithm:encoded`. sha256 and sha512 are the ones we can
// compute; other well-formed algorithms are refused as unsupported by this registry.
import { createHash, type Hash } from 'node:crypto';
import { RegistryError } from './errors.js';

export type DigestAlgorithm = 'sha256' | 'sha512';

export interface Digest {
  readonly algorithm: DigestAlgorithm;
  readonly hex: string;
  /** The canonical `algorithm:hex` string. */
  readonly value: string;
}

const DIGEST_GRAMMAR = /^[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$/;
const ENCODED: Record<DigestAlgorithm, RegExp> = {
  sha256: /^[a-f0-9]{64}$/,
  sha512: /^[a-f0-9]{128}$/,
};

export function isDigestAlgorithm(value: string): value is DigestAlgorithm {
  return value === 'sha256' || value === 'sha512';
}

/** Parse and check a digest string; throws DIGEST_INVALID when it is not one we accept. */
export function parseDigest(value: string): Digest {
  if (value.length > 256 || !DIGEST_GRAMMAR.test(value)) {
    throw new RegistryError('DIGEST_INVALID', 'invalid digest', { digest: value.slice(0, 256) });
  }
  const colon = value.indexOf(':');
  const algorithm = value.slice(0, colon);
  const hex = value.slice(colon + 1);
  if (!isDigestAlgorithm(algorithm)) {
    throw new RegistryError('DIGEST_INVALID', `unsupported digest algorithm ${algorithm}`, { digest: value });
  }
  if (!ENCODED[algorithm].test(hex)) {
    throw new RegistryError('DIGEST_INVALID', `invalid ${algorithm} digest`, { digest: value });
  }
  return { algorithm, hex, value };
}

export function looksLikeDigest(value: string): boolean {
  return value.includes(':');
}

export function digestOf(algorithm: DigestAlgorithm, data: Uint8Array | string): Digest {
  return fromHash(algorithm, createHash(algorithm).update(data));
}

export function fromHash(algorithm: DigestAlgorithm, hash: Hash): Digest {
  const hex = hash.digest('hex');
  return { algorithm, hex, value: `${algorithm}:${hex}` };
}
