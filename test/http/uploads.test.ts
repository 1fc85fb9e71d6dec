// /v2/<name>/blobs/uploads/: sessions, monolithic and chunked pushes, status, cancel, mounts,
// and sessions that outlive a restart.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { makeTempDir, scaleOut, startRegistry, type TestRegistry } from '../helpers/registry.js';
import { checkErrorBody, expectError, expectStatus, rawRequest, locationOf, pushBlob, randomBytes, sha256, sha512, startUpload, withDigest } from '../helpers/oci.js';

const MiB = 1024 * 1024;

function patch(url: URL, chunk: Uint8Array<ArrayBuffer>, range?: string): Promise<Response> {
  const headers: Record<string, string> = { 'Content-Type': 'application/octet-stream' };
  if (range !== undefined) headers['Content-Range'] = range;
  return fetch(url, { method: 'PATCH', headers, body: chunk });
}

/** A body sent with chunked transfer encoding: no Content-Length, no Content-Range. */
function streamOf(...parts: Uint8Array[]): ReadableStream<Uint8Array> {
  let i = 0;
  return new ReadableStream({
    pull(controller) {
      if (i < parts.length) controller.enqueue(parts[i++]!);
      else controller.close();
    },
  });
}

async function blobBytes(reg: TestRegistry, repo: string, digest: string): Promise<Buffer> {
  const res = await fetch(`${reg.url}/v2/${repo}/blobs/${digest}`);
  return expectStatus(res, 200);
}

describe('blob uploads', () => {
  let reg: TestRegistry;
  before(async () => {
    reg = await startRegistry();
  });
  after(async () => {
    await reg.close();
  });

  test('POST starts a session: 202 with Location, Range and Docker-Upload-UUID', async () => {
    const res = await fetch(`${reg.url}/v2/up/repo/blobs/uploads/`, { method: 'POST', headers: { 'Content-Length': '0' } });
    await expectStatus(res, 202);
    const location = locationOf(res, reg.url);
    assert.match(location.pathname, /^\/v2\/up\/repo\/blobs\/uploads\/[^/]+$/);
    const uuid = res.headers.get('docker-upload-uuid');
    assert.ok(uuid);
    assert.equal(location.pathname.split('/').pop(), uuid);
    assert.equal(res.headers.get('range'), '0-0');
    assert.equal(res.headers.get('content-length'), '0');
    // Two sessions never share an id.
    const other = await startUpload(reg.url, 'up/repo');
    assert.notEqual(other.pathname, location.pathname);
  });

  test('POST without the trailing slash also starts a session', async () => {
    const res = await fetch(`${reg.url}/v2/up/repo/blobs/uploads`, { method: 'POST' });
    await expectStatus(res, 202);
    assert.ok(res.headers.get('location'));
  });

  test('monolithic POST ?digest= answers 201 with Location and Docker-Content-Digest', async () => {
    const bytes = randomBytes(3000);
    const digest = sha256(bytes);
    const res = await fetch(`${reg.url}/v2/up/repo/blobs/uploads/?digest=${digest}`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/octet-stream' },
      body: bytes,
    });
    await expectStatus(res, 201);
    assert.equal(res.headers.get('docker-content-digest'), digest);
    const location = locationOf(res, reg.url);
    assert.equal(location.pathname, `/v2/up/repo/blobs/${digest}`);
    assert.deepEqual(await expectStatus(await fetch(location), 200), bytes);
  });

  test('monolithic POST with the wrong digest is 400 DIGEST_INVALID and nothing becomes visible', async () => {
    const bytes = randomBytes(500);
    const claimed = sha256('something else');
    const stagedBefore = scaleOut() ? [] : await readdir(join(reg.dataDir, 'uploads'));
    const res = await fetch(`${reg.url}/v2/up/wrong/blobs/uploads/?digest=${claimed}`, { method: 'POST', body: bytes });
    await expectError(res, 400, 'DIGEST_INVALID');
    await expectError(await fetch(`${reg.url}/v2/up/wrong/blobs/${claimed}`), 404, 'BLOB_UNKNOWN');
    await expectError(await fetch(`${reg.url}/v2/up/wrong/blobs/${sha256(bytes)}`), 404, 'BLOB_UNKNOWN');
    // No staged bytes left behind.
    if (!scaleOut()) assert.deepEqual(await readdir(join(reg.dataDir, 'uploads')), stagedBefore);
  });

  test('POST then PUT with the whole blob in the body', async () => {
    const bytes = randomBytes(4096);
    const url = await startUpload(reg.url, 'up/repo');
    const res = await fetch(withDigest(url, sha256(bytes)), {
      method: 'PUT',
      headers: { 'Content-Type': 'application/octet-stream' },
      body: bytes,
    });
    await expectStatus(res, 201);
    assert.equal(res.headers.get('docker-content-digest'), sha256(bytes));
    assert.equal(locationOf(res, reg.url).pathname, `/v2/up/repo/blobs/${sha256(bytes)}`);
    assert.deepEqual(await blobBytes(reg, 'up/repo', sha256(bytes)), bytes);
  });

  test('PATCH chunks with Content-Range answer 202 with Range 0-N, then PUT with no body closes', async () => {
    const bytes = randomBytes(300);
    let url = await startUpload(reg.url, 'up/chunked');
    const first = await patch(url, bytes.subarray(0, 100), '0-99');
    await expectStatus(first, 202);
    assert.equal(first.headers.get('range'), '0-99');
    assert.ok(first.headers.get('docker-upload-uuid'));
    url = locationOf(first, reg.url);
    const second = await patch(url, bytes.subarray(100, 300), '100-299');
    await expectStatus(second, 202);
    assert.equal(second.headers.get('range'), '0-299');
    url = locationOf(second, reg.url);
    const put = await fetch(withDigest(url, sha256(bytes)), { method: 'PUT' });
    await expectStatus(put, 201);
    assert.equal(put.headers.get('docker-content-digest'), sha256(bytes));
    assert.deepEqual(await blobBytes(reg, 'up/chunked', sha256(bytes)), bytes);
    // The session is gone once closed.
    await expectError(await fetch(url), 404, 'BLOB_UPLOAD_UNKNOWN');
  });

  test('PATCH without Content-Range (streamed, chunked encoding) appends', async () => {
    const a = randomBytes(1000);
    const b = randomBytes(777);
    const url = await startUpload(reg.url, 'up/streamed');
    const first = await fetch(url, { method: 'PATCH', body: streamOf(a.subarray(0, 400), a.subarray(400)), duplex: 'half' } as RequestInit);
    await expectStatus(first, 202);
    assert.equal(first.headers.get('range'), '0-999');
    const second = await fetch(locationOf(first, reg.url), { method: 'PATCH', body: b });
    await expectStatus(second, 202);
    assert.equal(second.headers.get('range'), '0-1776');
    const all = Buffer.concat([a, b]);
    await expectStatus(await fetch(withDigest(locationOf(second, reg.url), sha256(all)), { method: 'PUT' }), 201);
    assert.deepEqual(await blobBytes(reg, 'up/streamed', sha256(all)), all);
  });

  test('an out-of-order chunk is 416 with the current Range and Location, and the upload is intact', async () => {
    const bytes = randomBytes(30);
    const url = await startUpload(reg.url, 'up/order');
    await expectStatus(await patch(url, bytes.subarray(0, 10), '0-9'), 202);
    // A gap: starts at 20 instead of 10.
    const gap = await patch(url, bytes.subarray(20, 30), '20-29');
    assert.equal(gap.status, 416);
    assert.equal(gap.headers.get('range'), '0-9');
    assert.equal(locationOf(gap, reg.url).pathname, url.pathname);
    await gap.arrayBuffer();
    // A replay of the first chunk is out of order too.
    const replay = await patch(url, bytes.subarray(0, 10), '0-9');
    assert.equal(replay.status, 416);
    assert.equal(replay.headers.get('range'), '0-9');
    await replay.arrayBuffer();
    // The client resumes from the Range it was given.
    await expectStatus(await patch(url, bytes.subarray(10, 30), '10-29'), 202);
    await expectStatus(await fetch(withDigest(url, sha256(bytes)), { method: 'PUT' }), 201);
    assert.deepEqual(await blobBytes(reg, 'up/order', sha256(bytes)), bytes);
  });

  test('two chunks racing for the same offset: one is accepted, the other gets 416', async () => {
    const a = randomBytes(256 * 1024);
    const b = randomBytes(256 * 1024);
    const url = await startUpload(reg.url, 'up/race');
    const range = `0-${a.length - 1}`;
    const results = await Promise.all([patch(url, a, range), patch(url, b, range)]);
    const statuses = results.map((r) => r.status).sort();
    await Promise.all(results.map((r) => r.arrayBuffer()));
    assert.deepEqual(statuses, [202, 416]);
    const winner = results[0]!.status === 202 ? a : b;
    await expectStatus(await fetch(withDigest(url, sha256(winner)), { method: 'PUT' }), 201);
    assert.deepEqual(await blobBytes(reg, 'up/race', sha256(winner)), winner);
  });

  test('a malformed Content-Range is refused with 416 and does not move the upload', async () => {
    const url = await startUpload(reg.url, 'up/malformed');
    await expectStatus(await patch(url, randomBytes(5), '0-4'), 202);
    for (const bad of ['five-ten', '10-5', '5', 'bytes=a-b']) {
      const res = await patch(url, randomBytes(6), bad);
      assert.equal(res.status, 416, `Content-Range ${bad}`);
      await res.arrayBuffer();
    }
    const status = await fetch(url);
    await expectStatus(status, 204);
    assert.equal(status.headers.get('range'), '0-4');
  });

  test('a Content-Range that disagrees with the body length is refused and does not move the upload', async () => {
    const url = await startUpload(reg.url, 'up/length');
    const res = await patch(url, randomBytes(5), '0-9');
    assert.ok(res.status === 400 || res.status === 416, `status ${res.status}`);
    await res.arrayBuffer();
    const status = await fetch(url);
    await expectStatus(status, 204);
    assert.equal(status.headers.get('range'), '0-0');
  });

  test('GET on the upload URL is 204 with Range and Location', async () => {
    const url = await startUpload(reg.url, 'up/status');
    const empty = await fetch(url);
    await expectStatus(empty, 204);
    assert.equal(empty.headers.get('range'), '0-0');
    assert.equal(locationOf(empty, reg.url).pathname, url.pathname);
    await expectStatus(await patch(url, randomBytes(64), '0-63'), 202);
    const status = await fetch(url);
    await expectStatus(status, 204);
    assert.equal(status.headers.get('range'), '0-63');
    assert.equal(locationOf(status, reg.url).pathname, url.pathname);
    assert.equal(status.headers.get('docker-upload-uuid'), url.pathname.split('/').pop());
  });

  test('PUT carrying the final chunk with Content-Range completes the blob', async () => {
    const bytes = randomBytes(2500);
    const url = await startUpload(reg.url, 'up/final');
    const first = await patch(url, bytes.subarray(0, 1000), '0-999');
    await expectStatus(first, 202);
    const put = await fetch(withDigest(locationOf(first, reg.url), sha256(bytes)), {
      method: 'PUT',
      headers: { 'Content-Type': 'application/octet-stream', 'Content-Range': '1000-2499' },
      body: bytes.subarray(1000),
    });
    await expectStatus(put, 201);
    assert.deepEqual(await blobBytes(reg, 'up/final', sha256(bytes)), bytes);
  });

  test('PUT without ?digest= is 400 DIGEST_INVALID and no blob appears', async () => {
    const bytes = randomBytes(50);
    const url = await startUpload(reg.url, 'up/nodigest');
    await expectStatus(await patch(url, bytes, '0-49'), 202);
    await expectError(await fetch(url, { method: 'PUT' }), 400, 'DIGEST_INVALID');
    await expectError(await fetch(`${reg.url}/v2/up/nodigest/blobs/${sha256(bytes)}`), 404, 'BLOB_UNKNOWN');
  });

  test('PUT with a digest that does not match is 400 DIGEST_INVALID and no blob appears', async () => {
    const bytes = randomBytes(50);
    const claimed = sha256(randomBytes(50));
    const url = await startUpload(reg.url, 'up/baddigest');
    await expectStatus(await patch(url, bytes, '0-49'), 202);
    await expectError(await fetch(withDigest(url, claimed), { method: 'PUT' }), 400, 'DIGEST_INVALID');
    await expectError(await fetch(`${reg.url}/v2/up/baddigest/blobs/${claimed}`), 404, 'BLOB_UNKNOWN');
    await expectError(await fetch(`${reg.url}/v2/up/baddigest/blobs/${sha256(bytes)}`), 404, 'BLOB_UNKNOWN');
    // A malformed digest is refused the same way.
    await expectError(await fetch(withDigest(url, 'sha256:nothex'), { method: 'PUT' }), 400, 'DIGEST_INVALID');
  });

  test('a chunked upload can be closed with a sha512 digest', async () => {
    const bytes = randomBytes(1234);
    const url = await startUpload(reg.url, 'up/sha512');
    await expectStatus(await patch(url, bytes.subarray(0, 600), '0-599'), 202);
    await expectStatus(await patch(url, bytes.subarray(600), '600-1233'), 202);
    const put = await fetch(withDigest(url, sha512(bytes)), { method: 'PUT' });
    await expectStatus(put, 201);
    assert.equal(put.headers.get('docker-content-digest'), sha512(bytes));
    assert.deepEqual(await blobBytes(reg, 'up/sha512', sha512(bytes)), bytes);
  });

  test('DELETE cancels: 204, then the session is 404 BLOB_UPLOAD_UNKNOWN', async () => {
    const url = await startUpload(reg.url, 'up/cancel');
    await expectStatus(await patch(url, randomBytes(10), '0-9'), 202);
    await expectStatus(await fetch(url, { method: 'DELETE' }), 204);
    await expectError(await fetch(url), 404, 'BLOB_UPLOAD_UNKNOWN');
    await expectError(await patch(url, randomBytes(10), '0-9'), 404, 'BLOB_UPLOAD_UNKNOWN');
    await expectError(await fetch(url, { method: 'DELETE' }), 404, 'BLOB_UPLOAD_UNKNOWN');
    // The staged bytes are gone too.
    const id = url.pathname.split('/').pop()!;
    if (!scaleOut()) assert.ok(!(await readdir(join(reg.dataDir, 'uploads'))).includes(id));
  });

  test('an unknown upload id is 404 BLOB_UPLOAD_UNKNOWN for every method', async () => {
    const base = `${reg.url}/v2/up/repo/blobs/uploads`;
    for (const id of ['3f1e7c0a-0000-4000-8000-000000000000', 'not-a-session', 'x'.repeat(100)]) {
      await expectError(await fetch(`${base}/${id}`), 404, 'BLOB_UPLOAD_UNKNOWN');
      await expectError(await fetch(`${base}/${id}`, { method: 'PATCH', body: randomBytes(4) }), 404, 'BLOB_UPLOAD_UNKNOWN');
      await expectError(await fetch(`${base}/${id}?digest=${sha256('')}`, { method: 'PUT' }), 404, 'BLOB_UPLOAD_UNKNOWN');
      await expectError(await fetch(`${base}/${id}`, { method: 'DELETE' }), 404, 'BLOB_UPLOAD_UNKNOWN');
    }
    // `..` as an id (sent verbatim; fetch would normalise it away).
    const dots = await rawRequest(reg.url, 'GET', '/v2/up/repo/blobs/uploads/..');
    assert.equal(dots.status, 404);
    checkErrorBody(dots.body.toString(), 'BLOB_UPLOAD_UNKNOWN');
  });

  test('an upload id from repository A is unknown under repository B', async () => {
    const url = await startUpload(reg.url, 'up/owner');
    const id = url.pathname.split('/').pop()!;
    const foreign = `${reg.url}/v2/up/intruder/blobs/uploads/${id}`;
    await expectError(await fetch(foreign), 404, 'BLOB_UPLOAD_UNKNOWN');
    await expectError(await fetch(foreign, { method: 'PATCH', body: randomBytes(4) }), 404, 'BLOB_UPLOAD_UNKNOWN');
    await expectError(await fetch(`${foreign}?digest=${sha256('')}`, { method: 'PUT' }), 404, 'BLOB_UPLOAD_UNKNOWN');
    await expectError(await fetch(foreign, { method: 'DELETE' }), 404, 'BLOB_UPLOAD_UNKNOWN');
    // The owner's session is untouched.
    const status = await fetch(url);
    await expectStatus(status, 204);
    assert.equal(status.headers.get('range'), '0-0');
  });

  test('cross-repository mount answers 201 with Location and Docker-Content-Digest', async () => {
    const bytes = randomBytes(2048);
    const blob = await pushBlob(reg.url, 'mount/source', bytes);
    await expectError(await fetch(`${reg.url}/v2/mount/target/blobs/${blob.digest}`), 404, 'BLOB_UNKNOWN');
    const res = await fetch(`${reg.url}/v2/mount/target/blobs/uploads/?mount=${blob.digest}&from=mount/source`, { method: 'POST' });
    await expectStatus(res, 201);
    assert.equal(res.headers.get('docker-content-digest'), blob.digest);
    assert.equal(locationOf(res, reg.url).pathname, `/v2/mount/target/blobs/${blob.digest}`);
    assert.deepEqual(await blobBytes(reg, 'mount/target', blob.digest), bytes);
  });

  test('a mount that cannot be done falls back to a 202 upload session', async () => {
    const elsewhere = await pushBlob(reg.url, 'mount/elsewhere', randomBytes(100));
    const cases = [
      // The blob exists in the registry, but not in `from`.
      `mount=${elsewhere.digest}&from=mount/source`,
      // `from` is not a valid repository name.
      `mount=${elsewhere.digest}&from=Not..Valid`,
      // The digest is malformed.
      `mount=sha256:1234&from=mount/elsewhere`,
      // The blob does not exist anywhere.
      `mount=${sha256('never pushed')}&from=mount/elsewhere`,
    ];
    for (const query of cases) {
      const res = await fetch(`${reg.url}/v2/mount/fallback/blobs/uploads/?${query}`, { method: 'POST' });
      await expectStatus(res, 202);
      const url = locationOf(res, reg.url);
      assert.match(url.pathname, /^\/v2\/mount\/fallback\/blobs\/uploads\/[^/]+$/, query);
      // The fallback session is a real one.
      await expectStatus(await fetch(url), 204);
    }
    await expectError(await fetch(`${reg.url}/v2/mount/fallback/blobs/${elsewhere.digest}`), 404, 'BLOB_UNKNOWN');
  });

  test('a multi-megabyte chunked upload round-trips byte for byte', async () => {
    const chunk = 2 * MiB;
    const bytes = randomBytes(3 * chunk);
    let url = await startUpload(reg.url, 'up/large');
    for (let i = 0; i < 3; i++) {
      const start = i * chunk;
      const end = start + chunk - 1;
      const res = await patch(url, bytes.subarray(start, end + 1), `${start}-${end}`);
      await expectStatus(res, 202);
      assert.equal(res.headers.get('range'), `0-${end}`);
      url = locationOf(res, reg.url);
    }
    const digest = sha256(bytes);
    const put = await fetch(withDigest(url, digest), { method: 'PUT' });
    await expectStatus(put, 201);
    assert.equal(put.headers.get('docker-content-digest'), digest);
    const res = await fetch(`${reg.url}/v2/up/large/blobs/${digest}`);
    const body = await expectStatus(res, 200);
    assert.equal(res.headers.get('content-length'), String(3 * chunk));
    assert.equal(body.length, bytes.length);
    assert.ok(body.equals(bytes), 'downloaded bytes differ from the uploaded ones');
    assert.equal(sha256(body), digest);
  });
});

describe('upload sessions across a restart', () => {
  let dir: string;
  let reg: TestRegistry | undefined;
  before(async () => {
    dir = await makeTempDir();
  });
  after(async () => {
    await reg?.close();
    await rm(dir, { recursive: true, force: true });
  });

  test('a session started before a restart continues with PATCH and PUT, digest right', async () => {
    const bytes = randomBytes(300 * 1024);
    reg = await startRegistry({}, dir);
    const url = await startUpload(reg.url, 'restart/repo');
    const first = await patch(url, bytes.subarray(0, 100 * 1024), `0-${100 * 1024 - 1}`);
    await expectStatus(first, 202);
    const path = locationOf(first, reg.url).pathname;
    await reg.close();
    reg = undefined;

    reg = await startRegistry({}, dir);
    const resumed = new URL(path, reg.url);
    const status = await fetch(resumed);
    await expectStatus(status, 204);
    assert.equal(status.headers.get('range'), `0-${100 * 1024 - 1}`);
    const second = await patch(resumed, bytes.subarray(100 * 1024, 200 * 1024), `${100 * 1024}-${200 * 1024 - 1}`);
    await expectStatus(second, 202);
    assert.equal(second.headers.get('range'), `0-${200 * 1024 - 1}`);
    const put = await fetch(withDigest(locationOf(second, reg.url), sha256(bytes)), {
      method: 'PUT',
      headers: { 'Content-Range': `${200 * 1024}-${300 * 1024 - 1}` },
      body: bytes.subarray(200 * 1024),
    });
    await expectStatus(put, 201);
    assert.equal(put.headers.get('docker-content-digest'), sha256(bytes));
    const body = await blobBytes(reg, 'restart/repo', sha256(bytes));
    assert.ok(body.equals(bytes));
  });
});
