// The pure parts of signature handling: cosign's tag name, the layers and payload of a cosign
// signature, referrer kinds, public keys of every supported algorithm and their verification,
// which manifests a pull policy looks at, and which findings block.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { constants, generateKeyPairSync, sign } from 'node:crypto';
import { cosignLayers, cosignSignatureTag, parseSimpleSigning, referrerSignatureKind } from '../../src/signing/formats.js';
import { parsePublicKey, verifyPayload } from '../../src/signing/keys.js';
import { blockingFindings, exemptFromPullPolicy, isPolicedImage, type Finding } from '../../src/signing/pull-policy.js';
import { cosignPayload, ecKeyPair, signPayload } from '../helpers/signing.js';

const DIGEST = `sha256:${'ab'.repeat(32)}`;
const OTHER = `sha256:${'cd'.repeat(32)}`;

describe('cosign formats', () => {
  test('the signature tag of a digest', () => {
    assert.equal(cosignSignatureTag(DIGEST), `sha256-${'ab'.repeat(32)}.sig`);
    assert.throws(() => cosignSignatureTag('sha256:short'));
  });

  test('simple-signing payloads: digest, type and reference read; malformed ones say why', () => {
    assert.deepEqual(parseSimpleSigning(cosignPayload('reg/app', DIGEST)), { manifestDigest: DIGEST, type: 'cosign container image signature', dockerReference: 'reg/app' });
    // cosign's decoder ignores key case; so does ours.
    const upper = Buffer.from(JSON.stringify({ Critical: { Image: { 'Docker-manifest-digest': DIGEST }, Type: 'cosign container image signature' } }));
    assert.equal((parseSimpleSigning(upper) as { manifestDigest: string }).manifestDigest, DIGEST);
    assert.match(parseSimpleSigning(Buffer.from('not json')) as string, /not JSON/);
    assert.match(parseSimpleSigning(Buffer.from('{"critical":{"type":"x"}}')) as string, /docker-manifest-digest/);
    assert.match(parseSimpleSigning(Buffer.from(JSON.stringify({ critical: { image: { 'docker-manifest-digest': DIGEST } } }))) as string, /critical\.type/);
  });

  test('signature layers: only simple-signing layers with a signature annotation count', () => {
    const layers = cosignLayers({
      layers: [
        { mediaType: 'application/vnd.dev.cosign.simplesigning.v1+json', digest: DIGEST, size: 10, annotations: { 'dev.cosignproject.cosign/signature': 'c2ln', 'dev.sigstore.cosign/certificate': 'CERT' } },
        { mediaType: 'application/vnd.dev.cosign.simplesigning.v1+json', digest: OTHER, size: 10, annotations: {} },
        { mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: OTHER, size: 10, annotations: { 'dev.cosignproject.cosign/signature': 'c2ln' } },
      ],
    });
    assert.deepEqual(layers, [{ payloadDigest: DIGEST, payloadSize: 10, signature: 'c2ln', certificate: 'CERT' }]);
    assert.deepEqual(cosignLayers({}), []);
    assert.deepEqual(cosignLayers(null), []);
  });

  test('referrer kinds by artifactType', () => {
    assert.equal(referrerSignatureKind('application/vnd.dev.cosign.artifact.sig.v1+json'), 'cosign-referrer');
    assert.equal(referrerSignatureKind('application/vnd.dev.sigstore.bundle.v0.3+json'), 'sigstore-bundle');
    assert.equal(referrerSignatureKind('application/vnd.cncf.notary.signature'), 'notation');
    assert.equal(referrerSignatureKind('application/spdx+json'), undefined);
    assert.equal(referrerSignatureKind(null), undefined);
  });
});

describe('public keys', () => {
  const payload = cosignPayload('reg/app', DIGEST);

  test('ECDSA P-256 and P-384, RSA and Ed25519 keys verify signatures over the exact payload bytes', () => {
    const pairs = [
      { ...generateKeyPairSync('ec', { namedCurve: 'P-256' }), algorithm: 'ecdsa-p256', hash: 'sha256' },
      { ...generateKeyPairSync('ec', { namedCurve: 'P-384' }), algorithm: 'ecdsa-p384', hash: 'sha384' },
      { ...generateKeyPairSync('ec', { namedCurve: 'P-384' }), algorithm: 'ecdsa-p384', hash: 'sha256' },
      { ...generateKeyPairSync('rsa', { modulusLength: 2048 }), algorithm: 'rsa-2048', hash: 'sha256' },
      { ...generateKeyPairSync('ed25519'), algorithm: 'ed25519', hash: null },
    ];
    for (const { publicKey, privateKey, algorithm, hash } of pairs) {
      const info = parsePublicKey(publicKey.export({ type: 'spki', format: 'pem' }).toString());
      assert.ok(typeof info !== 'string', `${algorithm}: ${String(info)}`);
      assert.equal(info.algorithm, algorithm);
      const signature = sign(hash, payload, privateKey).toString('base64');
      assert.equal(verifyPayload(info, payload, signature), true, `${algorithm} ${hash}`);
      const tampered = Buffer.from(payload);
      tampered[tampered.length - 2] ^= 1;
      assert.equal(verifyPayload(info, tampered, signature), false, `${algorithm}: a changed payload does not verify`);
      assert.equal(verifyPayload(info, payload, ''), false);
      assert.equal(verifyPayload(info, payload, 'bm90IGEgc2lnbmF0dXJl'), false);
    }
  });

  test('RSA-PSS signatures verify too', () => {
    const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const info = parsePublicKey(publicKey.export({ type: 'spki', format: 'pem' }).toString());
    assert.ok(typeof info !== 'string');
    const pss = sign('sha256', payload, { key: privateKey, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 }).toString('base64');
    assert.equal(verifyPayload(info, payload, pss), true);
    assert.equal(verifyPayload(info, Buffer.concat([payload, Buffer.from(' ')]), pss), false);
  });

  test('a signature by another key does not verify', () => {
    const mine = ecKeyPair();
    const theirs = ecKeyPair();
    const info = parsePublicKey(mine.publicPem);
    assert.ok(typeof info !== 'string');
    assert.equal(verifyPayload(info, payload, signPayload(theirs.privateKey, payload)), false);
    assert.equal(verifyPayload(info, payload, signPayload(mine.privateKey, payload)), true);
  });

  test('what is not a usable public key is refused with a reason', () => {
    assert.match(parsePublicKey('hello') as string, /PEM public key/);
    assert.match(parsePublicKey('-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n') as string, /readable/);
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-521' });
    assert.match(parsePublicKey(publicKey.export({ type: 'spki', format: 'pem' }).toString()) as string, /curve/);
    assert.match(parsePublicKey(privateKey.export({ type: 'pkcs8', format: 'pem' }).toString()) as string, /PEM public key/);
    const small = generateKeyPairSync('rsa', { modulusLength: 1024 });
    assert.match(parsePublicKey(small.publicKey.export({ type: 'spki', format: 'pem' }).toString()) as string, /2048/);
    assert.match(parsePublicKey('x'.repeat(20_000)) as string, /too long/);
  });
});

describe('pull policy rules', () => {
  const layer = (mediaType: string) => ({ mediaType, digest: DIGEST, size: 1 });
  const manifest = (body: object, mediaType = 'application/vnd.oci.image.manifest.v1+json', subjectDigest: string | null = null) => ({
    mediaType,
    subjectDigest,
    content: Buffer.from(JSON.stringify(body)),
  });

  test('images and indexes are policed; signatures, SBOMs and other artifacts are not', () => {
    assert.equal(isPolicedImage(manifest({ layers: [layer('application/vnd.oci.image.layer.v1.tar+gzip')] })), true);
    assert.equal(isPolicedImage(manifest({ layers: [layer('application/vnd.oci.image.layer.v1.tar')] })), true);
    assert.equal(isPolicedImage(manifest({ layers: [layer('application/vnd.oci.image.layer.v1.tar+zstd')] })), true);
    assert.equal(isPolicedImage(manifest({ layers: [layer('application/vnd.docker.image.rootfs.diff.tar.gzip')] }, 'application/vnd.docker.distribution.manifest.v2+json')), true);
    assert.equal(isPolicedImage(manifest({ manifests: [] }, 'application/vnd.oci.image.index.v1+json')), true);
    assert.equal(isPolicedImage(manifest({ manifests: [] }, 'application/vnd.docker.distribution.manifest.list.v2+json')), true);
    // cosign signature under the .sig tag: simple-signing layers.
    assert.equal(isPolicedImage(manifest({ layers: [layer('application/vnd.dev.cosign.simplesigning.v1+json')] })), false);
    // An SBOM attached as a referrer, even one with a tar layer.
    assert.equal(isPolicedImage(manifest({ layers: [layer('application/vnd.oci.image.layer.v1.tar')] }, undefined, OTHER)), false);
    assert.equal(isPolicedImage(manifest({ layers: [layer('application/spdx+json')] })), false);
    assert.equal(isPolicedImage(manifest({ layers: [] })), false);
  });

  test('findings block at or above the severity unless allow-listed by id or alias; UNKNOWN never blocks', () => {
    const findings: Finding[] = [
      { id: 'CVE-2024-0001', aliases: [], severity: 'CRITICAL', package: 'openssl' },
      { id: 'GHSA-aaaa-bbbb-cccc', aliases: ['CVE-2024-0002'], severity: 'HIGH', package: 'lodash' },
      { id: 'CVE-2024-0003', aliases: [], severity: 'MEDIUM', package: 'zlib' },
      { id: 'CVE-2024-0004', aliases: [], severity: 'UNKNOWN', package: 'curl' },
    ];
    const ids = (blockSeverity: 'CRITICAL' | 'HIGH' | 'MEDIUM' | 'LOW' | null, allowAdvisories: string[] = []) =>
      blockingFindings({ blockSeverity, allowAdvisories }, findings).map((f) => f.id);
    assert.deepEqual(ids('CRITICAL'), ['CVE-2024-0001']);
    assert.deepEqual(ids('HIGH'), ['CVE-2024-0001', 'GHSA-aaaa-bbbb-cccc']);
    assert.deepEqual(ids('LOW'), ['CVE-2024-0001', 'GHSA-aaaa-bbbb-cccc', 'CVE-2024-0003']);
    assert.deepEqual(ids(null), []);
    assert.deepEqual(ids('HIGH', ['CVE-2024-0002']), ['CVE-2024-0001']);
    assert.deepEqual(ids('HIGH', ['CVE-2024-0001', 'GHSA-aaaa-bbbb-cccc']), []);
  });

  test('administrators and scan robots are exempt; everyone else is not', () => {
    assert.equal(exemptFromPullPolicy({ kind: 'user', id: '1', username: 'a', admin: true }), true);
    assert.equal(exemptFromPullPolicy({ kind: 'user', id: '1', username: 'a', admin: false }), false);
    assert.equal(exemptFromPullPolicy({ kind: 'robot', id: '1', name: 'robot$scanner', namespace: null, actions: ['pull', 'scan'] }), true);
    assert.equal(exemptFromPullPolicy({ kind: 'robot', id: '1', name: 'robot$ci', namespace: null, actions: ['pull', 'push'] }), false);
    assert.equal(exemptFromPullPolicy({ kind: 'anonymous' }), false);
  });
});
