// Graceful shutdown of `registry serve`: SIGTERM while an upload is streaming lets that upload
// finish and be acknowledged, refuses new connections, and exits 0. The data is then intact.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { request } from 'node:http';
import { rm } from 'node:fs/promises';
import { makeTempDir, spawnRegistry } from '../helpers/registry.js';

/** PATCH `chunks` one every `gapMs`, so the request is still running when the signal comes. */
function slowPatch(url: URL, chunks: Buffer[], gapMs: number): Promise<{ status: number; range: string | undefined }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: 'PATCH', headers: { 'Content-Type': 'application/octet-stream', 'Transfer-Encoding': 'chunked' } }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0, range: res.headers['range'] as string | undefined }));
    });
    req.on('error', reject);
    let i = 0;
    const next = () => {
      if (i === chunks.length) {
        req.end();
        return;
      }
      req.write(chunks[i++]);
      setTimeout(next, gapMs);
    };
    next();
  });
}

test('SIGTERM during an upload: the upload finishes, new connections are refused, exit 0', async () => {
  const dir = await makeTempDir('registry-shutdown-');
  const server = await spawnRegistry(dir);
  try {
    const start = await fetch(`${server.url}/v2/shutdown/test/blobs/uploads/`, { method: 'POST' });
    assert.equal(start.status, 202);
    const location = new URL(start.headers.get('location')!, server.url);
    const chunks = Array.from({ length: 10 }, () => randomBytes(64 * 1024));
    const patch = slowPatch(location, chunks, 150);
    await new Promise((r) => setTimeout(r, 400));
    server.child.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 200));
    await assert.rejects(fetch(`${server.url}/v2/`, { signal: AbortSignal.timeout(2000) }), 'no new connections once shutting down');
    const answered = await patch;
    assert.equal(answered.status, 202, 'the running upload was acknowledged');
    assert.equal(answered.range, `0-${10 * 64 * 1024 - 1}`);
    assert.equal(await server.exited, 0, 'clean exit');

    // The acknowledged bytes are there after a restart: finish the upload.
    const again = await spawnRegistry(dir);
    try {
      const whole = Buffer.concat(chunks);
      const digest = `sha256:${createHash('sha256').update(whole).digest('hex')}`;
      const put = new URL(location.pathname, again.url);
      put.searchParams.set('digest', digest);
      const done = await fetch(put, { method: 'PUT' });
      assert.equal(done.status, 201, await done.text());
      const got = Buffer.from(await (await fetch(`${again.url}/v2/shutdown/test/blobs/${digest}`)).arrayBuffer());
      assert.ok(got.equals(whole));
    } finally {
      await again.kill('SIGTERM');
    }
  } finally {
    await server.kill('SIGKILL');
    await rm(dir, { recursive: true, force: true });
  }
});
