// /healthz (alive while serving) and /readyz (metadata store and blob store answer in time):
// a backend taken away makes /readyz 503 naming it, and ready again once it is back; a
// registry shutting down is not ready. Neither endpoint needs credentials.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, rename } from 'node:fs/promises';
import { connect } from 'node:net';
import { once } from 'node:events';
import { join } from 'node:path';
import { makeTempDir, scaleOut, spawnRegistry, startRegistry, type TestRegistry } from '../helpers/registry.js';
import { expectStatus, pushBlob, randomBytes } from '../helpers/oci.js';
import { startAuthRegistry } from '../helpers/api.js';
import { TcpProxy } from '../helpers/proxy.js';
import { requireEnv, s3Settings } from '../helpers/services.js';
import { eventually } from '../helpers/auth.js';

interface Readiness {
  status: number;
  body: { status: string; failing?: string[]; checks?: Record<string, string> };
}

async function readiness(url: string): Promise<Readiness> {
  const res = await fetch(`${url}/readyz`, { signal: AbortSignal.timeout(10_000) });
  assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
  return { status: res.status, body: (await res.json()) as Readiness['body'] };
}

async function alive(url: string): Promise<void> {
  const res = await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(10_000) });
  assert.equal(res.status, 200);
  assert.deepEqual(await res.json(), { status: 'ok' });
}

describe('health endpoints', () => {
  let reg: TestRegistry;
  before(async () => {
    reg = await startAuthRegistry();
  });
  after(async () => {
    await reg.close();
  });

  test('/healthz and /readyz answer 200 without credentials, even with access control on', async () => {
    await alive(reg.url);
    const ready = await readiness(reg.url);
    assert.equal(ready.status, 200);
    assert.deepEqual(ready.body, { status: 'ready', checks: { metadata: 'ok', blobStore: 'ok' } });
    // While /v2 asks for credentials.
    assert.equal((await fetch(`${reg.url}/v2/`)).status, 401);
  });
});

describe('readiness with a backend gone', () => {
  test('blob store directory unreadable: 503 naming the blob store, ready again once restored', { skip: scaleOut() && 'the blob store is S3 here (see the S3 case)' }, async () => {
    const reg = await startRegistry();
    const blobs = join(reg.dataDir, 'blobs');
    const aside = join(reg.dataDir, 'blobs-aside');
    // Root reads whatever the mode says: then the directory goes away instead.
    const asRoot = process.getuid?.() === 0;
    try {
      if (asRoot) await rename(blobs, aside);
      else await chmod(blobs, 0o000);
      const ready = await readiness(reg.url);
      assert.equal(ready.status, 503);
      assert.equal(ready.body.status, 'unavailable');
      assert.deepEqual(ready.body.failing, ['blobStore']);
      assert.equal(ready.body.checks?.['metadata'], 'ok');
      assert.ok(!JSON.stringify(ready.body).includes(reg.dataDir), 'the body names the dependency, not its path');
      await alive(reg.url);
    } finally {
      if (asRoot) await rename(aside, blobs);
      else await chmod(blobs, 0o755);
    }
    assert.equal((await readiness(reg.url)).status, 200);
    await reg.close();
  });

  test('PostgreSQL unreachable: a registry pointed at a closed port is alive but not ready', { skip: !scaleOut() && 'PostgreSQL is the scale-out metadata store' }, async () => {
    const pg = new URL(requireEnv('TEST_POSTGRES_URL'));
    const proxy = await TcpProxy.start(pg.hostname, Number(pg.port || 5432));
    const dir = await makeTempDir();
    // The registry's own database (created by the harness), reached through the proxy.
    const probe = await startRegistry({}, dir);
    const url = probe.app.config.metadata.postgres.url!;
    await probe.close();
    const child = await spawnRegistry(dir, 0, { REGISTRY_METADATA_POSTGRES_URL: proxy.via(url) });
    try {
      assert.equal((await readiness(child.url)).status, 200);
      await proxy.close();
      const ready = await readiness(child.url);
      assert.equal(ready.status, 503);
      assert.deepEqual(ready.body.failing, ['metadata']);
      assert.equal(ready.body.checks?.['blobStore'], 'ok');
      await alive(child.url);
      await proxy.open();
      await eventually(async () => (await readiness(child.url)).status === 200, 'ready again once PostgreSQL is back', 15_000);
    } finally {
      await child.kill();
      await proxy.close();
    }
  });

  test('S3 not answering: 503 within the readiness timeout, naming the blob store', { skip: !scaleOut() && 'S3 is the scale-out blob store' }, async () => {
    const s3 = new URL(s3Settings().endpoint);
    const proxy = await TcpProxy.start(s3.hostname, Number(s3.port || 80));
    const reg = await startRegistry({ storage: { s3: { endpoint: proxy.via(s3Settings().endpoint) } } });
    try {
      await pushBlob(reg.url, 'health/s3', randomBytes(100));
      assert.equal((await readiness(reg.url)).status, 200);
      proxy.stall();
      const started = Date.now();
      const ready = await readiness(reg.url);
      const took = Date.now() - started;
      assert.equal(ready.status, 503);
      assert.deepEqual(ready.body.failing, ['blobStore']);
      assert.match(ready.body.checks?.['blobStore'] ?? '', /no answer within/);
      assert.ok(took < 5_000, `/readyz took ${took} ms`);
      proxy.resume();
      await proxy.close();
      await proxy.open();
      await eventually(async () => (await readiness(reg.url)).status === 200, 'ready again once S3 answers', 15_000);
    } finally {
      await proxy.close();
      await reg.close();
    }
  });
});

describe('readiness during shutdown', () => {
  test('a registry finishing its requests before stopping answers /readyz 503', async () => {
    const reg = await startRegistry({ http: { shutdownGraceMs: 20_000 } });
    const bytes = randomBytes(16 * 1024 * 1024);
    const blob = await pushBlob(reg.url, 'health/shutdown', bytes);
    const pull = await fetch(`${reg.url}/v2/health/shutdown/blobs/${blob.digest}`);
    const reader = pull.body!.getReader();
    await reader.read();
    // A pull is still running, so the shutdown waits; the load balancer asks meanwhile.
    // A probe on a connection opened before the shutdown (new connections are refused then):
    // its request has begun, so the connection is not idle and is not closed under it.
    const probe = connect(Number(new URL(reg.url).port), '127.0.0.1');
    await once(probe, 'connect');
    probe.write('GET /readyz HTTP/1.1\r\nHost: registry\r\nConnection: close\r\n');
    let answer = '';
    probe.on('data', (d: Buffer) => (answer += d.toString()));
    const closing = reg.close();
    await eventually(async () => !reg.app.server.server.listening, 'the server to stop listening');
    probe.end('\r\n');
    await once(probe, 'close');
    assert.match(answer, /^HTTP\/1\.1 503 /);
    assert.deepEqual(JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4)), { status: 'shutting down' });
    for (let i = 0; i < 100_000; i++) if ((await reader.read()).done) break;
    await closing;
    await expectStatus(pull, 200).catch(() => undefined);
  });
});
