// GET / HEAD / DELETE /v2/<name>/blobs/<digest>: pulls, ranges, repository scoping, deletes.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startRegistry, type TestRegistry } from '../helpers/registry.js';
import { expectError, expectStatus, pushBlob, randomBytes, rawRequest, sha256, sha512 } from '../helpers/oci.js';

describe('blobs', () => {
  let reg: TestRegistry;
  const data = Buffer.from('0123456789abcdefghij'); // 20 bytes
  let digest: string;

  before(async () => {
    reg = await startRegistry();
    digest = (await pushBlob(reg.url, 'pull/repo', data)).digest;
  });
  after(async () => {
    await reg.close();
  });

  test('GET returns the bytes with Content-Length and Docker-Content-Digest', async () => {
    const res = await fetch(`${reg.url}/v2/pull/repo/blobs/${digest}`);
    const body = await expectStatus(res, 200);
    assert.deepEqual(body, data);
    assert.equal(res.headers.get('content-length'), '20');
    assert.equal(res.headers.get('docker-content-digest'), digest);
    assert.equal(sha256(body), digest);
  });

  test('HEAD returns the headers of GET and no body', async () => {
    const res = await rawRequest(reg.url, 'HEAD', `/v2/pull/repo/blobs/${digest}`);
    assert.equal(res.status, 200);
    assert.equal(res.headers['content-length'], '20');
    assert.equal(res.headers['docker-content-digest'], digest);
    assert.equal(res.body.length, 0);
  });

  test('a byte range answers 206 with Content-Range and exactly those bytes', async () => {
    const res = await fetch(`${reg.url}/v2/pull/repo/blobs/${digest}`, { headers: { Range: 'bytes=2-5' } });
    const body = await expectStatus(res, 206);
    assert.equal(body.toString(), '2345');
    assert.equal(res.headers.get('content-range'), 'bytes 2-5/20');
    assert.equal(res.headers.get('content-length'), '4');
  });

  test('an open-ended range bytes=5- returns the rest of the blob', async () => {
    const res = await fetch(`${reg.url}/v2/pull/repo/blobs/${digest}`, { headers: { Range: 'bytes=5-' } });
    const body = await expectStatus(res, 206);
    assert.equal(body.toString(), '56789abcdefghij');
    assert.equal(res.headers.get('content-range'), 'bytes 5-19/20');
    assert.equal(res.headers.get('content-length'), '15');
  });

  test('a suffix range bytes=-3 returns the last three bytes', async () => {
    const res = await fetch(`${reg.url}/v2/pull/repo/blobs/${digest}`, { headers: { Range: 'bytes=-3' } });
    const body = await expectStatus(res, 206);
    assert.equal(body.toString(), 'hij');
    assert.equal(res.headers.get('content-range'), 'bytes 17-19/20');
  });

  test('a range running past the end is clipped to the blob', async () => {
    const res = await fetch(`${reg.url}/v2/pull/repo/blobs/${digest}`, { headers: { Range: 'bytes=18-1000' } });
    const body = await expectStatus(res, 206);
    assert.equal(body.toString(), 'ij');
    assert.equal(res.headers.get('content-range'), 'bytes 18-19/20');
  });

  test('a Range header that is not a single byte range is ignored: 200 with the whole blob', async () => {
    for (const range of ['bytes=0-1,4-5', 'items=0-5', 'bytes=abc', 'bytes=9-3']) {
      const res = await fetch(`${reg.url}/v2/pull/repo/blobs/${digest}`, { headers: { Range: range } });
      assert.deepEqual(await expectStatus(res, 200), data, range);
      assert.equal(res.headers.get('content-range'), null);
    }
  });

  test('an unsatisfiable range answers 416 with Content-Range: bytes */size', async () => {
    const res = await fetch(`${reg.url}/v2/pull/repo/blobs/${digest}`, { headers: { Range: 'bytes=20-' } });
    assert.equal(res.status, 416);
    assert.equal(res.headers.get('content-range'), 'bytes */20');
    await res.arrayBuffer();
  });

  test('an unknown blob is 404 BLOB_UNKNOWN (GET) and 404 with no body (HEAD)', async () => {
    const missing = sha256('not pushed');
    const body = await expectError(await fetch(`${reg.url}/v2/pull/repo/blobs/${missing}`), 404, 'BLOB_UNKNOWN');
    assert.deepEqual(body.errors[0]!.detail, { digest: missing });
    const head = await rawRequest(reg.url, 'HEAD', `/v2/pull/repo/blobs/${missing}`);
    assert.equal(head.status, 404);
    assert.equal(head.body.length, 0);
  });

  test('a blob pushed to repository A is not visible through repository B', async () => {
    await expectError(await fetch(`${reg.url}/v2/other/repo/blobs/${digest}`), 404, 'BLOB_UNKNOWN');
    const head = await rawRequest(reg.url, 'HEAD', `/v2/other/repo/blobs/${digest}`);
    assert.equal(head.status, 404);
    // ...while A still serves it.
    await expectStatus(await fetch(`${reg.url}/v2/pull/repo/blobs/${digest}`), 200);
  });

  test('malformed digests are 400 DIGEST_INVALID', async () => {
    for (const bad of ['sha256:xyz', 'sha256:' + 'A'.repeat(64), 'nodigest', 'sha256:' + 'a'.repeat(63), 'md5:' + 'a'.repeat(32), 'sha512:' + 'a'.repeat(64)]) {
      await expectError(await fetch(`${reg.url}/v2/pull/repo/blobs/${bad}`), 400, 'DIGEST_INVALID');
    }
  });

  test('DELETE answers 202, then the blob is 404 and a second DELETE is 404', async () => {
    const blob = await pushBlob(reg.url, 'del/repo', randomBytes(100));
    const res = await fetch(`${reg.url}/v2/del/repo/blobs/${blob.digest}`, { method: 'DELETE' });
    await expectStatus(res, 202);
    await expectError(await fetch(`${reg.url}/v2/del/repo/blobs/${blob.digest}`), 404, 'BLOB_UNKNOWN');
    await expectError(await fetch(`${reg.url}/v2/del/repo/blobs/${blob.digest}`, { method: 'DELETE' }), 404, 'BLOB_UNKNOWN');
  });

  test('deleting a blob from one repository leaves it in another', async () => {
    const bytes = randomBytes(64);
    const blob = await pushBlob(reg.url, 'shared/a', bytes);
    await pushBlob(reg.url, 'shared/b', bytes);
    await expectStatus(await fetch(`${reg.url}/v2/shared/a/blobs/${blob.digest}`, { method: 'DELETE' }), 202);
    await expectError(await fetch(`${reg.url}/v2/shared/a/blobs/${blob.digest}`), 404, 'BLOB_UNKNOWN');
    assert.deepEqual(await expectStatus(await fetch(`${reg.url}/v2/shared/b/blobs/${blob.digest}`), 200), bytes);
  });

  test('sha512 digests: push, GET, HEAD and ranges work', async () => {
    const bytes = randomBytes(1000);
    const d512 = sha512(bytes);
    const put = await fetch(`${reg.url}/v2/pull/repo/blobs/uploads/?digest=${d512}`, { method: 'POST', body: bytes });
    await expectStatus(put, 201);
    assert.equal(put.headers.get('docker-content-digest'), d512);
    const res = await fetch(`${reg.url}/v2/pull/repo/blobs/${d512}`);
    assert.deepEqual(await expectStatus(res, 200), bytes);
    assert.equal(res.headers.get('docker-content-digest'), d512);
    const head = await rawRequest(reg.url, 'HEAD', `/v2/pull/repo/blobs/${d512}`);
    assert.equal(head.status, 200);
    assert.equal(head.headers['content-length'], '1000');
    const part = await fetch(`${reg.url}/v2/pull/repo/blobs/${d512}`, { headers: { Range: 'bytes=990-' } });
    assert.deepEqual(await expectStatus(part, 206), bytes.subarray(990));
    // The same bytes under their sha256 digest were never pushed.
    await expectError(await fetch(`${reg.url}/v2/pull/repo/blobs/${sha256(bytes)}`), 404, 'BLOB_UNKNOWN');
  });

  test('an empty blob can be pushed and pulled', async () => {
    const blob = await pushBlob(reg.url, 'pull/repo', Buffer.alloc(0));
    assert.equal(blob.digest, 'sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
    const res = await fetch(`${reg.url}/v2/pull/repo/blobs/${blob.digest}`);
    assert.equal((await expectStatus(res, 200)).length, 0);
    assert.equal(res.headers.get('content-length'), '0');
  });

  test('a blob of several MiB comes back byte for byte, whole, in ranges across MiB boundaries, and to concurrent pulls', async () => {
    const bytes = randomBytes(3 * 1024 * 1024 + 7);
    const blob = await pushBlob(reg.url, 'pull/large', bytes);
    const url = `${reg.url}/v2/pull/large/blobs/${blob.digest}`;
    const whole = await Promise.all([1, 2, 3].map(async () => expectStatus(await fetch(url), 200)));
    for (const body of whole) assert.equal(sha256(body), blob.digest);
    const start = 1024 * 1024 - 3;
    const end = 2 * 1024 * 1024 + 5;
    const part = await fetch(url, { headers: { Range: `bytes=${start}-${end}` } });
    assert.equal(part.headers.get('content-range'), `bytes ${start}-${end}/${bytes.length}`);
    assert.deepEqual(await expectStatus(part, 206), bytes.subarray(start, end + 1));
  });

  test('a client that goes away mid-pull does not disturb the next pulls', async () => {
    const bytes = randomBytes(8 * 1024 * 1024);
    const blob = await pushBlob(reg.url, 'pull/large', bytes);
    const url = `${reg.url}/v2/pull/large/blobs/${blob.digest}`;
    for (let i = 0; i < 3; i++) {
      const controller = new AbortController();
      const res = await fetch(url, { signal: controller.signal });
      const reader = res.body!.getReader();
      await reader.read();
      controller.abort();
      await reader.read().catch(() => undefined);
    }
    assert.equal(sha256(await expectStatus(await fetch(url), 200)), blob.digest);
  });
});
