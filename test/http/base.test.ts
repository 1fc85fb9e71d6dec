// GET /v2/: the version check every client starts with.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startRegistry, type TestRegistry } from '../helpers/registry.js';
import { pushBlob, randomBytes, rawRequest } from '../helpers/oci.js';

describe('base endpoint /v2/', () => {
  let reg: TestRegistry;
  before(async () => {
    reg = await startRegistry();
  });
  after(async () => {
    await reg.close();
  });

  test('GET /v2/ answers 200 with the API version header and a JSON body', async () => {
    const res = await fetch(`${reg.url}/v2/`);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('docker-distribution-api-version'), 'registry/2.0');
    assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
    assert.deepEqual(await res.json(), {});
  });

  test('GET /v2 without the trailing slash is the same endpoint', async () => {
    const res = await fetch(`${reg.url}/v2`);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('docker-distribution-api-version'), 'registry/2.0');
    await res.arrayBuffer();
  });

  test('HEAD /v2/ answers 200 with the header and no body', async () => {
    const res = await rawRequest(reg.url, 'HEAD', '/v2/');
    assert.equal(res.status, 200);
    assert.equal(res.headers['docker-distribution-api-version'], 'registry/2.0');
    assert.equal(res.body.length, 0);
  });

  test('the API version header is also on /v2 error responses', async () => {
    const res = await fetch(`${reg.url}/v2/nothing-here/manifests/latest`);
    assert.equal(res.status, 404);
    assert.equal(res.headers.get('docker-distribution-api-version'), 'registry/2.0');
    await res.arrayBuffer();
  });
});

describe('graceful shutdown', () => {
  test('close() lets a running pull finish and then returns without waiting out the grace period', async () => {
    const reg = await startRegistry({ http: { shutdownGraceMs: 20_000 } });
    let closed = false;
    try {
      const bytes = randomBytes(16 * 1024 * 1024);
      const blob = await pushBlob(reg.url, 'shutdown/repo', bytes);
      const res = await fetch(`${reg.url}/v2/shutdown/repo/blobs/${blob.digest}`);
      assert.equal(res.status, 200);
      const reader = res.body!.getReader();
      // Read a little: the server is still sending the rest when the shutdown starts.
      const first = await reader.read();
      assert.ok(!first.done);
      let received = first.value.length;
      const started = Date.now();
      const closing = reg.close().then(() => (closed = true));
      for (let i = 0; i < 100_000; i++) {
        const { done, value } = await reader.read();
        if (done) break;
        received += value.length;
      }
      assert.equal(received, bytes.length, 'the pull running at shutdown was cut off');
      await closing;
      const took = Date.now() - started;
      assert.ok(took < 10_000, `close() took ${took} ms after the last response finished`);
    } finally {
      if (!closed) await reg.close();
    }
  });
});
