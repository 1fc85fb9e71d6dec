// Signing keys per namespace (/api/v1/namespaces/{name}/signing-keys) and the signatures of a
// manifest (/api/v1/repositories/{name}/signatures/{digest}): who may read and change keys,
// key validation, the audit trail, and what the listing says about each signature.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import type { TestRegistry } from '../helpers/registry.js';
import { ADMIN, api, auditEvents, basic, expect, startTeamRegistry, type Credentials } from '../helpers/api.js';
import { pushImage } from '../helpers/oci.js';
import { cosignSign, ecKeyPair, NOTARY_SIG, pushSignatureReferrer, type KeyPair } from '../helpers/signing.js';

describe('signing keys and signature listings', () => {
  let reg: TestRegistry;
  let owner: Credentials;
  let reader: Credentials;
  let outsider: Credentials;
  let key: KeyPair;
  let keyId: string;

  const auth = (c: Credentials) => ({ Authorization: basic(c) });

  before(async () => {
    ({ reg, owner, reader, outsider } = await startTeamRegistry());
    key = ecKeyPair('P-256');
  });
  after(async () => {
    await reg.close();
  });

  test('owners and admins add keys; readers and outsiders cannot; keys are validated; additions are audited', async () => {
    const body = { name: 'release', publicKey: key.publicPem };
    expect(await api(reg, 'POST', '/namespaces/team/signing-keys', { as: reader, body }), 403, 'DENIED');
    expect(await api(reg, 'POST', '/namespaces/team/signing-keys', { as: outsider, body }), 404, 'NAME_UNKNOWN');
    expect(await api(reg, 'POST', '/namespaces/team/signing-keys', { body }), 401, 'UNAUTHORIZED');
    const bad = expect(await api(reg, 'POST', '/namespaces/team/signing-keys', { as: owner, body: { name: 'bad', publicKey: 'not a key' } }), 400, 'UNSUPPORTED');
    assert.match(bad.json.errors[0].message, /invalid public key/);
    const garbled = key.publicPem.replace(/\n[A-Za-z0-9+/]{10}/, '\n!!!!!!!!!!');
    expect(await api(reg, 'POST', '/namespaces/team/signing-keys', { as: owner, body: { name: 'bad', publicKey: garbled } }), 400, 'UNSUPPORTED');
    const privatePem = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    expect(await api(reg, 'POST', '/namespaces/team/signing-keys', { as: owner, body: { name: 'bad', publicKey: privatePem } }), 400, 'UNSUPPORTED');
    expect(await api(reg, 'POST', '/namespaces/team/signing-keys', { as: owner, body: { name: 'bad name!', publicKey: key.publicPem } }), 400, 'UNSUPPORTED');

    const created = expect(await api(reg, 'POST', '/namespaces/team/signing-keys', { as: owner, body }), 201);
    keyId = created.json.id;
    assert.equal(created.json.name, 'release');
    assert.equal(created.json.namespace, 'team');
    assert.equal(created.json.algorithm, 'ecdsa-p256');
    assert.match(created.json.fingerprint, /^sha256:[0-9a-f]{64}$/);
    assert.equal(created.json.publicKey, key.publicPem);
    assert.equal(created.json.createdBy, 'olivia');
    assert.equal(created.headers.get('location'), `/api/v1/namespaces/team/signing-keys/${keyId}`);
    expect(await api(reg, 'POST', '/namespaces/team/signing-keys', { as: owner, body }), 409, 'UNSUPPORTED');
    const ed = generateKeyPairSync('ed25519').publicKey.export({ type: 'spki', format: 'pem' }).toString();
    assert.equal(expect(await api(reg, 'POST', '/namespaces/team/signing-keys', { as: ADMIN, body: { name: 'ci', publicKey: ed } }), 201).json.algorithm, 'ed25519');

    const listed = expect(await api(reg, 'GET', '/namespaces/team/signing-keys', { as: reader }), 200);
    assert.deepEqual(listed.json.keys.map((k: { name: string }) => k.name), ['release', 'ci']);
    expect(await api(reg, 'GET', '/namespaces/team/signing-keys', { as: outsider }), 404, 'NAME_UNKNOWN');

    const events = await auditEvents(reg, { action: 'signing-key.create' });
    const mine = events.find((e) => e.actor === 'olivia');
    assert.equal(mine?.detail?.['name'], 'release');
    assert.equal(mine?.detail?.['id'], keyId);
    assert.equal(mine?.detail?.['fingerprint'], created.json.fingerprint);
  });

  test('the signature listing: cosign signatures verified with the key named, others listed; only for those who may pull', async () => {
    const image = await pushImage(reg.url, 'team/app', { reference: 'v1', headers: auth(owner) });
    const tagged = await cosignSign(reg.url, 'team/app', image.digest, key.privateKey, { headers: auth(owner) });
    const stray = ecKeyPair();
    const referrer = await cosignSign(reg.url, 'team/app', image.digest, stray.privateKey, { referrer: true, headers: auth(owner) });
    const notation = await pushSignatureReferrer(reg.url, 'team/app', image.digest, NOTARY_SIG, auth(owner));

    const res = expect(await api(reg, 'GET', `/repositories/team/app/signatures/${image.digest}`, { as: reader }), 200);
    assert.equal(res.json.repository, 'team/app');
    assert.equal(res.json.digest, image.digest);
    const byDigest = new Map(res.json.signatures.map((s: { digest: string }) => [s.digest, s]));
    assert.equal(res.json.signatures.length, 3);
    assert.deepEqual(byDigest.get(tagged), {
      kind: 'cosign',
      digest: tagged,
      artifactType: 'application/vnd.oci.image.config.v1+json',
      payloadDigest: (byDigest.get(tagged) as { payloadDigest: string }).payloadDigest,
      verified: true,
      key: { id: keyId, name: 'release', algorithm: 'ecdsa-p256' },
    });
    const ref = byDigest.get(referrer) as { kind: string; verified: boolean; reason: string };
    assert.equal(ref.kind, 'cosign-referrer');
    assert.equal(ref.verified, false);
    assert.match(ref.reason, /no signing key of namespace team verifies/);
    assert.deepEqual(byDigest.get(notation), { kind: 'notation', digest: notation, artifactType: NOTARY_SIG });

    expect(await api(reg, 'GET', `/repositories/team/app/signatures/${image.digest}`, { as: outsider }), 404, 'NAME_UNKNOWN');
    expect(await api(reg, 'GET', `/repositories/team/app/signatures/${image.digest}`), 401, 'UNAUTHORIZED');
    expect(await api(reg, 'GET', '/repositories/team/app/signatures/sha256:nothex', { as: reader }), 400, 'UNSUPPORTED');
    // An unsigned manifest: an empty list.
    const other = await pushImage(reg.url, 'team/app', { headers: auth(owner) });
    assert.deepEqual(expect(await api(reg, 'GET', `/repositories/team/app/signatures/${other.digest}`, { as: owner }), 200).json.signatures, []);
    // The tag listing next to it still answers.
    expect(await api(reg, 'GET', '/repositories/team/app/tags', { as: reader }), 200);
  });

  test('removing the key: owners only, audited, and the signature no longer verifies', async () => {
    expect(await api(reg, 'DELETE', `/namespaces/team/signing-keys/${keyId}`, { as: reader }), 403, 'DENIED');
    expect(await api(reg, 'DELETE', '/namespaces/team/signing-keys/nope', { as: owner }), 404, 'NAME_UNKNOWN');
    expect(await api(reg, 'DELETE', `/namespaces/team/signing-keys/${keyId}`, { as: owner }), 204);
    expect(await api(reg, 'DELETE', `/namespaces/team/signing-keys/${keyId}`, { as: owner }), 404, 'NAME_UNKNOWN');
    const events = await auditEvents(reg, { action: 'signing-key.delete' });
    assert.deepEqual(events[0]?.detail, { namespace: 'team', name: 'release', id: keyId });

    const digest = (await fetch(`${reg.url}/v2/team/app/manifests/v1`, { method: 'HEAD', headers: { ...auth(owner), Accept: 'application/vnd.oci.image.manifest.v1+json' } })).headers.get('docker-content-digest')!;
    const res = expect(await api(reg, 'GET', `/repositories/team/app/signatures/${digest}`, { as: reader }), 200);
    const cosign = res.json.signatures.find((s: { kind: string }) => s.kind === 'cosign');
    assert.equal(cosign.verified, false);
  });

  test('the OpenAPI document describes the new operations and the scan action', async () => {
    const doc = (await api(reg, 'GET', '/openapi.json')).json;
    for (const path of ['/namespaces/{name}/signing-keys', '/namespaces/{name}/signing-keys/{id}', '/namespaces/{name}/pull-policy', '/repositories/{repository}/signatures/{digest}']) {
      assert.ok(doc.paths[path], `${path} is described`);
    }
    assert.ok(doc.components.schemas.NewRobot.properties.actions.items.enum.includes('scan'));
  });
});
