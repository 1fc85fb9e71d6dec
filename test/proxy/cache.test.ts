// The pull-through cache against CNCF Distribution (docker-registry) as the upstream, reached
// through a small HTTP front that can fail (down, 500, a stalled body, a slow answer): images
// pulled with skopeo arrive byte for byte, stay served with the upstream down, moved tags are
// seen after their TTL only, concurrent pulls of one blob cost one upstream GET, and failures
// leave nothing half cached.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { makeTempDir, startRegistry, type TestRegistry } from '../helpers/registry.js';
import { hasCommand, run } from '../helpers/exec.js';
import { dockerRegistryAvailable, startDockerRegistry, type PeerRegistry } from '../helpers/docker-registry.js';
import { OCI_INDEX, OCI_MANIFEST, sha256 } from '../helpers/oci-layout.js';
import { randomBytes } from '../helpers/oci.js';
import { assertHolds, fixtureBlobs, manifestDigests, multiArchFixture, type MultiArchFixture } from '../helpers/transfer.js';
import { DistributionClient } from '../../src/distribution-client/index.js';

const ready = (await hasCommand('skopeo')) && (await dockerRegistryAvailable());
const ACCEPT = `${OCI_INDEX}, ${OCI_MANIFEST}`;

type Fault = 'none' | 'down' | 'error' | 'stall' | 'slow' | 'corrupt';

/** An HTTP front for the peer whose blob GETs (or every request, when down) can be made to fail. */
async function startFront(target: string): Promise<{ server: Server; url: string; setFault(f: Fault): void }> {
  let fault: Fault = 'none';
  const server = createServer(async (req, res) => {
    const blobGet = req.method === 'GET' && /\/blobs\/sha256:/.test(req.url!);
    if (fault === 'down') return void res.destroy();
    if (fault === 'error' && blobGet) return void res.writeHead(500, { 'content-type': 'application/json' }).end('{"errors":[{"code":"UNKNOWN","message":"boom"}]}');
    if (fault === 'slow' && blobGet) await new Promise((r) => setTimeout(r, 300));
    const headers: Record<string, string> = {};
    for (const name of ['accept', 'authorization']) if (req.headers[name]) headers[name] = String(req.headers[name]);
    const upstream = await fetch(`${target}${req.url}`, { method: req.method!, headers, signal: AbortSignal.timeout(10_000) });
    const body = Buffer.from(await upstream.arrayBuffer());
    const out: Record<string, string> = {};
    upstream.headers.forEach((v, k) => (out[k] = v));
    delete out['content-encoding'];
    delete out['transfer-encoding'];
    res.writeHead(upstream.status, out);
    // Half the bytes, then nothing more (longer than the cache's upstream timeout).
    if (fault === 'stall' && blobGet) return void res.write(body.subarray(0, body.length >> 1));
    if (fault === 'corrupt' && blobGet) body[body.length - 1] ^= 0xff;
    res.end(body);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { server, url: `127.0.0.1:${(server.address() as { port: number }).port}`, setFault: (f) => (fault = f) };
}

async function manifestDigest(base: string, repo: string, tag: string): Promise<string | null> {
  const res = await fetch(`${base}/v2/${repo}/manifests/${tag}`, { headers: { Accept: ACCEPT }, signal: AbortSignal.timeout(10_000) });
  assert.equal(res.status, 200, `${repo}:${tag}: ${res.status} ${await res.clone().text()}`);
  await res.arrayBuffer();
  return res.headers.get('docker-content-digest');
}

describe('pull-through cache', { skip: ready ? false : 'needs skopeo and docker-registry (scripts/install-test-deps.sh)', timeout: 120_000 }, () => {
  let work: string;
  let env: Record<string, string>;
  let fixture: MultiArchFixture;
  let peer: PeerRegistry;
  let front: Awaited<ReturnType<typeof startFront>>;
  let reg: TestRegistry;
  let upstream: DistributionClient;
  const skopeo = (...args: string[]) => run('skopeo', ['--insecure-policy', ...args], { timeoutMs: 90_000, env });
  const blobGets = async (digest: string) => (await peer.requests()).filter((r) => r.method === 'GET' && r.path.endsWith(`/blobs/${digest}`)).length;
  /** Run `work` while the front fails the way `fault` says. */
  const withFault = async <T>(fault: Fault, work: () => Promise<T>): Promise<T> => {
    front.setFault(fault);
    try {
      return await work();
    } finally {
      front.setFault('none');
    }
  };
  const pushBlobUpstream = async (repo: string, bytes: Buffer) => {
    await upstream.pushBlob(repo, { digest: sha256(bytes), size: bytes.length }, () => Readable.from([bytes]));
    return sha256(bytes);
  };

  before(async () => {
    work = await makeTempDir('registry-proxy-');
    await writeFile(join(work, 'auth.json'), JSON.stringify({ auths: {} }));
    env = { REGISTRY_AUTH_FILE: join(work, 'auth.json'), XDG_RUNTIME_DIR: work, HOME: work, TMPDIR: work };
    fixture = await multiArchFixture(work);
    peer = await startDockerRegistry();
    upstream = new DistributionClient(peer.host);
    await skopeo('copy', '--all', '--preserve-digests', '--dest-tls-verify=false', `oci:${fixture.layout.dir}:v1`, `docker://${peer.host}/team/app:v1`);
    front = await startFront(peer.url);
    reg = await startRegistry({
      scan: { enabled: false },
      proxy: {
        upstreams: [
          { namespace: 'hub', url: front.url, tagTtlSeconds: 300, timeoutMs: 1000 },
          { namespace: 'fast', url: front.url, tagTtlSeconds: 2, timeoutMs: 1000 },
        ],
      },
    });
  });
  after(async () => {
    await reg?.close();
    front?.server.closeAllConnections();
    await new Promise((r) => front?.server.close(r));
    await peer?.close();
    if (work) await rm(work, { recursive: true, force: true });
  });

  test('skopeo pulls an image that exists only upstream: digests and bytes identical, then cached', async () => {
    const out = join(work, 'pulled');
    await skopeo('copy', '--all', '--src-tls-verify=false', `docker://${reg.host}/hub/team/app:v1`, `oci:${out}:v1`);
    const index = JSON.parse((await run('cat', [join(out, 'index.json')])).stdout) as { manifests: { digest: string }[] };
    assert.equal(index.manifests[0]!.digest, fixture.index.descriptor.digest);
    await assertHolds(reg.url, 'hub/team/app', fixtureBlobs(fixture), manifestDigests(fixture));
    for (const layer of fixture.images[0]!.layers) assert.ok(await reg.app.metadata.getBlobLink('hub/team/app', layer.digest), 'layer cached as ordinary content');
    const tags = (await (await fetch(`${reg.url}/v2/hub/team/app/tags/list`)).json()) as { tags: string[] };
    assert.deepEqual(tags.tags, ['v1'], 'cached tags are listed');

    const push = await fetch(`${reg.url}/v2/hub/team/app/blobs/uploads/`, { method: 'POST' });
    assert.equal(push.status, 403);
    const body = (await push.json()) as { errors: { code: string; message: string }[] };
    assert.equal(body.errors[0]!.code, 'DENIED');
    assert.match(body.errors[0]!.message, /pull-through cache/);
  });

  test('with the upstream down: cached tags and blobs are served, an uncached tag is a clear 503', async () => {
    await manifestDigest(reg.url, 'fast/team/app', 'v1');
    await new Promise((r) => setTimeout(r, 2100)); // the tag is due for a check now
    await withFault('down', async () => {
      const out = join(work, 'offline');
      await skopeo('copy', '--all', '--src-tls-verify=false', `docker://${reg.host}/hub/team/app:v1`, `oci:${out}:v1`);
      await assertHolds(reg.url, 'hub/team/app', fixtureBlobs(fixture), manifestDigests(fixture));
      assert.equal(await manifestDigest(reg.url, 'fast/team/app', 'v1'), fixture.index.descriptor.digest, 'stale tag served from the cache');
      const res = await fetch(`${reg.url}/v2/hub/team/other/manifests/v1`, { headers: { Accept: ACCEPT } });
      assert.equal(res.status, 503);
      const body = (await res.json()) as { errors: { code: string; message: string }[] };
      assert.equal(body.errors[0]!.code, 'UNAVAILABLE');
      assert.ok(body.errors[0]!.message.includes(front.url), body.errors[0]!.message);
    });
  });

  test('a tag moved upstream is seen after its TTL, not before', async () => {
    const [a, b] = fixture.images;
    await upstream.pushManifest('team/app', 'moving', a!.manifest, OCI_MANIFEST);
    assert.equal(await manifestDigest(reg.url, 'fast/team/app', 'moving'), a!.descriptor.digest);
    await upstream.pushManifest('team/app', 'moving', b!.manifest, OCI_MANIFEST);
    assert.equal(await manifestDigest(reg.url, 'fast/team/app', 'moving'), a!.descriptor.digest, 'within the TTL: the cached digest');
    await new Promise((r) => setTimeout(r, 2100));
    assert.equal(await manifestDigest(reg.url, 'fast/team/app', 'moving'), b!.descriptor.digest, 'after the TTL: the new digest');
    const mark = (await peer.requests()).length;
    assert.equal(await manifestDigest(reg.url, 'fast/team/app', 'moving'), b!.descriptor.digest);
    assert.deepEqual((await peer.requests()).slice(mark), [], 'checked again only after the TTL');
  });

  test('garbage collection keeps cached images whose blobs are not fetched yet; what is missing is fetched again', async () => {
    const [a, b] = fixture.images;
    // fast/team/app holds the index (v1) and b (moving) as manifests only: no blob was pulled there.
    const report = await reg.app.collectGarbage({ reviewDelayMs: 0, deleteUntaggedManifests: true });
    assert.equal(report.errors, 0);
    for (const image of [a!, b!]) assert.ok(await reg.app.metadata.getManifest('fast/team/app', image.descriptor.digest), 'cached manifests stay');
    await assertHolds(reg.url, 'hub/team/app', fixtureBlobs(fixture), manifestDigests(fixture));
    const blobsOfB = new Map([[b!.configDigest, b!.config], ...b!.layers.map((l) => [l.digest, l.gz] as [string, Buffer])]);
    await assertHolds(reg.url, 'fast/team/app', blobsOfB, new Set());
    // A cached manifest removed here (as a collection of an untagged one would) is fetched again.
    assert.ok(await reg.app.metadata.deleteManifest('fast/team/app', a!.descriptor.digest));
    await assertHolds(reg.url, 'fast/team/app', new Map([[a!.descriptor.digest, a!.manifest]]), new Set([a!.descriptor.digest]));
  });

  test('10 concurrent GETs of one uncached blob: one upstream GET, every client gets the bytes', async () => {
    const bytes = randomBytes(3 * 1024 * 1024);
    const digest = await pushBlobUpstream('team/big', bytes);
    await withFault('slow', async () => {
      const bodies = await Promise.all(
        Array.from({ length: 10 }, async () => {
          const res = await fetch(`${reg.url}/v2/hub/team/big/blobs/${digest}`, { signal: AbortSignal.timeout(20_000) });
          assert.equal(res.status, 200);
          assert.equal(res.headers.get('docker-content-digest'), digest);
          return Buffer.from(await res.arrayBuffer());
        }),
      );
      for (const body of bodies) assert.ok(body.equals(bytes), 'byte for byte');
    });
    assert.equal(await blobGets(digest), 1, 'one upstream blob GET');
    assert.equal((await reg.app.metadata.getBlobLink('hub/team/big', digest))?.size, bytes.length);
  });

  test('an upstream sending bytes that do not match the digest: the client never gets the whole body, nothing cached', async () => {
    const bytes = randomBytes(300_000);
    const digest = await pushBlobUpstream('team/bad', bytes);
    await withFault('corrupt', async () => {
      const res = await fetch(`${reg.url}/v2/hub/team/bad/blobs/${digest}`, { signal: AbortSignal.timeout(20_000) });
      assert.equal(res.status, 200, 'the answer starts before the digest can be known');
      await assert.rejects(res.arrayBuffer(), 'the body is cut before its last chunk');
    });
    assert.equal(await reg.app.metadata.getBlobLink('hub/team/bad', digest), undefined, 'nothing cached');
  });

  test('a client that goes away mid-blob does not stop the fetch: the blob is cached all the same', async () => {
    const bytes = randomBytes(4 * 1024 * 1024);
    const digest = await pushBlobUpstream('team/left', bytes);
    const controller = new AbortController();
    const res = await fetch(`${reg.url}/v2/hub/team/left/blobs/${digest}`, { signal: controller.signal });
    assert.equal(res.status, 200);
    controller.abort();
    let link;
    for (let i = 0; i < 100 && !(link = await reg.app.metadata.getBlobLink('hub/team/left', digest)); i++) await new Promise((r) => setTimeout(r, 20));
    assert.equal(link?.size, bytes.length, 'cached after the client left');
    const again = await fetch(`${reg.url}/v2/hub/team/left/blobs/${digest}`);
    assert.ok(Buffer.from(await again.arrayBuffer()).equals(bytes));
    assert.equal(await blobGets(digest), 1);
  });

  test('an upstream answering 500: a clear 503, nothing cached; fetched once the upstream recovers', async () => {
    const bytes = randomBytes(200_000);
    const digest = await pushBlobUpstream('team/flaky', bytes);
    await withFault('error', async () => {
      const res = await fetch(`${reg.url}/v2/hub/team/flaky/blobs/${digest}`, { signal: AbortSignal.timeout(20_000) });
      assert.equal(res.status, 503);
      const body = (await res.json()) as { errors: { code: string; message: string }[] };
      assert.equal(body.errors[0]!.code, 'UNAVAILABLE');
      assert.match(body.errors[0]!.message, /answered 500/);
    });
    assert.equal(await reg.app.metadata.getBlobLink('hub/team/flaky', digest), undefined, 'nothing cached');
    const again = await fetch(`${reg.url}/v2/hub/team/flaky/blobs/${digest}`);
    assert.equal(again.status, 200);
    assert.ok(Buffer.from(await again.arrayBuffer()).equals(bytes));
  });

  test('an upstream that stalls mid-blob: the client is cut off, no partial blob cached', async () => {
    const bytes = randomBytes(500_000);
    const digest = await pushBlobUpstream('team/slow', bytes);
    await withFault('stall', async () => {
      const res = await fetch(`${reg.url}/v2/hub/team/slow/blobs/${digest}`, { signal: AbortSignal.timeout(20_000) });
      await assert.rejects(async () => {
        const got = Buffer.from(await res.arrayBuffer());
        // Reaching here means a body arrived whole: it must not be the blob's full length then.
        assert.notEqual(got.length, bytes.length);
        throw new Error('truncated');
      });
    });
    assert.equal(await reg.app.metadata.getBlobLink('hub/team/slow', digest), undefined, 'nothing cached');
    const head = await fetch(`${reg.url}/v2/hub/team/slow/blobs/${digest}`, { method: 'HEAD' });
    assert.equal(head.status, 200, 'HEAD answers from the upstream');
    assert.equal(head.headers.get('content-length'), String(bytes.length));
    const again = await fetch(`${reg.url}/v2/hub/team/slow/blobs/${digest}`);
    assert.equal(again.status, 200);
    assert.ok(Buffer.from(await again.arrayBuffer()).equals(bytes));
    // The client has the last byte just before the blob is committed.
    for (let i = 0; i < 100 && !(await reg.app.metadata.getBlobLink('hub/team/slow', digest)); i++) await new Promise((r) => setTimeout(r, 20));
    assert.ok(await reg.app.metadata.getBlobLink('hub/team/slow', digest), 'cached after a whole fetch');
  });
});

describe('pull-through cache with upstream credentials', { skip: ready ? false : 'needs docker-registry', timeout: 60_000 }, () => {
  const user = { username: 'puller', password: 'proxy-secret-5d1' };
  let peer: PeerRegistry;
  let reg: TestRegistry;
  let wrong: TestRegistry;
  const bytes = randomBytes(10_000);
  before(async () => {
    peer = await startDockerRegistry({ htpasswd: user });
    await new DistributionClient(peer.host, { credentials: user }).pushBlob('private/app', { digest: sha256(bytes), size: bytes.length }, () => Readable.from([bytes]));
    reg = await startRegistry({ proxy: { upstreams: [{ namespace: 'priv', url: peer.host, ...user }] } });
    wrong = await startRegistry({ proxy: { upstreams: [{ namespace: 'priv', url: peer.host, username: user.username, password: 'not-it' }] } });
  });
  after(async () => {
    await reg?.close();
    await wrong?.close();
    await peer?.close();
  });

  test('the configured credentials are used; wrong ones give a 503 that shows no secret', async () => {
    const res = await fetch(`${reg.url}/v2/priv/private/app/blobs/${sha256(bytes)}`);
    assert.equal(res.status, 200);
    assert.ok(Buffer.from(await res.arrayBuffer()).equals(bytes));
    const refused = await fetch(`${wrong.url}/v2/priv/private/app/blobs/${sha256(bytes)}`);
    assert.equal(refused.status, 503);
    const text = await refused.text();
    assert.match(text, /answered 401/);
    assert.ok(!text.includes('not-it'));
  });
});
