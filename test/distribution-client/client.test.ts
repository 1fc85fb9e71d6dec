// The Distribution API client against real peers: CNCF Distribution 2.8 (open, and behind
// htpasswd Basic auth), and a second instance of this registry with token auth. Every push is
// read back byte for byte; digests are checked on both sides.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import { ConnectionError, DigestMismatchError, DistributionClient, DistributionError, TargetRefusedError, nextLink, parseChallenge, type Descriptor } from '../../src/distribution-client/index.js';
import { dockerRegistryAvailable, startDockerRegistry, type PeerRegistry } from '../helpers/docker-registry.js';
import { freePort } from '../helpers/proxy.js';
import { startRegistry, type TestRegistry } from '../helpers/registry.js';
import { ADMIN, startAuthRegistry } from '../helpers/api.js';
import { EMPTY_DESCRIPTOR, EMPTY_JSON, MediaType, randomBytes, sha256 } from '../helpers/oci.js';

const available = await dockerRegistryAvailable();
const SBOM = 'application/vnd.example.sbom.v1';

interface TestImage {
  blobs: { bytes: Buffer; descriptor: Descriptor }[];
  manifest: Buffer;
  digest: string;
}

function blob(bytes: Buffer, mediaType: string): { bytes: Buffer; descriptor: Descriptor } {
  return { bytes, descriptor: { mediaType, digest: sha256(bytes), size: bytes.length } };
}

function makeImage(layerSizes: number[]): TestImage {
  const config = blob(Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] }, n: randomBytes(4).toString('hex') })), MediaType.OciConfig);
  const layers = layerSizes.map((n) => blob(randomBytes(n), MediaType.OciLayer));
  const manifest = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MediaType.OciManifest, config: config.descriptor, layers: layers.map((l) => l.descriptor) }));
  return { blobs: [config, ...layers], manifest, digest: sha256(manifest) };
}

async function pushImage(client: DistributionClient, repo: string, image: TestImage, tag?: string): Promise<void> {
  for (const b of image.blobs) await client.pushBlob(repo, b.descriptor, () => Readable.from([b.bytes]));
  assert.equal(await client.pushManifest(repo, tag ?? image.digest, image.manifest, MediaType.OciManifest), image.digest);
}

/** Read a blob back with plain fetch (no client) and compare bytes. */
async function assertStored(base: string, repo: string, b: { bytes: Buffer; descriptor: Descriptor }, headers: Record<string, string> = {}): Promise<void> {
  const res = await fetch(`${base}/v2/${repo}/blobs/${b.descriptor.digest}`, { headers });
  assert.equal(res.status, 200);
  assert.ok(Buffer.from(await res.arrayBuffer()).equals(b.bytes), `bytes of ${b.descriptor.digest}`);
}

/** A 401 whose message shows none of `secrets`. */
async function assertRefused(attempt: Promise<unknown>, secrets: RegExp): Promise<void> {
  await assert.rejects(attempt, (err: unknown) => {
    assert.ok(err instanceof DistributionError && err.status === 401, String(err));
    assert.doesNotMatch(err.message, secrets);
    return true;
  });
}

describe('distribution client against docker-registry (CNCF Distribution 2.8)', { skip: available ? false : 'docker-registry is not installed (scripts/install-test-deps.sh)', timeout: 60_000 }, () => {
  let peer: PeerRegistry;
  let client: DistributionClient;
  before(async () => {
    peer = await startDockerRegistry();
    client = new DistributionClient(peer.host, { chunkSize: 64 * 1024 });
  });
  after(async () => peer?.close());

  test('ping, push (monolithic and chunked), pull back byte for byte', async () => {
    await client.ping();
    assert.equal(client.base.protocol, 'http:', 'loopback without a scheme is plain HTTP');
    const image = makeImage([1000, 200 * 1024 + 17]);
    const results = [];
    for (const b of image.blobs) results.push(await client.pushBlob('app/one', b.descriptor, () => Readable.from([b.bytes])));
    assert.deepEqual(results, ['uploaded', 'uploaded', 'uploaded']);
    const patches = (await peer.requests()).filter((r) => r.method === 'PATCH' && r.path.startsWith('/v2/app/one/blobs/uploads/'));
    assert.equal(patches.length, 4, 'the 200 KiB layer went in four 64 KiB chunks');
    assert.equal(await client.pushManifest('app/one', 'v1', image.manifest, MediaType.OciManifest), image.digest);
    for (const b of image.blobs) await assertStored(peer.url, 'app/one', b);

    const got = await client.getManifest('app/one', 'v1');
    assert.equal(got.digest, image.digest);
    assert.equal(got.mediaType, MediaType.OciManifest);
    assert.ok(got.bytes.equals(image.manifest));
    assert.deepEqual(await client.headManifest('app/one', 'v1'), { mediaType: MediaType.OciManifest, digest: image.digest, size: image.manifest.length });
    assert.equal(await client.headManifest('app/one', 'nope'), undefined);
    const layer = image.blobs[2]!;
    assert.deepEqual(await client.headBlob('app/one', layer.descriptor.digest), { size: layer.bytes.length });
    assert.equal(await client.headBlob('app/one', sha256('absent')), undefined);
    const { size, stream } = await client.getBlob('app/one', layer.descriptor.digest, layer.descriptor.size);
    assert.equal(size, layer.bytes.length);
    assert.ok((await buffer(stream)).equals(layer.bytes));

    await assert.rejects(client.getManifest('app/one', 'missing'), (err: unknown) => err instanceof DistributionError && err.status === 404 && err.code === 'MANIFEST_UNKNOWN');
  });

  test('a blob already there is not sent again; another repository mounts it', async () => {
    const image = makeImage([5000]);
    await pushImage(client, 'app/src', image, 'v1');
    const layer = image.blobs[1]!;
    const before = (await peer.requests()).length;
    let opened = 0;
    const open = () => {
      opened++;
      return Readable.from([layer.bytes]);
    };
    assert.equal(await client.pushBlob('app/src', layer.descriptor, open), 'exists');
    assert.equal(await client.pushBlob('app/dst', layer.descriptor, open, { mountFrom: 'app/src' }), 'mounted');
    assert.equal(opened, 0, 'no bytes were read for either');
    assert.ok(!(await peer.requests()).slice(before).some((r) => r.method === 'PUT' || r.method === 'PATCH'));
    await assertStored(peer.url, 'app/dst', layer);
  });

  test('tags are listed; referrers fall back to the tag schema', async () => {
    const image = makeImage([10]);
    for (const tag of ['a', 'b', 'c', 'd', 'e']) await pushImage(client, 'app/tags', image, tag);
    // Distribution 2.8 neither pages nor sorts tags (Link pagination is checked against our registry below).
    assert.deepEqual((await client.listTags('app/tags', 2)).sort(), ['a', 'b', 'c', 'd', 'e']);

    assert.deepEqual(await client.listReferrers('app/tags', image.digest), [], 'no referrers yet');
    await client.pushBlob('app/tags', EMPTY_DESCRIPTOR, () => Readable.from([EMPTY_JSON]));
    const sbom = blob(Buffer.from('{"sbom":true}'), SBOM);
    await client.pushBlob('app/tags', sbom.descriptor, () => Readable.from([sbom.bytes]));
    const artifact = Buffer.from(JSON.stringify({
      schemaVersion: 2,
      mediaType: MediaType.OciManifest,
      artifactType: SBOM,
      config: EMPTY_DESCRIPTOR,
      layers: [sbom.descriptor],
      subject: { mediaType: MediaType.OciManifest, digest: image.digest, size: image.manifest.length },
    }));
    const artifactDigest = await client.pushManifest('app/tags', sha256(artifact), artifact, MediaType.OciManifest);
    // What an OCI 1.1 client does on a registry without the referrers API: an index under the digest's tag.
    const referrer = { mediaType: MediaType.OciManifest, digest: artifactDigest, size: artifact.length, artifactType: SBOM };
    const fallback = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MediaType.OciIndex, manifests: [referrer] }));
    await client.pushManifest('app/tags', `sha256-${image.digest.slice(7)}`, fallback, MediaType.OciIndex);
    assert.deepEqual(await client.listReferrers('app/tags', image.digest), [referrer]);
    assert.deepEqual(await client.listReferrers('app/tags', image.digest, 'application/other'), []);
  });
});

describe('distribution client against docker-registry with htpasswd', { skip: available ? false : 'docker-registry is not installed', timeout: 60_000 }, () => {
  const user = { username: 'mirror', password: 'peer-secret-4f1b' };
  let peer: PeerRegistry;
  before(async () => {
    peer = await startDockerRegistry({ htpasswd: user });
  });
  after(async () => peer?.close());

  test('Basic credentials are sent once challenged; missing or wrong ones are a clear 401 without the secret', async () => {
    const client = new DistributionClient(peer.url, { credentials: user });
    await client.ping();
    const image = makeImage([3000]);
    await pushImage(client, 'private/app', image, 'v1');
    assert.ok((await client.getManifest('private/app', 'v1')).bytes.equals(image.manifest));
    await assertStored(peer.url, 'private/app', image.blobs[1]!, { Authorization: `Basic ${Buffer.from(`${user.username}:${user.password}`).toString('base64')}` });

    const anonymous = new DistributionClient(peer.url, { retries: 0 });
    await assert.rejects(anonymous.getManifest('private/app', 'v1'), (err: unknown) => err instanceof DistributionError && err.status === 401 && /credentials required/.test(err.message));
    const wrong = new DistributionClient(peer.url, { credentials: { username: 'mirror', password: 'wrong-password-77' }, retries: 0 });
    await assertRefused(wrong.getManifest('private/app', 'v1'), /wrong-password-77|peer-secret|Basic /);
  });
});

describe('distribution client against this registry with token auth', { timeout: 60_000 }, () => {
  let reg: TestRegistry;
  before(async () => {
    reg = await startAuthRegistry();
  });
  after(async () => reg?.close());

  test('bearer tokens from the realm (with Basic credentials at the token endpoint); the referrers API', async () => {
    const tokenRequests: string[] = [];
    const client = new DistributionClient(reg.url, { credentials: ADMIN, onResponse: (e) => e.path === '/token' && tokenRequests.push(e.path) });
    const image = makeImage([4000, 70 * 1024]);
    await pushImage(client, 'team/app', image, 'v1');
    const got = await client.getManifest('team/app', 'v1');
    assert.ok(got.bytes.equals(image.manifest));
    assert.equal(tokenRequests.length, 2, 'one token for pull,push and one for pull, each reused');
    const layer = image.blobs[2]!;
    assert.ok((await buffer((await client.getBlob('team/app', layer.descriptor.digest)).stream)).equals(layer.bytes));
    assert.equal(await client.pushBlob('team/copy', layer.descriptor, () => Readable.from([layer.bytes]), { mountFrom: 'team/app' }), 'mounted');

    await client.pushBlob('team/app', EMPTY_DESCRIPTOR, () => Readable.from([EMPTY_JSON]));
    const artifact = Buffer.from(JSON.stringify({
      schemaVersion: 2,
      mediaType: MediaType.OciManifest,
      artifactType: SBOM,
      config: EMPTY_DESCRIPTOR,
      layers: [EMPTY_DESCRIPTOR],
      subject: { mediaType: MediaType.OciManifest, digest: image.digest, size: image.manifest.length },
    }));
    const digest = await client.pushManifest('team/app', sha256(artifact), artifact, MediaType.OciManifest);
    const referrers = await client.listReferrers('team/app', image.digest);
    assert.deepEqual(referrers.map((r) => [r.digest, r.artifactType]), [[digest, SBOM]]);

    for (const tag of ['v2', 'v3', 'v4', 'v5']) await client.pushManifest('team/app', tag, image.manifest, MediaType.OciManifest);
    const pages: string[] = [];
    const counting = new DistributionClient(reg.url, { credentials: ADMIN, onResponse: (e) => e.path.endsWith('/tags/list') && e.status === 200 && pages.push(e.path) });
    assert.deepEqual(await counting.listTags('team/app', 2), ['v1', 'v2', 'v3', 'v4', 'v5']);
    assert.equal(pages.length, 3, 'three pages of two, following Link');

    const anonymous = new DistributionClient(reg.url, { retries: 0 });
    await assert.rejects(anonymous.getManifest('team/app', 'v1'), (err: unknown) => err instanceof DistributionError && err.status === 401);
    const wrong = new DistributionClient(reg.url, { credentials: { username: ADMIN.username, password: 'not-the-password-9' }, retries: 0 });
    await assertRefused(wrong.getManifest('team/app', 'v1'), /not-the-password-9|Basic /);
  });
});

describe('distribution client: verification, retries and timeouts', { timeout: 60_000 }, () => {
  let reg: TestRegistry;
  before(async () => {
    reg = await startRegistry();
  });
  after(async () => reg?.close());

  /** A peer in front of our registry that breaks answers on purpose. */
  async function faultyPeer(fault: (req: Request, attempt: number) => Response | 'stall' | 'lose-answer' | undefined): Promise<{ url: string; close(): Promise<void> }> {
    const { createServer } = await import('node:http');
    const attempts = new Map<string, number>();
    const server = createServer(async (req, res) => {
      const key = `${req.method} ${req.url}`;
      const attempt = (attempts.get(key) ?? 0) + 1;
      attempts.set(key, attempt);
      const body = await buffer(req);
      const request = new Request(`${reg.url}${req.url}`, { method: req.method!, headers: req.headers as Record<string, string>, ...(body.length ? { body } : {}) });
      const injected = fault(request, attempt);
      if (injected === 'stall') return; // never answer
      if (injected === 'lose-answer') {
        // Done upstream, but the client hears of a failure.
        await (await fetch(request)).arrayBuffer();
        res.writeHead(502).end();
        return;
      }
      const answer = injected ?? (await fetch(request));
      const headers: Record<string, string> = {};
      answer.headers.forEach((v, k) => (headers[k] = v));
      delete headers['content-encoding'];
      delete headers['transfer-encoding'];
      res.writeHead(answer.status, headers);
      res.end(Buffer.from(await answer.arrayBuffer()));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const address = server.address() as { port: number };
    return {
      url: `http://127.0.0.1:${address.port}`,
      close: () => new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
    };
  }

  test('429 and 503 are retried (Retry-After honoured), up to the bound', async () => {
    const image = makeImage([100]);
    await pushImage(new DistributionClient(reg.url), 'app/retry', image, 'v1');
    const flaky = await faultyPeer((req, attempt) => {
      if (!req.url.includes('/manifests/')) return undefined;
      if (attempt === 1) return new Response('slow down', { status: 429, headers: { 'Retry-After': '0' } });
      if (attempt === 2) return new Response('', { status: 503 });
      return undefined;
    });
    try {
      const seen: number[] = [];
      const client = new DistributionClient(flaky.url, { retryDelayMs: 5, onResponse: (e) => e.path.includes('/manifests/') && seen.push(e.status) });
      assert.ok((await client.getManifest('app/retry', 'v1')).bytes.equals(image.manifest));
      assert.deepEqual(seen, [429, 503, 200]);
      const bounded = new DistributionClient(flaky.url, { retryDelayMs: 5, retries: 1 });
      await assert.rejects(bounded.getManifest('app/retry', image.digest), (err: unknown) => err instanceof DistributionError && err.status === 503);
    } finally {
      await flaky.close();
    }
  });

  test('a chunked upload goes on after a failed chunk: sent again, or skipped when it landed', async () => {
    const layer = randomBytes(5 * 64 * 1024 - 100);
    const descriptor = { digest: sha256(layer), size: layer.length };
    const flaky = await faultyPeer((req, attempt) => {
      if (req.method !== 'PATCH') return undefined;
      // The upload location stays the same: attempts count the chunks sent.
      if (attempt === 2) return new Response('', { status: 503 });
      if (attempt === 4) return 'lose-answer';
      return undefined;
    });
    try {
      const seen: string[] = [];
      const client = new DistributionClient(flaky.url, { chunkSize: 64 * 1024, retryDelayMs: 5, onResponse: (e) => seen.push(`${e.method} ${e.status}`) });
      assert.equal(await client.pushBlob('app/chunks', descriptor, () => Readable.from([layer])), 'uploaded');
      assert.equal(seen.filter((e) => e.startsWith('POST')).length, 1, 'one upload session, never restarted');
      assert.deepEqual(seen.filter((e) => e.startsWith('PATCH')), ['PATCH 202', 'PATCH 503', 'PATCH 202', 'PATCH 502', 'PATCH 202', 'PATCH 202']);
      assert.deepEqual(seen.filter((e) => e.startsWith('GET')), ['GET 204', 'GET 204'], 'the upload status after each failure');
      const res = await fetch(`${reg.url}/v2/app/chunks/blobs/${descriptor.digest}`);
      assert.ok(Buffer.from(await res.arrayBuffer()).equals(layer));
    } finally {
      await flaky.close();
    }
  });

  test('bytes that do not match their digest are refused; a stalled peer times out', async () => {
    const image = makeImage([2000]);
    await pushImage(new DistributionClient(reg.url), 'app/bad', image, 'v1');
    const layer = image.blobs[1]!;
    const tampered = Buffer.from(layer.bytes);
    tampered[0] = tampered[0]! ^ 0xff;
    const evil = await faultyPeer((req) => {
      if (req.url.includes('/blobs/')) return new Response(tampered, { status: 200, headers: { 'Content-Length': String(tampered.length) } });
      if (req.url.includes('/manifests/stall')) return 'stall';
      if (req.url.includes('/manifests/')) return new Response(Buffer.concat([image.manifest, Buffer.from(' ')]), { status: 200, headers: { 'Content-Type': MediaType.OciManifest, 'Docker-Content-Digest': image.digest } });
      return undefined;
    });
    try {
      const client = new DistributionClient(evil.url, { timeoutMs: 300, retries: 1, retryDelayMs: 5 });
      const { stream } = await client.getBlob('app/bad', layer.descriptor.digest);
      await assert.rejects(buffer(stream), DigestMismatchError);
      await assert.rejects(client.getManifest('app/bad', 'v1'), DigestMismatchError);
      await assert.rejects(client.getManifest('app/bad', image.digest), DigestMismatchError);
      const started = Date.now();
      await assert.rejects(client.getManifest('app/bad', 'stall'), (err: unknown) => err instanceof ConnectionError && /timed out after 300 ms/.test(err.message));
      assert.ok(Date.now() - started < 5000);
    } finally {
      await evil.close();
    }
    const port = await freePort();
    const closed = new DistributionClient(`127.0.0.1:${port}`, { retries: 1, retryDelayMs: 5 });
    await assert.rejects(closed.ping(), (err: unknown) => err instanceof ConnectionError && /ECONNREFUSED/.test(err.message));
  });

  test('a blob redirected to storage elsewhere is fetched without the credentials', async () => {
    const { createServer } = await import('node:http');
    const bytes = randomBytes(5000);
    const digest = sha256(bytes);
    const seen: (string | undefined)[] = [];
    const storage = createServer((req, res) => {
      seen.push(req.headers.authorization);
      res.end(bytes);
    });
    await new Promise<void>((r) => storage.listen(0, '127.0.0.1', r));
    const registry = createServer((req, res) => {
      if (!req.headers.authorization) {
        res.writeHead(401, { 'WWW-Authenticate': 'Basic realm="r"' }).end();
        return;
      }
      res.writeHead(307, { Location: `http://127.0.0.1:${(storage.address() as { port: number }).port}/signed?X-Amz-Signature=abc` }).end();
    });
    await new Promise<void>((r) => registry.listen(0, '127.0.0.1', r));
    try {
      const registryUrl = `127.0.0.1:${(registry.address() as { port: number }).port}`;
      const client = new DistributionClient(registryUrl, { credentials: { username: 'u', password: 'storage-must-not-see' } });
      assert.ok((await buffer((await client.getBlob('app/x', digest, bytes.length)).stream)).equals(bytes));
      assert.deepEqual(seen, [undefined]);
      // With checkTarget the client follows the redirect itself, hop by hop: the same bytes,
      // still no credentials for storage, and every URL asked about first.
      const checked: string[] = [];
      const checking = new DistributionClient(registryUrl, {
        credentials: { username: 'u', password: 'storage-must-not-see' },
        checkTarget: async (url) => void checked.push(`${url.host}${url.pathname}`),
      });
      assert.ok((await buffer((await checking.getBlob('app/x', digest, bytes.length)).stream)).equals(bytes));
      assert.deepEqual(seen, [undefined, undefined]);
      const storageHost = `127.0.0.1:${(storage.address() as { port: number }).port}`;
      assert.deepEqual(checked, [`${registryUrl}/v2/app/x/blobs/${digest}`, `${registryUrl}/v2/app/x/blobs/${digest}`, `${storageHost}/signed`]);
      // A refusal is final: no retry, and storage is not asked.
      const refusing = new DistributionClient(registryUrl, {
        credentials: { username: 'u', password: 'p' },
        checkTarget: async (url) => {
          if (url.host === storageHost) throw new Error('not on the list');
        },
      });
      await assert.rejects(refusing.getBlob('app/x', digest, bytes.length), (err: Error) => err instanceof TargetRefusedError && /not on the list/.test(err.message));
      assert.equal(seen.length, 2);
    } finally {
      await Promise.all([storage, registry].map((server) => new Promise((r) => server.close(r))));
    }
  });

  test('challenges and Link headers', () => {
    assert.deepEqual(parseChallenge('Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/alpine:pull"'), {
      scheme: 'bearer',
      realm: 'https://auth.docker.io/token',
      service: 'registry.docker.io',
      scope: 'repository:library/alpine:pull',
    });
    assert.deepEqual(parseChallenge('Basic realm="Registry Realm"'), { scheme: 'basic', realm: 'Registry Realm' });
    assert.deepEqual(parseChallenge('bearer realm=https://r/t, scope="repository:a:pull,push"'), { scheme: 'bearer', realm: 'https://r/t', scope: 'repository:a:pull,push' });
    assert.equal(parseChallenge('Negotiate abc'), undefined);
    assert.equal(nextLink('</v2/a/tags/list?n=2&last=b>; rel="next"'), '/v2/a/tags/list?n=2&last=b');
    assert.equal(nextLink('<https://x/y>; rel="prev", <https://x/z>; rel=next'), 'https://x/z');
    assert.equal(nextLink(null), undefined);
  });

  test('registry addresses and Docker Hub names', () => {
    assert.equal(new DistributionClient('docker.io').base.href, 'https://registry-1.docker.io/');
    assert.equal(new DistributionClient('docker.io').repository('alpine'), 'library/alpine');
    assert.equal(new DistributionClient('docker.io').repository('grafana/grafana'), 'grafana/grafana');
    assert.equal(new DistributionClient('ghcr.io').base.href, 'https://ghcr.io/');
    assert.equal(new DistributionClient('ghcr.io').repository('alpine'), 'alpine');
    assert.equal(new DistributionClient('localhost:5000').base.href, 'http://localhost:5000/');
    assert.equal(new DistributionClient('https://127.0.0.1:5000').base.href, 'https://127.0.0.1:5000/');
    assert.throws(() => new DistributionClient('https://user:pw@example.com'), /credentials/);
  });
});
