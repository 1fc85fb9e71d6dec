// Finding and verifying signatures in a real registry (real SQLite or PostgreSQL, real blob
// store): cosign signatures under the .sig tag and as referrers, made here with Node's crypto
// and verified against the namespace's keys; tampered payloads, signatures of other images,
// unknown keys and keys of other namespaces rejected with a reason; notation and sigstore
// bundle referrers listed.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startRegistry, type TestRegistry } from '../helpers/registry.js';
import { pushImage, pushManifest, pushBlob, EMPTY_DESCRIPTOR, EMPTY_JSON, MediaType, sha256 } from '../helpers/oci.js';
import { cosignPayload, cosignSign, ecKeyPair, NOTARY_SIG, pushSignatureReferrer, SIGSTORE_BUNDLE, signPayload, type KeyPair } from '../helpers/signing.js';
import type { FoundSignature } from '../../src/signing/signatures.js';

describe('signatures of a manifest', () => {
  let reg: TestRegistry;
  let teamKey: KeyPair;
  let otherKey: KeyPair;
  let strayKey: KeyPair;
  let teamKeyId: string;

  const list = (repo: string, digest: string): Promise<FoundSignature[]> => reg.app.signatures.list(repo, digest);

  before(async () => {
    reg = await startRegistry();
    teamKey = ecKeyPair('P-256');
    otherKey = ecKeyPair('P-384');
    strayKey = ecKeyPair('P-256');
    teamKeyId = (await reg.app.signing.addKey({ namespace: 'team', name: 'release', publicKey: teamKey.publicPem, createdBy: 'test' })).id;
    await reg.app.signing.addKey({ namespace: 'other', name: 'theirs', publicKey: otherKey.publicPem, createdBy: 'test' });
  });
  after(async () => {
    await reg.close();
  });

  test('an image without signatures has none', async () => {
    const image = await pushImage(reg.url, 'team/plain');
    assert.deepEqual(await list('team/plain', image.digest), []);
    assert.equal(await reg.app.signatures.hasValidSignature('team/plain', image.digest), false);
  });

  test('a cosign signature under the sha256-<hex>.sig tag verifies with the namespace key', async () => {
    const image = await pushImage(reg.url, 'team/app', { reference: 'v1' });
    const sig = await cosignSign(reg.url, 'team/app', image.digest, teamKey.privateKey);
    const found = await list('team/app', image.digest);
    assert.equal(found.length, 1);
    assert.equal(found[0]!.kind, 'cosign');
    assert.equal(found[0]!.manifestDigest, sig);
    assert.equal(found[0]!.verified, true, found[0]!.reason);
    assert.deepEqual(found[0]!.key, { id: teamKeyId, name: 'release', algorithm: 'ecdsa-p256' });
    assert.equal(await reg.app.signatures.hasValidSignature('team/app', image.digest), true);
  });

  test('a cosign signature pushed as a referrer (OCI 1.1 mode) verifies too', async () => {
    const image = await pushImage(reg.url, 'team/ref');
    const sig = await cosignSign(reg.url, 'team/ref', image.digest, teamKey.privateKey, { referrer: true });
    const found = await list('team/ref', image.digest);
    assert.deepEqual(
      found.map((f) => [f.kind, f.manifestDigest, f.verified, f.key?.name]),
      [['cosign-referrer', sig, true, 'release']],
    );
  });

  test('a payload changed after signing does not verify', async () => {
    const image = await pushImage(reg.url, 'team/tampered');
    const payload = cosignPayload('somewhere/else', image.digest);
    const signature = signPayload(teamKey.privateKey, payload);
    const changed = Buffer.from(payload.toString('utf8').replace('somewhere/else', 'somewhere/elsf'));
    await cosignSign(reg.url, 'team/tampered', image.digest, teamKey.privateKey, { payload: changed, signature });
    const [found] = await list('team/tampered', image.digest);
    assert.equal(found?.verified, false);
    assert.match(found!.reason!, /no signing key of namespace team verifies/);
    assert.equal(await reg.app.signatures.hasValidSignature('team/tampered', image.digest), false);
  });

  test('a valid signature of another image does not count', async () => {
    const image = await pushImage(reg.url, 'team/swap');
    const another = await pushImage(reg.url, 'team/swap');
    // Properly signed, but the payload names the other image; stored under this image's tag.
    await cosignSign(reg.url, 'team/swap', image.digest, teamKey.privateKey, { payload: cosignPayload('x/swap', another.digest) });
    const [found] = await list('team/swap', image.digest);
    assert.equal(found?.verified, false);
    assert.match(found!.reason!, new RegExp(`signs ${another.digest}, another manifest`));
    // As a referrer, too.
    const third = await pushImage(reg.url, 'team/swap');
    await cosignSign(reg.url, 'team/swap', third.digest, teamKey.privateKey, { referrer: true, payload: cosignPayload('x/swap', another.digest) });
    assert.equal(await reg.app.signatures.hasValidSignature('team/swap', third.digest), false);
  });

  test('a payload of another type does not count', async () => {
    const image = await pushImage(reg.url, 'team/typed');
    await cosignSign(reg.url, 'team/typed', image.digest, teamKey.privateKey, { payload: cosignPayload('x/typed', image.digest, 'atomic container signature') });
    const [found] = await list('team/typed', image.digest);
    assert.equal(found?.verified, false);
    assert.match(found!.reason!, /critical\.type/);
  });

  test('a key the namespace does not have, or a key of another namespace, does not verify', async () => {
    const stray = await pushImage(reg.url, 'team/stray');
    await cosignSign(reg.url, 'team/stray', stray.digest, strayKey.privateKey);
    assert.equal((await list('team/stray', stray.digest))[0]?.verified, false);

    const foreign = await pushImage(reg.url, 'team/foreign');
    await cosignSign(reg.url, 'team/foreign', foreign.digest, otherKey.privateKey);
    const [found] = await list('team/foreign', foreign.digest);
    assert.equal(found?.verified, false);
    assert.match(found!.reason!, /namespace team/);
    // The same signature in the other namespace verifies with its key.
    const theirs = await pushImage(reg.url, 'other/app');
    await cosignSign(reg.url, 'other/app', theirs.digest, otherKey.privateKey);
    assert.deepEqual((await list('other/app', theirs.digest)).map((f) => [f.verified, f.key?.name, f.key?.algorithm]), [[true, 'theirs', 'ecdsa-p384']]);
  });

  test('in a namespace without keys nothing verifies, and the reason says so', async () => {
    const image = await pushImage(reg.url, 'keyless/app');
    await cosignSign(reg.url, 'keyless/app', image.digest, teamKey.privateKey);
    const [found] = await list('keyless/app', image.digest);
    assert.equal(found?.verified, false);
    assert.match(found!.reason!, /namespace keyless has no signing keys/);
  });

  test('notation and sigstore-bundle referrers are recognised and listed; other referrers are not signatures', async () => {
    const image = await pushImage(reg.url, 'team/notary');
    const notation = await pushSignatureReferrer(reg.url, 'team/notary', image.digest, NOTARY_SIG);
    const bundle = await pushSignatureReferrer(reg.url, 'team/notary', image.digest, SIGSTORE_BUNDLE);
    // An SBOM referrer: not a signature.
    await pushBlob(reg.url, 'team/notary', EMPTY_JSON, MediaType.OciEmpty);
    const sbom = await pushBlob(reg.url, 'team/notary', '{"spdxVersion":"SPDX-2.3"}', 'application/spdx+json');
    const sbomManifest = { schemaVersion: 2, mediaType: MediaType.OciManifest, artifactType: 'application/spdx+json', config: EMPTY_DESCRIPTOR, layers: [sbom], subject: { mediaType: MediaType.OciManifest, digest: image.digest, size: image.bytes.length } };
    await pushManifest(reg.url, 'team/notary', sha256(JSON.stringify(sbomManifest)), sbomManifest);
    const found = await list('team/notary', image.digest);
    const byKind = new Map(found.map((f) => [f.kind, f]));
    assert.equal(found.length, 2);
    assert.equal(byKind.get('notation')?.manifestDigest, notation);
    assert.equal(byKind.get('notation')?.artifactType, NOTARY_SIG);
    assert.equal(byKind.get('notation')?.verified, undefined);
    assert.equal(byKind.get('sigstore-bundle')?.manifestDigest, bundle);
    // Listed, never counted as verified.
    assert.equal(await reg.app.signatures.hasValidSignature('team/notary', image.digest), false);
  });

  test('several signatures: each one listed and judged on its own', async () => {
    const image = await pushImage(reg.url, 'team/many');
    await cosignSign(reg.url, 'team/many', image.digest, strayKey.privateKey, { referrer: true });
    await cosignSign(reg.url, 'team/many', image.digest, teamKey.privateKey);
    const found = await list('team/many', image.digest);
    assert.deepEqual(found.map((f) => [f.kind, f.verified]).sort(), [['cosign', true], ['cosign-referrer', false]]);
    assert.equal(await reg.app.signatures.hasValidSignature('team/many', image.digest), true);
  });
});
