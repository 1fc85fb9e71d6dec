// Public keys for cosign key-based verification: PEM SubjectPublicKeyInfo of ECDSA P-256 or
// P-384, RSA, or Ed25519, read and used with Node's crypto. cosign signs the payload bytes
// with SHA-256 (ECDSA as ASN.1 DER, RSA as PKCS#1 v1.5, or PSS from other signers); P-384
// keys may hash with SHA-384.
import { constants, createHash, createPublicKey, verify, type KeyObject } from 'node:crypto';

export interface PublicKeyInfo {
  key: KeyObject;
  /** e.g. `ecdsa-p256`, `rsa-3072`, `ed25519`. */
  algorithm: string;
}

const CURVES: Record<string, string> = { prime256v1: 'ecdsa-p256', 'P-256': 'ecdsa-p256', secp384r1: 'ecdsa-p384', 'P-384': 'ecdsa-p384' };
const MAX_PEM = 16 * 1024;

/** The key a PEM holds, or why it is not one we verify with. */
export function parsePublicKey(pem: string): PublicKeyInfo | string {
  if (pem.length > MAX_PEM) return 'the key is too long for a public key';
  if (!pem.includes('-----BEGIN PUBLIC KEY-----')) return 'expected a PEM public key (-----BEGIN PUBLIC KEY-----)';
  let key: KeyObject;
  try {
    key = createPublicKey({ key: pem, format: 'pem' });
  } catch {
    return 'the PEM does not hold a readable public key';
  }
  const details = key.asymmetricKeyDetails ?? {};
  switch (key.asymmetricKeyType) {
    case 'ec': {
      const algorithm = CURVES[details.namedCurve ?? ''];
      return algorithm ? { key, algorithm } : `unsupported elliptic curve ${details.namedCurve ?? '(unknown)'}: use P-256 or P-384`;
    }
    case 'rsa':
      if ((details.modulusLength ?? 0) < 2048) return 'RSA keys must have at least 2048 bits';
      return { key, algorithm: `rsa-${details.modulusLength}` };
    case 'ed25519':
      return { key, algorithm: 'ed25519' };
    default:
      return `unsupported key type ${key.asymmetricKeyType ?? '(unknown)'}: use ECDSA P-256/P-384, RSA or Ed25519`;
  }
}

/** Whether `signature` (base64) is the key's signature over exactly `payload`. */
export function verifyPayload(info: PublicKeyInfo, payload: Buffer, signature: string): boolean {
  const sig = Buffer.from(signature, 'base64');
  if (sig.length === 0) return false;
  try {
    if (info.algorithm === 'ed25519') return verify(null, payload, info.key, sig);
    const hashes = info.algorithm === 'ecdsa-p384' ? ['sha384', 'sha256'] : ['sha256'];
    if (hashes.some((hash) => verify(hash, payload, info.key, sig))) return true;
    if (!info.algorithm.startsWith('rsa-')) return false;
    return verify('sha256', payload, { key: info.key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: constants.RSA_PSS_SALTLEN_AUTO }, sig);
  } catch {
    return false;
  }
}

/** Hex SHA-256 of the key's DER SubjectPublicKeyInfo, for telling keys apart in listings and logs. */
export function keyFingerprint(info: PublicKeyInfo): string {
  return createHash('sha256').update(info.key.export({ type: 'spki', format: 'der' })).digest('hex');
}
