// A hostile upstream redirecting the pull-through cache: blob GETs that an upstream redirects
// (as registries do, to their blob storage) are followed hop by hop, to the upstream's own host
// or to public addresses only. A redirect to another loopback address, or to a name that
// resolves to loopback or the metadata address when the connection opens, reaches nothing:
// the client gets a 503 in the spec's format, and nothing is cached.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { startRegistry, type TestRegistry } from '../helpers/registry.js';
import type { Resolver } from '../../src/events/targets.js';

interface Listening {
  server: Server;
  port: number;
  requests: string[];
}

async function listen(host: string, handler: (url: string, res: import('node:http').ServerResponse) => void): Promise<Listening> {
  const requests: string[] = [];
  const server = createServer((req, res) => {
    requests.push(`${req.method} ${req.url}`);
    handler(req.url ?? '/', res);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, host, () => resolve());
  });
  return { server, port: (server.address() as { port: number }).port, requests };
}

const close = (l: Listening | undefined) => l && new Promise((resolve) => l.server.close(resolve));

describe('pull-through cache: upstream redirects', { timeout: 60_000 }, () => {
  const blob = randomBytes(4096);
  const digest = `sha256:${createHash('sha256').update(blob).digest('hex')}`;
  let redirectTo = '';
  let upstream: Listening;
  /** Blob storage on the upstream's own host (another port): allowed. */
  let sameHost: Listening;
  /** An internal service on another loopback address: must never be asked. */
  let canary: Listening;
  let reg: TestRegistry;
  const asked: string[] = [];
  const resolver: Resolver = async (host) => {
    asked.push(host);
    if (host === 'internal.test') return [{ address: '127.0.0.2', family: 4 }];
    if (host === 'metadata.test') return [{ address: '169.254.169.254', family: 4 }];
    return [];
  };
  const serveBlob = (_url: string, res: import('node:http').ServerResponse) => void res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(blob.length) }).end(blob);

  before(async () => {
    upstream = await listen('127.0.0.1', (url, res) => {
      if (url === '/v2/') return void res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      if (url.includes('/blobs/')) return void res.writeHead(307, { location: redirectTo }).end();
      res.writeHead(404, { 'content-type': 'application/json' }).end('{"errors":[{"code":"NAME_UNKNOWN","message":"no"}]}');
    });
    sameHost = await listen('127.0.0.1', serveBlob);
    canary = await listen('127.0.0.2', serveBlob);
    reg = await startRegistry({ scan: { enabled: false }, proxy: { upstreams: [{ namespace: 'hub', url: `http://127.0.0.1:${upstream.port}`, timeoutMs: 5000 }] } }, undefined, { resolver });
  });
  after(async () => {
    await reg?.close();
    await close(upstream);
    await close(sameHost);
    await close(canary);
  });

  const pull = () => fetch(`${reg.url}/v2/hub/lib/app/blobs/${digest}`);
  const upstreamBlobGets = () => upstream.requests.filter((r) => r.includes('/blobs/')).length;

  async function assertRefused(location: string, reason: RegExp): Promise<void> {
    redirectTo = location;
    const before = upstreamBlobGets();
    const res = await pull();
    assert.equal(res.status, 503);
    const body = (await res.json()) as { errors: { code: string; message: string }[] };
    assert.equal(body.errors[0]!.code, 'UNAVAILABLE');
    assert.match(body.errors[0]!.message, reason);
    assert.doesNotMatch(JSON.stringify(body), /at .*\.js:\d+/, 'no stack trace');
    assert.equal(upstreamBlobGets(), before + 1, 'asked the upstream (nothing was cached)');
    assert.deepEqual(canary.requests, [], 'the internal service saw no request');
  }

  test('a redirect to another loopback address (127.0.0.2) is refused: 503, nothing cached', async () => {
    await assertRefused(`http://127.0.0.2:${canary.port}/storage/blob`, /refused target: .*127\.0\.0\.2 is not on the upstream's own host/);
    await assertRefused(`http://127.0.0.2:${canary.port}/storage/blob`, /127\.0\.0\.2/);
  });

  test('a redirect to a name that resolves to loopback or the metadata address when connecting is refused', async () => {
    await assertRefused(`http://internal.test:${canary.port}/storage/blob`, /internal\.test resolves to 127\.0\.0\.2, which is not allowed/);
    await assertRefused(`http://metadata.test/latest/meta-data/`, /metadata\.test resolves to 169\.254\.169\.254, which is not allowed/);
    assert.ok(asked.includes('internal.test') && asked.includes('metadata.test'));
  });

  test('a redirect to the upstream\'s own host (another port) is followed: the blob is served and cached', async () => {
    redirectTo = `http://127.0.0.1:${sameHost.port}/storage/blob`;
    const res = await pull();
    assert.equal(res.status, 200);
    const got = Buffer.from(await res.arrayBuffer());
    assert.equal(`sha256:${createHash('sha256').update(got).digest('hex')}`, digest);
    assert.equal(sameHost.requests.length, 1);
    // Cached: a second GET does not ask the upstream, even once it would redirect somewhere refused.
    redirectTo = `http://127.0.0.2:${canary.port}/storage/blob`;
    const before = upstreamBlobGets();
    const again = await pull();
    assert.equal(again.status, 200);
    assert.ok(Buffer.from(await again.arrayBuffer()).equals(blob));
    assert.equal(upstreamBlobGets(), before);
    assert.deepEqual(canary.requests, []);
  });
});
