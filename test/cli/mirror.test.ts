// `registry mirror` from CNCF Distribution (docker-registry, images pushed with skopeo) into
// this registry: digests and bytes preserved, referrers found through the tag schema, and a
// second run fetches no blob (the peer's access log says what was asked of it).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createServer } from 'node:http';
import { Readable } from 'node:stream';
import { makeTempDir, startRegistry, type TestRegistry } from '../helpers/registry.js';
import { runCli } from '../helpers/cli.js';
import { hasCommand, run } from '../helpers/exec.js';
import { dockerRegistryAvailable, startDockerRegistry, type PeerRegistry } from '../helpers/docker-registry.js';
import { OCI_INDEX, OCI_MANIFEST } from '../helpers/oci-layout.js';
import { EMPTY_DESCRIPTOR, EMPTY_JSON } from '../helpers/oci.js';
import { assertHolds, fixtureBlobs, manifestDigests, multiArchFixture, SBOM_TYPE, type MultiArchFixture } from '../helpers/transfer.js';
import { DistributionClient } from '../../src/distribution-client/index.js';
import { freePort } from '../helpers/proxy.js';

const ready = (await hasCommand('skopeo')) && (await dockerRegistryAvailable());

interface Report {
  repositories: { repository: string; references: { reference: string; digest?: string; status: string; error?: string }[] }[];
  manifestsCopied: number;
  blobsFetched: number;
  blobsPresent: number;
  failures: number;
}

async function digestAt(base: string, repo: string, tag: string, headers: Record<string, string> = {}): Promise<string | null> {
  const res = await fetch(`${base}/v2/${repo}/manifests/${tag}`, { method: 'HEAD', headers: { ...headers, Accept: `${OCI_INDEX}, ${OCI_MANIFEST}` } });
  return res.headers.get('docker-content-digest');
}

describe('registry mirror', { skip: ready ? false : 'needs skopeo and docker-registry (scripts/install-test-deps.sh)', timeout: 120_000 }, () => {
  let work: string;
  let env: Record<string, string>;
  let fixture: MultiArchFixture;
  const skopeo = (...args: string[]) => run('skopeo', ['--insecure-policy', ...args], { timeoutMs: 90_000, env });

  before(async () => {
    work = await makeTempDir('registry-mirror-');
    const auth = join(work, 'auth.json');
    await writeFile(auth, JSON.stringify({ auths: {} }));
    env = { REGISTRY_AUTH_FILE: auth, XDG_RUNTIME_DIR: work, HOME: work, TMPDIR: work };
    fixture = await multiArchFixture(work);
  });
  after(async () => {
    if (work) await rm(work, { recursive: true, force: true });
  });

  describe('from an open docker-registry', () => {
    let peer: PeerRegistry;
    let reg: TestRegistry;
    before(async () => {
      peer = await startDockerRegistry();
      reg = await startRegistry({ scan: { enabled: false } });
      await skopeo('copy', '--all', '--preserve-digests', '--dest-tls-verify=false', `oci:${fixture.layout.dir}:v1`, `docker://${peer.host}/team/app:v1`);
      // A single-platform tag, and an SBOM of the index the way OCI 1.1 clients leave it on a
      // registry without the referrers API (an index under the subject's digest tag).
      const client = new DistributionClient(peer.host);
      await client.pushManifest('team/app', 'v2', fixture.images[0]!.manifest, OCI_MANIFEST);
      await client.pushBlob('team/app', EMPTY_DESCRIPTOR, () => Readable.from([EMPTY_JSON]));
      await client.pushBlob('team/app', { digest: JSON.parse(fixture.referrer.manifest.toString()).layers[0].digest, size: fixture.referrer.sbom.length }, () => Readable.from([fixture.referrer.sbom]));
      await client.pushManifest('team/app', fixture.referrer.digest, fixture.referrer.manifest, OCI_MANIFEST);
      const fallback = { schemaVersion: 2, mediaType: OCI_INDEX, manifests: [{ mediaType: OCI_MANIFEST, digest: fixture.referrer.digest, size: fixture.referrer.manifest.length, artifactType: SBOM_TYPE }] };
      await client.pushManifest('team/app', `sha256-${fixture.index.descriptor.digest.slice(7)}`, Buffer.from(JSON.stringify(fallback)), OCI_INDEX);
    });
    after(async () => {
      await reg?.close();
      await peer?.close();
    });

    test('copies matching tags with every platform and the referrer, digests and bytes preserved', async () => {
      const res = await runCli(reg, ['mirror', peer.url, 'team/app', '--tags', 'v*', '--referrers']);
      assert.equal(res.code, 0, res.stderr);
      assert.match(res.stderr, /^plan team\/app: \[#+\] 2\/2$/m, 'plain progress lines off a terminal');
      assert.match(res.stderr, /^fetch team\/app: \[#{30}\] [\d.]+ KiB\/[\d.]+ KiB$/m, 'bytes fetched, as sizes');
      assert.match(res.stdout, /team\/app:v1 copied sha256:/);
      assert.match(res.stdout, /team\/app:v2 copied sha256:/);
      for (const tag of ['v1', 'v2']) assert.equal(await digestAt(reg.url, 'team/app', tag), await digestAt(peer.url, 'team/app', tag), `${tag} has the peer's digest`);
      assert.equal(await digestAt(reg.url, 'team/app', 'v1'), fixture.index.descriptor.digest);
      await assertHolds(reg.url, 'team/app', fixtureBlobs(fixture), manifestDigests(fixture));
      const tags = (await (await fetch(`${reg.url}/v2/team/app/tags/list`)).json()) as { tags: string[] };
      assert.deepEqual(tags.tags, ['v1', 'v2'], 'the referrers tag did not match --tags');
      const referrers = (await (await fetch(`${reg.url}/v2/team/app/referrers/${fixture.index.descriptor.digest}`)).json()) as { manifests: { digest: string; artifactType: string }[] };
      assert.deepEqual(referrers.manifests.map((m) => [m.digest, m.artifactType]), [[fixture.referrer.digest, SBOM_TYPE]]);
    });

    test('a second mirror fetches no blob and no manifest body; a new tag fetches only what is missing', async () => {
      const before = (await peer.requests()).length;
      const res = await runCli(reg, ['mirror', peer.host, 'team/app', '--tags', 'v*', '--json']);
      assert.equal(res.code, 0, res.stderr);
      const report = JSON.parse(res.stdout) as Report;
      assert.deepEqual(report.repositories[0]!.references.map((r) => r.status), ['unchanged', 'unchanged']);
      assert.equal(report.blobsFetched, 0);
      const asked = (await peer.requests()).slice(before);
      assert.deepEqual(asked.filter((r) => r.method === 'GET' && r.path.includes('/blobs/')), [], 'no blob fetched');
      assert.deepEqual(asked.filter((r) => r.method === 'GET' && r.path.includes('/manifests/')), [], 'only HEADs for the manifests');

      // v3 is the arm64 image, whose blobs came with v1's index.
      await new DistributionClient(peer.host).pushManifest('team/app', 'v3', fixture.images[1]!.manifest, OCI_MANIFEST);
      const mark = (await peer.requests()).length;
      const third = await runCli(reg, ['mirror', peer.host, 'team/app:v3', '--json']);
      assert.equal(third.code, 0, third.stderr);
      const thirdReport = JSON.parse(third.stdout) as Report;
      assert.deepEqual(thirdReport.repositories[0]!.references.map((r) => [r.reference, r.status]), [['v3', 'copied']]);
      assert.equal(thirdReport.blobsFetched, 0);
      assert.deepEqual((await peer.requests()).slice(mark).filter((r) => r.path.includes('/blobs/')), []);
      assert.equal(await digestAt(reg.url, 'team/app', 'v3'), fixture.images[1]!.descriptor.digest);
    });

    test('a connection cut in the middle of a blob: the blob is fetched again and the copy completes', async () => {
      // In front of the peer: the first GET of each blob sends half its bytes, then drops the connection.
      const cut = new Set<string>();
      const proxy = createServer(async (req, res) => {
        const upstream = await fetch(`${peer.url}${req.url}`, { method: req.method!, headers: { accept: req.headers.accept ?? '*/*' } });
        const body = Buffer.from(await upstream.arrayBuffer());
        const headers: Record<string, string> = {};
        upstream.headers.forEach((v, k) => (headers[k] = v));
        delete headers['content-encoding'];
        delete headers['transfer-encoding'];
        res.writeHead(upstream.status, headers);
        if (req.method === 'GET' && req.url!.includes('/blobs/') && body.length > 1000 && !cut.has(req.url!)) {
          cut.add(req.url!);
          res.write(body.subarray(0, body.length >> 1), () => res.destroy());
          return;
        }
        res.end(body);
      });
      await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
      try {
        const port = (proxy.address() as { port: number }).port;
        const res = await runCli(reg, ['mirror', `127.0.0.1:${port}`, 'team/app:v1', '--prefix', 'cut', '--json']);
        assert.equal(res.code, 0, res.stderr + res.stdout);
        assert.equal(cut.size, 2, "both large layers were cut once");
        await assertHolds(reg.url, 'cut/team/app', fixtureBlobs(fixture), manifestDigests(fixture));
      } finally {
        proxy.closeAllConnections();
        await new Promise((r) => proxy.close(r));
      }
    });

    test('repositories sharing layers in one run: each blob fetched once, then mounted', async () => {
      const client = new DistributionClient(peer.host);
      for (const image of fixture.images) {
        for (const b of [{ digest: image.configDigest, size: image.config.length }, ...image.layers.map((l) => ({ digest: l.digest, size: l.gz.length }))]) {
          // The layer both platforms share is there after the first mount.
          assert.notEqual(await client.pushBlob('team/copy', b, () => Readable.from([]), { mountFrom: 'team/app' }), 'uploaded');
        }
        await client.pushManifest('team/copy', image.descriptor.digest, image.manifest, OCI_MANIFEST);
      }
      await client.pushManifest('team/copy', 'v1', fixture.index.index, OCI_INDEX);
      const mark = (await peer.requests()).length;
      const res = await runCli(reg, ['mirror', peer.host, 'team/app:v1', 'team/copy:v1', '--prefix', 'shared', '--json']);
      assert.equal(res.code, 0, res.stderr);
      const report = JSON.parse(res.stdout) as Report;
      const distinct = new Set(fixture.images.flatMap((i) => [i.configDigest, ...i.layers.map((l) => l.digest)]));
      assert.equal(report.blobsFetched, distinct.size);
      const gets = (await peer.requests()).slice(mark).filter((r) => r.method === 'GET' && r.path.includes('/blobs/'));
      assert.equal(gets.length, distinct.size);
      assert.ok(gets.every((r) => r.path.startsWith('/v2/team/app/')), 'nothing fetched for team/copy');
      await assertHolds(reg.url, 'shared/team/copy', fixtureBlobs(fixture), manifestDigests(fixture));
    });

    test('an unknown repository or tag is reported and the exit code says so', async () => {
      const res = await runCli(reg, ['mirror', peer.host, 'team/app:nope', 'no/such', '--json']);
      assert.equal(res.code, 1);
      const report = JSON.parse(res.stdout) as Report;
      assert.equal(report.failures, 2);
      assert.match(report.repositories[0]!.references[0]!.error!, /not found/);
      assert.match(report.repositories[1]!.references[0]!.error!, /404 NAME_UNKNOWN/);

      // Nothing listening: retried with backoff (the command waits for it), then reported.
      const gone = await runCli(reg, ['mirror', `127.0.0.1:${await freePort()}`, 'team/app']);
      assert.equal(gone.code, 1, gone.stderr);
      assert.match(gone.stdout, /team\/app:\(tags\) failed: GET \/v2\/team\/app\/tags\/list: connection failed \(ECONNREFUSED\)/);
    });
  });

  describe('from a docker-registry with htpasswd', () => {
    const user = { username: 'puller', password: 'mirror-secret-93a' };
    let peer: PeerRegistry;
    let reg: TestRegistry;
    before(async () => {
      peer = await startDockerRegistry({ htpasswd: user });
      reg = await startRegistry({ scan: { enabled: false } });
      await skopeo('copy', '--all', '--preserve-digests', '--dest-tls-verify=false', '--dest-creds', `${user.username}:${user.password}`, `oci:${fixture.layout.dir}:v1`, `docker://${peer.host}/private/app:v1`);
    });
    after(async () => {
      await reg?.close();
      await peer?.close();
    });

    test('--username with --password-stdin; a wrong password fails without showing it', async () => {
      const res = await runCli(reg, ['mirror', peer.host, 'private/app', '--username', user.username, '--password-stdin'], { stdin: `${user.password}\n` });
      assert.equal(res.code, 0, res.stderr);
      assert.equal(await digestAt(reg.url, 'private/app', 'v1'), fixture.index.descriptor.digest);
      await assertHolds(reg.url, 'private/app', fixtureBlobs(fixture), manifestDigests(fixture));

      const wrong = await runCli(reg, ['mirror', peer.host, 'private/app', '--username', user.username, '--password-stdin'], { stdin: 'not-it-5521\n' });
      assert.equal(wrong.code, 1);
      assert.match(wrong.stdout, /401 UNAUTHORIZED/);
      assert.doesNotMatch(wrong.stdout + wrong.stderr, /not-it-5521|mirror-secret-93a/);
    });
  });
});
