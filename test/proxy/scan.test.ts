// Images that reach the registry through the pull-through cache are scanned like pushed ones:
// caching a manifest queues its scan, and the scan fetches (and caches) the layers no client
// has pulled yet.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { Readable } from 'node:stream';
import { startRegistry, type TestRegistry } from '../helpers/registry.js';
import { dockerRegistryAvailable, startDockerRegistry, type PeerRegistry } from '../helpers/docker-registry.js';
import { buildLayer, type FixtureLayer } from '../scan/fixtures.js';
import { sha256 } from '../helpers/oci.js';
import { DistributionClient } from '../../src/distribution-client/index.js';

const ready = await dockerRegistryAvailable();
const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const OS_RELEASE = 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nNAME="Debian GNU/Linux"\nVERSION_ID="12"\nID=debian\n';
const DPKG_STATUS = [
  'Package: zlib1g\nStatus: install ok installed\nArchitecture: amd64\nSource: zlib\nVersion: 1:1.2.13.dfsg-1\n',
  'Package: libssl3\nStatus: install ok installed\nArchitecture: amd64\nSource: openssl\nVersion: 3.0.11-1~deb12u2\n',
].join('\n');

describe('scanning cached images', { skip: ready ? false : 'needs docker-registry (scripts/install-test-deps.sh)', timeout: 120_000 }, () => {
  let peer: PeerRegistry;
  let reg: TestRegistry;
  let layers: FixtureLayer[];
  let manifestDigest: string;

  before(async () => {
    peer = await startDockerRegistry();
    const upstream = new DistributionClient(peer.host);
    layers = [
      await buildLayer({ 'etc/os-release': OS_RELEASE, 'var/lib/dpkg/status': DPKG_STATUS }),
      await buildLayer({ 'app/readme.txt': 'hello\n' }),
    ];
    const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: layers.map((l) => l.digest) } }));
    await upstream.pushBlob('team/app', { digest: sha256(config), size: config.length }, () => Readable.from([config]));
    for (const l of layers) await upstream.pushBlob('team/app', { digest: l.digest, size: l.bytes.length }, () => Readable.from([l.bytes]));
    const manifest = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: OCI_MANIFEST,
        config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha256(config), size: config.length },
        layers: layers.map((l) => ({ mediaType: l.mediaType, digest: l.digest, size: l.bytes.length })),
      }),
    );
    manifestDigest = sha256(manifest);
    await upstream.pushManifest('team/app', 'v1', manifest, OCI_MANIFEST);
    reg = await startRegistry({
      scan: { enabled: true, workers: 1, pollMs: 50 },
      proxy: { upstreams: [{ namespace: 'hub', url: peer.host, tagTtlSeconds: 300, timeoutMs: 5000 }] },
    });
  });
  after(async () => {
    await reg?.close();
    await peer?.close();
  });

  test('a manifest pulled through the cache is scanned; its layers are cached for the scan', async () => {
    // Only the manifest is pulled: no client ever asks for the layers.
    const res = await fetch(`${reg.url}/v2/hub/team/app/manifests/v1`, { headers: { Accept: OCI_MANIFEST } });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('docker-content-digest'), manifestDigest);
    await res.arrayBuffer();
    const deadline = Date.now() + 60_000;
    let result = await reg.app.scans.store.getResult(manifestDigest);
    while ((!result || result.status !== 'done') && Date.now() < deadline) {
      await sleep(100);
      result = await reg.app.scans.store.getResult(manifestDigest);
    }
    assert.equal(result?.status, 'done', `scan result: ${JSON.stringify(result)}`);
    assert.equal(result.repository, 'hub/team/app');
    assert.equal(result.summary.os, 'Debian GNU/Linux 12 (bookworm)');
    assert.equal(result.summary.packages, 2, 'both dpkg packages of the uncached layer were read');
    // The layers the scan read are now cached content of the repository, byte for byte.
    for (const l of layers) {
      assert.ok(await reg.app.metadata.getBlobLink('hub/team/app', l.digest), `layer ${l.digest} cached`);
      const blob = await fetch(`${reg.url}/v2/hub/team/app/blobs/${l.digest}`);
      assert.equal(blob.status, 200);
      assert.equal(sha256(Buffer.from(await blob.arrayBuffer())), l.digest);
    }
  });
});
