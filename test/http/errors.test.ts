// Error answers and path safety: invalid names never reach the stores, unknown endpoints and
// wrong methods get the spec's JSON errors, and no error body leaks server internals.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { scaleOut, startRegistry, type TestRegistry } from '../helpers/registry.js';
import {
  EMPTY_JSON,
  MediaType,
  assertNoStackTrace,
  checkErrorBody,
  expectError,
  expectStatus,
  pushImage,
  rawRequest,
  sha256,
} from '../helpers/oci.js';

/** Every file and directory under `dir`, relative, sorted. */
async function tree(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true });
  return entries.map(String).sort();
}

const DIGEST = sha256(EMPTY_JSON);
const LONG_NAME = Array.from({ length: 30 }, (_, i) => `seg${String(i).padStart(6, '0')}`).join('/'); // 329 characters, valid grammar

describe('repository names and path safety', () => {
  let reg: TestRegistry;
  let initialTree: string[];
  before(async () => {
    reg = await startRegistry();
    initialTree = scaleOut() ? [] : await tree(reg.dataDir);
  });
  after(async () => {
    await reg.close();
  });

  // Raw paths, sent verbatim: fetch would resolve `..` and friends before sending.
  const INVALID_NAMES = ['Upper', 'UPPER/case', '..', 'a/../b', '../etc', 'a/..', 'a//b', 'a%2Fb', '%2e%2e', 'a/./b', 'a/', '-lead', 'trail-', 'a__b__', 'a:b', LONG_NAME];

  test('invalid names are 400 NAME_INVALID on every endpoint', async () => {
    assert.ok(LONG_NAME.length > 255 && LONG_NAME.length < 400);
    for (const name of INVALID_NAMES) {
      const requests: [string, string, Record<string, string>, Buffer | undefined][] = [
        ['GET', `/v2/${name}/tags/list`, {}, undefined],
        ['GET', `/v2/${name}/manifests/latest`, {}, undefined],
        ['HEAD', `/v2/${name}/manifests/latest`, {}, undefined],
        ['PUT', `/v2/${name}/manifests/latest`, { 'Content-Type': MediaType.OciManifest }, Buffer.from('{"schemaVersion":2}')],
        ['DELETE', `/v2/${name}/manifests/${DIGEST}`, {}, undefined],
        ['GET', `/v2/${name}/blobs/${DIGEST}`, {}, undefined],
        ['DELETE', `/v2/${name}/blobs/${DIGEST}`, {}, undefined],
        ['POST', `/v2/${name}/blobs/uploads/`, {}, undefined],
        ['POST', `/v2/${name}/blobs/uploads/?digest=${DIGEST}`, {}, EMPTY_JSON],
        ['POST', `/v2/${name}/blobs/uploads/?mount=${DIGEST}&from=library/ok`, {}, undefined],
        ['GET', `/v2/${name}/blobs/uploads/3f1e7c0a-0000-4000-8000-000000000000`, {}, undefined],
        ['PATCH', `/v2/${name}/blobs/uploads/3f1e7c0a-0000-4000-8000-000000000000`, {}, EMPTY_JSON],
        ['GET', `/v2/${name}/referrers/${DIGEST}`, {}, undefined],
      ];
      for (const [method, path, headers, body] of requests) {
        const res = await rawRequest(reg.url, method, path, headers, body);
        assert.equal(res.status, 400, `${method} ${path}: ${res.status} ${res.body.toString()}`);
        if (method !== 'HEAD') checkErrorBody(res.body.toString(), 'NAME_INVALID');
      }
    }
  });

  test('nothing was created for the invalid names', async () => {
    const catalog = await fetch(`${reg.url}/v2/_catalog`);
    assert.deepEqual(JSON.parse((await expectStatus(catalog, 200)).toString()), { repositories: [] });
    if (scaleOut()) return;
    const now = await tree(reg.dataDir);
    assert.deepEqual(now, initialTree);
    // Only the database and the two empty store directories.
    for (const entry of now) {
      assert.match(entry, /^(registry\.db(-wal|-shm|-journal)?|blobs|uploads)$/, `unexpected ${entry} in the data dir`);
    }
  });

  test('a valid name may use every separator the grammar allows', async () => {
    for (const name of ['a', 'a0/b1', 'a.b/c_d/e__f/g-h/i---j', 'x'.repeat(255)]) {
      const res = await fetch(`${reg.url}/v2/${name}/blobs/uploads/`, { method: 'POST' });
      await expectStatus(res, 202);
      await expectStatus(await fetch(new URL(res.headers.get('location')!, reg.url), { method: 'DELETE' }), 204);
    }
    await expectError(await fetch(`${reg.url}/v2/${'x'.repeat(256)}/blobs/uploads/`, { method: 'POST' }), 400, 'NAME_INVALID');
  });
});

describe('unknown endpoints and methods', () => {
  let reg: TestRegistry;
  before(async () => {
    reg = await startRegistry();
  });
  after(async () => {
    await reg.close();
  });

  test('unknown endpoints are 404 with a JSON error body', async () => {
    // (Other paths are the web UI's: test/http/ui-server.test.ts.)
    for (const path of ['/v2/repo/nothing', '/v2/repo/blobs', '/v2/repo/manifests', '/v2/repo/tags', '/v2/_catalog/extra', '/api/v1/nothing', '/healthz/extra', '/favicon.ico', '/v2/repo/manifests/a/b/../c']) {
      const res = await rawRequest(reg.url, 'GET', path);
      assert.equal(res.status, 404, `${path}: ${res.status}`);
      assert.match(String(res.headers['content-type']), /^application\/json/, path);
      const body = JSON.parse(res.body.toString()) as { errors: { code: string }[] };
      assert.ok(body.errors.length > 0, path);
      checkErrorBody(res.body.toString(), body.errors[0]!.code);
    }
  });

  test('a wrong method on a known path is 405 UNSUPPORTED', async () => {
    const cases: [string, string][] = [
      ['POST', '/v2/repo/manifests/latest'],
      ['PATCH', '/v2/repo/manifests/latest'],
      ['PUT', `/v2/repo/blobs/${DIGEST}`],
      ['POST', `/v2/repo/blobs/${DIGEST}`],
      ['PATCH', `/v2/repo/blobs/${DIGEST}`],
      ['GET', '/v2/repo/blobs/uploads/'],
      ['PUT', '/v2/repo/blobs/uploads/'],
      ['DELETE', '/v2/repo/blobs/uploads/'],
      ['POST', '/v2/repo/blobs/uploads/some-id'],
      ['DELETE', '/v2/repo/tags/list'],
      ['POST', '/v2/_catalog'],
      ['DELETE', `/v2/repo/referrers/${DIGEST}`],
      ['DELETE', '/v2/'],
      ['POST', '/v2/'],
    ];
    for (const [method, path] of cases) {
      const res = await rawRequest(reg.url, method, path);
      assert.equal(res.status, 405, `${method} ${path}: ${res.status} ${res.body.toString()}`);
      checkErrorBody(res.body.toString(), 'UNSUPPORTED');
      assert.ok(res.headers['allow'], `${method} ${path} has no Allow header`);
      assert.ok(!String(res.headers['allow']).split(/,\s*/).includes(method));
    }
  });

  test('a malformed percent-encoding is 400 with the spec error body', async () => {
    for (const path of ['/v2/repo%zz/tags/list', '/v2/repo/manifests/%E0%A4%A', '/nothing%zz']) {
      const res = await rawRequest(reg.url, 'GET', path);
      assert.equal(res.status, 400, `${path}: ${res.status}`);
      const text = res.body.toString();
      const body = JSON.parse(text) as { errors?: { code: string }[] };
      assert.ok(Array.isArray(body.errors), `${path}: not a spec error body: ${text}`);
      checkErrorBody(text, body.errors[0]!.code);
    }
  });

  test('a path far over any name limit is 400 NAME_INVALID', async () => {
    const res = await rawRequest(reg.url, 'GET', `/v2/${'a/'.repeat(1500)}tags/list`);
    assert.equal(res.status, 400);
    checkErrorBody(res.body.toString(), 'NAME_INVALID');
  });
});

describe('error bodies never leak internals', () => {
  let reg: TestRegistry;
  before(async () => {
    reg = await startRegistry();
  });
  after(async () => {
    await reg.close();
  });

  test('client errors of every kind carry a code and a message, and no stack trace', async () => {
    const image = await pushImage(reg.url, 'leak/repo', { reference: 'v1' });
    const responses: [Response, number, string][] = [
      [await fetch(`${reg.url}/v2/leak/repo/blobs/sha256:zz`), 400, 'DIGEST_INVALID'],
      [await fetch(`${reg.url}/v2/leak/repo/blobs/${sha256('x')}`), 404, 'BLOB_UNKNOWN'],
      [await fetch(`${reg.url}/v2/leak/repo/manifests/nope`), 404, 'MANIFEST_UNKNOWN'],
      [await fetch(`${reg.url}/v2/leak/repo/manifests/v1`, { method: 'PUT', headers: { 'Content-Type': MediaType.OciManifest }, body: '{not json' }), 400, 'MANIFEST_INVALID'],
      [await fetch(`${reg.url}/v2/leak/repo/manifests/v1`, { method: 'PUT', headers: { 'Content-Type': MediaType.OciIndex }, body: image.bytes }), 400, 'MANIFEST_INVALID'],
      [await fetch(`${reg.url}/v2/leak/repo/blobs/uploads/nope`), 404, 'BLOB_UPLOAD_UNKNOWN'],
      [await fetch(`${reg.url}/v2/Leak/repo/tags/list`), 400, 'NAME_INVALID'],
      [await fetch(`${reg.url}/v2/leak/none/tags/list`), 404, 'NAME_UNKNOWN'],
    ];
    for (const [res, status, code] of responses) {
      const body = await expectError(res, status, code);
      for (const e of body.errors) {
        assert.equal(typeof e.message, 'string');
        assert.ok(e.message!.length > 0);
      }
    }
  });

  test('an internal failure is 500 UNKNOWN with a generic message and nothing about the server', { skip: scaleOut() && 'needs the filesystem store' }, async () => {
    const uploads = join(reg.dataDir, 'uploads');
    // Break the store: the uploads directory becomes a file, so staging an upload fails.
    await rm(uploads, { recursive: true, force: true });
    await writeFile(uploads, 'not a directory');
    try {
      const res = await fetch(`${reg.url}/v2/leak/broken/blobs/uploads/`, { method: 'POST' });
      const text = await res.text();
      assert.equal(res.status, 500, text);
      const body = checkErrorBody(text, 'UNKNOWN');
      assert.equal(body.errors.length, 1);
      assertNoStackTrace(text);
      assert.ok(!text.includes(reg.dataDir), 'the body names the data directory');
      assert.ok(!text.includes('uploads'), 'the body names a server path');
    } finally {
      await rm(uploads, { force: true });
      await mkdir(uploads);
    }
    // The registry is fine again once the store is.
    const res = await fetch(`${reg.url}/v2/leak/broken/blobs/uploads/`, { method: 'POST' });
    await expectStatus(res, 202);
  });
});
