// Hostile requests that reach the router: path traversal in names, digests, references and
// upload ids (dot segments, encoded slashes and dots, backslashes, NUL, over-long names);
// header injection (CR/LF in a tag or digest, Host header tricks in the token realm, request
// ids); malformed bodies to the management API; duplicate query parameters. Each is answered
// with its status and a spec error body, and nothing changed: no file outside the store, no
// repository, tag, blob, namespace or user created.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { connect } from 'node:net';
import { randomBytes as nodeRandomBytes } from 'node:crypto';
import type { TestRegistry } from '../helpers/registry.js';
import { MediaType, checkErrorBody, pushImage, randomBytes, rawRequest, sha256, type PushedImage } from '../helpers/oci.js';
import { ADMIN, api, authHeaders, expect, startAuthRegistry } from '../helpers/api.js';

const BODY_IDLE_MS = 500;

/** A name no request may leave behind anywhere on disk. */
const ESCAPE = `escape-${nodeRandomBytes(4).toString('hex')}`;

/** Every file under `dir` (bounded: 20 000 entries). */
async function filesUnder(dir: string): Promise<string[]> {
  const found: string[] = [];
  const walk = async (d: string): Promise<void> => {
    for (const entry of await readdir(d, { withFileTypes: true })) {
      if (found.length > 20_000) return;
      const path = join(d, entry.name);
      found.push(path);
      if (entry.isDirectory()) await walk(path);
    }
  };
  await walk(dir);
  return found;
}

const exists = (path: string) => stat(path).then(() => true, () => false);

describe('hostile requests', () => {
  let reg: TestRegistry;
  let image: PushedImage;
  const admin = authHeaders(ADMIN);

  before(async () => {
    reg = await startAuthRegistry({ scan: { enabled: false }, http: { bodyIdleTimeoutMs: BODY_IDLE_MS } });
    image = await pushImage(reg.url, 'lib/app', { reference: 'v1', headers: admin });
    await pushImage(reg.url, 'lib/app', { reference: 'v2', headers: admin });
  });

  after(async () => {
    await reg?.close();
  });

  const send = (method: string, path: string, headers: Record<string, string> = {}, body?: Buffer) => rawRequest(reg.url, method, path, { ...admin, ...headers }, body);

  test('path traversal: dot segments, encoded slashes and dots, backslashes, NUL, long names, in names, digests, references and upload ids', async () => {
    const upload = (await send('POST', '/v2/lib/app/blobs/uploads/')).headers['location'] as string;
    assert.match(upload, /^\/v2\/lib\/app\/blobs\/uploads\/[A-Za-z0-9-]+$/);
    const zeros = `sha256:${'0'.repeat(64)}`;
    const cases: [string, string, number, string][] = [
      ['GET', `/v2/../${ESCAPE}`, 404, 'NAME_UNKNOWN'],
      ['GET', '/v2/lib/../lib/app/tags/list', 400, 'NAME_INVALID'],
      ['GET', `/v2/%2e%2e/%2e%2e/${ESCAPE}/tags/list`, 400, 'NAME_INVALID'],
      ['GET', '/v2/lib%2fapp/tags/list', 400, 'NAME_INVALID'],
      ['GET', `/v2/lib/app/..%2f..%2f${ESCAPE}/tags/list`, 400, 'NAME_INVALID'],
      ['GET', '/v2/lib\\app/tags/list', 400, 'NAME_INVALID'],
      ['GET', '/v2/lib/app%00/tags/list', 400, 'NAME_INVALID'],
      ['GET', `/v2/${'a'.repeat(300)}/tags/list`, 400, 'NAME_INVALID'],
      ['GET', `/v2/${'a/'.repeat(200)}b/tags/list`, 400, 'NAME_INVALID'],
      ['GET', `/v2/lib/app/blobs/sha256:../../../${ESCAPE}`, 404, 'NAME_UNKNOWN'],
      ['GET', `/v2/lib/app/blobs/sha256%3a..%2f..%2f${ESCAPE}`, 400, 'NAME_INVALID'],
      ['GET', `/v2/lib/app/blobs/sha256:${'0'.repeat(62)}%00a`, 400, 'NAME_INVALID'],
      ['GET', `/v2/lib/app/manifests/..%2f..%2f${ESCAPE}`, 400, 'NAME_INVALID'],
      ['GET', '/v2/lib/app/manifests/..', 400, 'TAG_INVALID'],
      ['PATCH', `/v2/lib/app/blobs/uploads/..%2f..%2f${ESCAPE}`, 400, 'NAME_INVALID'],
      ['PATCH', `${upload}%2f..%2f..%2f${ESCAPE}`, 400, 'NAME_INVALID'],
      ['PUT', `/v2/lib/app/blobs/uploads/../../${ESCAPE}?digest=${zeros}`, 404, 'NAME_UNKNOWN'],
      ['PUT', `/v2/lib/app/blobs/uploads/${ESCAPE}?digest=${zeros}`, 404, 'BLOB_UPLOAD_UNKNOWN'],
      ['GET', '/v2/lib/app/blobs/uploads/%2e%2e', 400, 'NAME_INVALID'],
      ['DELETE', `/v2/lib/app/blobs/uploads/..%5c..%5c${ESCAPE}`, 400, 'NAME_INVALID'],
      ['POST', `/v2/lib/app/blobs/uploads/?mount=${zeros}&from=..%2F..%2F${ESCAPE}`, 202, ''],
    ];
    for (const [method, path, status, code] of cases) {
      const res = await send(method, path, { 'Content-Type': 'application/octet-stream' }, method === 'PATCH' || method === 'PUT' ? Buffer.from(ESCAPE) : undefined);
      assert.equal(res.status, status, `${method} ${path.slice(0, 120)}: ${res.body.toString().slice(0, 200)}`);
      if (code) checkErrorBody(res.body.toString(), code);
    }
    // Nothing was written where a path pointed, nor anywhere in the store under that name.
    for (const dir of [reg.dataDir, join(reg.dataDir, '..'), join(reg.dataDir, '..', '..')]) assert.equal(await exists(join(dir, ESCAPE)), false, dir);
    assert.deepEqual((await filesUnder(reg.dataDir)).filter((f) => f.includes(ESCAPE)), []);
  });

  test('header injection: CR/LF in a tag or digest is refused and never reflected', async () => {
    const manifest = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MediaType.OciManifest, config: image.manifest.config, layers: image.manifest.layers }));
    for (const reference of ['v3%0d%0aX-Injected:%20yes', 'v3%0aX-Injected:%20yes', `${sha256(manifest)}%0d%0aX-Injected:%20yes`]) {
      const put = await send('PUT', `/v2/lib/app/manifests/${reference}`, { 'Content-Type': MediaType.OciManifest }, manifest);
      assert.equal(put.status, 400, reference);
      checkErrorBody(put.body.toString(), 'NAME_INVALID');
      assert.equal(put.headers['x-injected'], undefined);
      const get = await send('GET', `/v2/lib/app/manifests/${reference}`, { Accept: MediaType.OciManifest });
      assert.equal(get.status, 400);
      assert.equal(get.headers['x-injected'], undefined);
      assert.equal(get.headers['docker-content-digest'], undefined);
    }
    // Unencoded CR/LF in the request line never reaches a handler: the parser refuses it.
    const socket = connect(Number(new URL(reg.url).port), '127.0.0.1');
    const answer = await new Promise<string>((resolve, reject) => {
      const parts: Buffer[] = [];
      socket.on('data', (c: Buffer) => parts.push(c)).on('close', () => resolve(Buffer.concat(parts).toString('latin1'))).on('error', reject);
      socket.setTimeout(5_000, () => socket.destroy(new Error('no answer')));
      socket.write('GET /v2/lib/app/manifests/v1\rX-Injected: yes HTTP/1.1\r\nHost: registry\r\n\r\n');
    });
    assert.match(answer, /^HTTP\/1\.1 400 /);
    assert.doesNotMatch(answer, /\r\nX-Injected/i);
    checkErrorBody(answer.slice(answer.indexOf('\r\n\r\n') + 4), 'UNSUPPORTED');
  });

  test('Host header tricks: the token realm is one plain URL; Locations stay relative; request ids are not echoed raw', async () => {
    for (const host of ['a",realm="http://evil.example/', 'evil.example/x?', 'user@evil.example', 'a b', 'registry.example.com:5000']) {
      const res = await rawRequest(reg.url, 'GET', '/v2/', { Host: host });
      assert.equal(res.status, 401);
      checkErrorBody(res.body.toString(), 'UNAUTHORIZED');
      const challenge = String(res.headers['www-authenticate']);
      assert.equal(challenge.match(/realm=/g)?.length, 1, challenge);
      assert.match(challenge, /^Bearer realm="http:\/\/[A-Za-z0-9.:[\]-]+\/token",service="[^"]+"$/, challenge);
      if (host.includes('5000')) assert.match(challenge, /registry\.example\.com:5000/);
      else assert.doesNotMatch(challenge, /evil|user@| b/, challenge);
    }
    const started = await rawRequest(reg.url, 'POST', '/v2/lib/app/blobs/uploads/', { ...admin, Host: 'evil.example' });
    assert.equal(started.status, 202);
    assert.match(String(started.headers['location']), /^\/v2\/lib\/app\/blobs\/uploads\//);
    const id = await rawRequest(reg.url, 'GET', '/v2/', { ...admin, 'X-Request-Id': '<script>alert(1)</script>' });
    assert.match(String(id.headers['x-request-id']), /^[0-9a-f-]{36}$/);
  });

  test('duplicate query parameters: the first n, last and digest count, deterministically', async () => {
    const paged = await send('GET', '/v2/lib/app/tags/list?n=1&n=1000');
    assert.equal(paged.status, 200);
    assert.deepEqual(JSON.parse(paged.body.toString()).tags, ['v1']);
    const after = await send('GET', '/v2/lib/app/tags/list?last=v1&last=v0');
    assert.deepEqual(JSON.parse(after.body.toString()).tags, ['v2']);
    // Two digests, the second the right one: the first decides, and the upload is refused.
    const blob = randomBytes(100);
    const digest = sha256(blob);
    const wrong = `sha256:${'1'.repeat(64)}`;
    const put = await send('POST', `/v2/lib/app/blobs/uploads/?digest=${wrong}&digest=${digest}`, { 'Content-Type': 'application/octet-stream' }, blob);
    assert.equal(put.status, 400);
    checkErrorBody(put.body.toString(), 'DIGEST_INVALID');
    assert.equal((await send('HEAD', `/v2/lib/app/blobs/${digest}`)).status, 404);
    assert.equal((await send('HEAD', `/v2/lib/app/blobs/${wrong}`)).status, 404);
    for (const bad of ['n=-1', 'n=abc', 'n=1e3']) {
      const res = await send('GET', `/v2/_catalog?${bad}`);
      assert.equal(res.status, 400, bad);
      checkErrorBody(res.body.toString(), 'UNSUPPORTED');
    }
  });

  test('management API: malformed JSON, wrong Content-Type, prototype keys, wrong shapes, oversized bodies, repeated parameters', async () => {
    const before = expect(await api(reg, 'GET', '/namespaces', { as: ADMIN }), 200).json.namespaces;
    const users = expect(await api(reg, 'GET', '/users', { as: ADMIN }), 200).json.users.length;
    const cases: [string, string, string | undefined, number, string][] = [
      ['/namespaces', '{"name":', 'application/json', 400, 'UNSUPPORTED'],
      ['/namespaces', '{"name":"x"}', 'text/plain', 415, 'UNSUPPORTED'],
      ['/namespaces', '{"name":"x"}', undefined, 415, 'UNSUPPORTED'],
      ['/namespaces', '{"name":"x","__proto__":{"admin":true}}', 'application/json', 400, 'UNSUPPORTED'],
      ['/namespaces', '{"name":"x","constructor":{"prototype":{"admin":true}}}', 'application/json', 400, 'UNSUPPORTED'],
      ['/namespaces', '[]', 'application/json', 400, 'UNSUPPORTED'],
      ['/namespaces', 'null', 'application/json', 400, 'UNSUPPORTED'],
      ['/namespaces', '{"name":"../etc"}', 'application/json', 400, 'UNSUPPORTED'],
      ['/namespaces', `"${'a'.repeat(70_000)}"`, 'application/json', 413, 'SIZE_INVALID'],
      ['/users', '{"username":"x\\r\\nX-Injected: 1","password":"long-enough-password"}', 'application/json', 400, 'UNSUPPORTED'],
      ['/users', '{"username":"eve","password":"long-enough-password","admin":"true"}', 'application/json', 400, 'UNSUPPORTED'],
    ];
    for (const [path, body, contentType, status, code] of cases) {
      const res = await send('POST', `/api/v1${path}`, contentType ? { 'Content-Type': contentType } : {}, Buffer.from(body));
      assert.equal(res.status, status, `${path} ${body.slice(0, 60)}: ${res.body.toString().slice(0, 200)}`);
      checkErrorBody(res.body.toString(), code);
      assert.equal(res.headers['x-injected'], undefined);
    }
    const repeated = await send('GET', '/api/v1/audit?limit=1&limit=100000');
    assert.equal(repeated.status, 400);
    checkErrorBody(repeated.body.toString(), 'UNSUPPORTED');
    assert.equal(({} as Record<string, unknown>)['admin'], undefined, 'Object.prototype was polluted');
    assert.deepEqual(expect(await api(reg, 'GET', '/namespaces', { as: ADMIN }), 200).json.namespaces, before);
    assert.equal(expect(await api(reg, 'GET', '/users', { as: ADMIN }), 200).json.users.length, users);
  });

  test('a management API body and a token form that stall: 408 with an error body, the connection closed, nothing created', async () => {
    const before = expect(await api(reg, 'GET', '/namespaces', { as: ADMIN }), 200).json.namespaces;
    const port = Number(new URL(reg.url).port);
    for (const [path, type, partial] of [
      ['/api/v1/namespaces', 'application/json', '{"name":"stalled'],
      ['/token', 'application/x-www-form-urlencoded', 'grant_type=password&service=registry&username=admin&password='],
    ] as const) {
      const socket = connect(port, '127.0.0.1');
      const started = Date.now();
      const answer = await new Promise<string>((resolve, reject) => {
        const parts: Buffer[] = [];
        socket.on('data', (c: Buffer) => parts.push(c)).on('close', () => resolve(Buffer.concat(parts).toString('latin1'))).on('error', reject);
        socket.setTimeout(BODY_IDLE_MS + 5_000, () => socket.destroy(new Error(`${path}: no answer`)));
        socket.write(`POST ${path} HTTP/1.1\r\nHost: registry\r\nAuthorization: ${admin['Authorization']}\r\nContent-Type: ${type}\r\nContent-Length: 1000\r\n\r\n${partial}`);
      });
      assert.match(answer, /^HTTP\/1\.1 408 /, path);
      assert.ok(Date.now() - started >= BODY_IDLE_MS - 50, `${path} answered too early`);
      checkErrorBody(answer.slice(answer.indexOf('\r\n\r\n') + 4), 'UNSUPPORTED');
    }
    assert.deepEqual(expect(await api(reg, 'GET', '/namespaces', { as: ADMIN }), 200).json.namespaces, before);
  });

  test('nothing changed: the one repository, its two tags, and the registry still serves', async () => {
    const catalog = await send('GET', '/v2/_catalog');
    assert.deepEqual(JSON.parse(catalog.body.toString()).repositories, ['lib/app']);
    const tags = await send('GET', '/v2/lib/app/tags/list');
    assert.deepEqual(JSON.parse(tags.body.toString()).tags, ['v1', 'v2']);
  });
});
