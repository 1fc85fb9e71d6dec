// Tokens /v2 must refuse beyond the ones auth-tokens.test.ts forges: signed with a real key of
// another algorithm family (RSA, RSA-PSS, other curves, Ed25519) under the registry's own kid,
// not yet valid, without an expiry, for an audience list without ours, and tokens whose header
// points elsewhere for the key (kid, jku, x5u, an embedded jwk). Every one is answered 401 with
// the Bearer challenge, the server the header points at is never asked, and a push made with
// such a token leaves nothing behind.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomBytes as nodeRandomBytes } from 'node:crypto';
import { SignJWT, exportJWK, generateKeyPair, importJWK, type JWK, type JWTHeaderParameters } from 'jose';
import { startRegistry, type TestRegistry } from '../helpers/registry.js';
import { MediaType, expectStatus, pushImage, randomBytes, sha256 } from '../helpers/oci.js';
import { ADMIN, addNamespace, addUser, authSettings, basicAuth, bearerAuth, expectChallenge, signingKeyOf } from '../helpers/auth.js';

const unique = () => nodeRandomBytes(4).toString('hex');

describe('hostile tokens', () => {
  let reg: TestRegistry;
  let aliceId: string;
  let signingKey: JWK & { kid: string };
  /** Stands where a token's header says its key is: it must never be asked. */
  let keyServer: Server;
  let keyServerUrl: string;
  const keyServerHits: string[] = [];

  before(async () => {
    reg = await startRegistry(authSettings());
    await addUser(reg.app, 'alice', 'alice-password-1');
    aliceId = (await reg.app.access.getUser('alice'))!.id;
    await addNamespace(reg.app, 'team', 'private', { alice: 'developer' });
    await pushImage(reg.url, 'team/app', { reference: 'v1', headers: basicAuth(ADMIN) });
    signingKey = await signingKeyOf(reg.app);
    keyServer = createServer((req, res) => {
      keyServerHits.push(req.url ?? '');
      res.writeHead(404).end();
    });
    await new Promise<void>((resolve) => keyServer.listen(0, '127.0.0.1', resolve));
    keyServerUrl = `http://127.0.0.1:${(keyServer.address() as AddressInfo).port}`;
  });

  after(async () => {
    await reg?.close();
    await new Promise((resolve) => keyServer?.close(resolve));
  });

  const ACCESS = [{ type: 'repository', name: 'team/app', actions: ['pull', 'push'] }];

  interface Change {
    key?: Parameters<SignJWT['sign']>[0];
    header?: Partial<JWTHeaderParameters>;
    aud?: string | string[];
    iat?: number;
    nbf?: number;
    exp?: number | null;
    /** Extensions the signer declares it understands (for a `crit` header). */
    crit?: Record<string, boolean>;
  }

  /** A token as the registry would issue it for alice, with changes. */
  async function craft(change: Change = {}): Promise<string> {
    const now = Math.floor(Date.now() / 1000);
    const key = change.key ?? (await importJWK(signingKey, 'ES256'));
    const jwt = new SignJWT({ kind: 'user', uid: aliceId, adm: true, access: ACCESS })
      .setProtectedHeader({ alg: 'ES256', kid: signingKey.kid, typ: 'JWT', ...change.header })
      .setIssuer('registry-token-issuer')
      .setAudience(change.aud ?? 'registry')
      .setSubject('alice')
      .setIssuedAt(change.iat ?? now)
      .setNotBefore(change.nbf ?? now - 5)
      .setJti(unique());
    if (change.exp !== null) jwt.setExpirationTime(change.exp ?? now + 300);
    return jwt.sign(key, change.crit ? { crit: change.crit } : undefined);
  }

  const pull = (token: string) => fetch(`${reg.url}/v2/team/app/manifests/v1`, { headers: { ...bearerAuth(token), Accept: MediaType.OciManifest } });

  /** Refused on a pull, and a push with it leaves no blob behind. */
  async function refused(token: string, what: string): Promise<void> {
    await expectChallenge(reg.url, await pull(token), { scope: 'repository:team/app:pull', error: 'invalid_token' });
    const blob = randomBytes(64);
    const digest = sha256(blob);
    const push = await fetch(`${reg.url}/v2/team/app/blobs/uploads/?digest=${digest}`, {
      method: 'POST',
      headers: { ...bearerAuth(token), 'Content-Type': 'application/octet-stream' },
      body: blob,
    });
    assert.equal(push.status, 401, `${what}: a push with it`);
    await push.body?.cancel();
    const head = await fetch(`${reg.url}/v2/team/app/blobs/${digest}`, { method: 'HEAD', headers: basicAuth(ADMIN) });
    assert.equal(head.status, 404, `${what}: the blob must not exist`);
  }

  test('control: a crafted token with our key, and one whose audience list holds ours, are accepted', async () => {
    await expectStatus(await pull(await craft()), 200);
    await expectStatus(await pull(await craft({ aud: ['elsewhere', 'registry'] })), 200);
  });

  test('signed with a real key of another algorithm, under our kid', async () => {
    for (const alg of ['RS256', 'PS256', 'ES384', 'ES512', 'EdDSA'] as const) {
      const { privateKey } = await generateKeyPair(alg, { extractable: true });
      const token = await craft({ key: privateKey, header: { alg } });
      await refused(token, alg);
    }
  });

  test('not valid yet: nbf in the future, iat far in the future', async () => {
    const now = Math.floor(Date.now() / 1000);
    await refused(await craft({ nbf: now + 3600 }), 'nbf in an hour');
    await refused(await craft({ iat: now + 86_400, nbf: now - 5 }), 'iat tomorrow');
  });

  test('without an expiry', async () => {
    await refused(await craft({ exp: null }), 'no exp');
  });

  test('for an audience list without ours', async () => {
    await refused(await craft({ aud: ['elsewhere', 'registry#refresh'] }), 'audience list');
    await refused(await craft({ aud: [] }), 'empty audience list');
  });

  test('the header points elsewhere for the key: kid, jku, x5u, an embedded jwk', async () => {
    const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true });
    const jwk = await exportJWK(publicKey);
    await refused(await craft({ key: privateKey, header: { kid: 'attacker-key' } }), 'another kid');
    await refused(await craft({ key: privateKey, header: { jku: `${keyServerUrl}/jwks.json` } }), 'jku');
    await refused(await craft({ key: privateKey, header: { x5u: `${keyServerUrl}/cert.pem` } }), 'x5u');
    await refused(await craft({ key: privateKey, header: { jwk } }), 'embedded jwk');
    // Our own key with an unknown critical header: refused too, not ignored.
    await refused(await craft({ header: { crit: ['x-unknown'], 'x-unknown': true } as Partial<JWTHeaderParameters>, crit: { 'x-unknown': true } }), 'unknown crit');
    assert.deepEqual(keyServerHits, [], 'the registry fetched a key from where a token pointed');
  });

  test('nothing changed: the repository holds only its first image', async () => {
    const tags = await fetch(`${reg.url}/v2/team/app/tags/list`, { headers: basicAuth(ADMIN) });
    assert.deepEqual(((await tags.json()) as { tags: string[] }).tags, ['v1']);
    const catalog = await fetch(`${reg.url}/v2/_catalog`, { headers: basicAuth(ADMIN) });
    assert.deepEqual(((await catalog.json()) as { repositories: string[] }).repositories, ['team/app']);
  });
});
