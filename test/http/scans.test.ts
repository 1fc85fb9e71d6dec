// Built-in scanning end to end: an image with a real Debian package database and npm packages
// is pushed, the background worker scans it, the findings match a small OSV set imported with
// `registry vulndb import`, the SBOM shows up as a referrer, an import of a new advisory makes
// the stored inventory match again without a rescan, an index reports its platforms, and the
// queue survives a restart.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { makeTempDir, startRegistry, type TestRegistry } from '../helpers/registry.js';
import { ADMIN, api, basic, expect, startTeamRegistry, type Credentials } from '../helpers/api.js';
import { runCli } from '../helpers/cli.js';
import { advisory } from '../helpers/osv.js';
import { MediaType, pushBlob, pushManifest, type Descriptor } from '../helpers/oci.js';
import { buildLayer, OCI_LAYER_GZIP } from '../scan/fixtures.js';

const OS_RELEASE = 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nID=debian\nVERSION_ID="12"\nVERSION_CODENAME=bookworm\n';
const DPKG_STATUS = [
  'Package: libssl3\nStatus: install ok installed\nArchitecture: amd64\nSource: openssl\nVersion: 3.0.11-1~deb12u1\n',
  'Package: zlib1g\nStatus: install ok installed\nArchitecture: amd64\nSource: zlib (1:1.2.13.dfsg-1)\nVersion: 1:1.2.13.dfsg-1\n',
  'Package: removed-pkg\nStatus: deinstall ok config-files\nArchitecture: amd64\nVersion: 1.0\n',
].join('\n');

function auth(c: Credentials): Record<string, string> {
  return { Authorization: basic(c) };
}

/** An image with two layers: Debian's package database, then an npm package. */
async function pushScannableImage(reg: TestRegistry, repo: string, tag: string, headers: Record<string, string>, lodash = '4.17.20') {
  const base = await buildLayer({ 'etc/os-release': OS_RELEASE, 'var/lib/dpkg/status': DPKG_STATUS });
  const app = await buildLayer({ 'app/node_modules/lodash/package.json': JSON.stringify({ name: 'lodash', version: lodash }) });
  const layers: Descriptor[] = [];
  for (const l of [base, app]) layers.push(await pushBlob(reg.url, repo, l.bytes, OCI_LAYER_GZIP, headers));
  const config = await pushBlob(reg.url, repo, Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] } })), MediaType.OciConfig, headers);
  const manifest = { schemaVersion: 2, mediaType: MediaType.OciManifest, config, layers };
  return pushManifest(reg.url, repo, tag, manifest, MediaType.OciManifest, headers);
}

async function importAdvisories(reg: TestRegistry, advisories: Record<string, unknown>[]): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'osv-'));
  try {
    for (const a of advisories) await writeFile(join(dir, `${String(a['id'])}.json`), JSON.stringify(a));
    const res = await runCli(reg, ['vulndb', 'import', dir, '--json']);
    assert.equal(res.code, 0, res.stderr);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

async function waitForScan(reg: TestRegistry, repo: string, reference: string, as: Credentials, until: (body: Record<string, any>) => boolean = (b) => b['status'] === 'done') {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const res = expect(await api(reg, 'GET', `/scan?repository=${repo}&reference=${reference}`, { as }), 200);
    if (until(res.json)) return res.json;
    if (Date.now() > deadline) assert.fail(`scan of ${repo}:${reference} not finished: ${JSON.stringify(res.json).slice(0, 500)}`);
    await sleep(100);
  }
}

const DEBIAN_ADVISORY = advisory('DSA-0001-1', '2026-01-01T00:00:00Z', 'Debian:12', 'openssl', {
  aliases: ['CVE-2026-0001'],
  affected: [{ package: { ecosystem: 'Debian:12', name: 'openssl' }, ranges: [{ type: 'ECOSYSTEM', events: [{ introduced: '0' }, { fixed: '3.0.11-1~deb12u2' }] }] }],
  severity: [{ type: 'CVSS_V3', score: 'CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H' }],
});
const NPM_ADVISORY = advisory('GHSA-aaaa-bbbb-cccc', '2026-01-01T00:00:00Z', 'npm', 'lodash', {
  aliases: ['CVE-2026-0002'],
  affected: [{ package: { ecosystem: 'npm', name: 'lodash' }, ranges: [{ type: 'SEMVER', events: [{ introduced: '0' }, { fixed: '4.17.21' }] }] }],
  database_specific: { severity: 'MODERATE' },
});
// Fixed before the installed version: no finding.
const FIXED_ZLIB = advisory('DSA-0002-1', '2026-01-01T00:00:00Z', 'Debian:12', 'zlib', {
  affected: [{ package: { ecosystem: 'Debian:12', name: 'zlib' }, ranges: [{ type: 'ECOSYSTEM', events: [{ introduced: '0' }, { fixed: '1:1.2.13.dfsg-0' }] }] }],
});

describe('image scanning', () => {
  let reg: TestRegistry;
  let owner: Credentials;
  let reader: Credentials;
  let outsider: Credentials;
  before(async () => {
    ({ reg, owner, reader, outsider } = await startTeamRegistry({ scan: { pollMs: 100, rematchCheckMs: 200 } }));
    await importAdvisories(reg, [DEBIAN_ADVISORY, NPM_ADVISORY, FIXED_ZLIB]);
  });
  after(async () => {
    await reg.close();
  });

  test('a pushed image is scanned in the background: packages, OS, findings with severities and fixed versions', async () => {
    const pushed = await pushScannableImage(reg, 'team/web', 'v1', auth(owner));
    const body = await waitForScan(reg, 'team/web', 'v1', reader);
    assert.equal(body['kind'], 'image');
    assert.equal(body['digest'], pushed.digest);
    assert.equal(body['os'].id, 'debian');
    assert.deepEqual(body['summary'], { packages: 3, os: 'Debian GNU/Linux 12 (bookworm)', vulnerabilities: { CRITICAL: 1, HIGH: 0, MEDIUM: 1, LOW: 0, UNKNOWN: 0 } });
    const findings = body['findings'] as { id: string; aliases: string[]; severity: string; package: string; installedVersion: string; fixedVersion?: string }[];
    assert.deepEqual(
      findings.map((f) => [f.id, f.aliases, f.severity, f.package, f.installedVersion, f.fixedVersion]),
      [
        ['DSA-0001-1', ['CVE-2026-0001'], 'CRITICAL', 'libssl3', '3.0.11-1~deb12u1', '3.0.11-1~deb12u2'],
        ['GHSA-aaaa-bbbb-cccc', ['CVE-2026-0002'], 'MEDIUM', 'lodash', '4.17.20', '4.17.21'],
      ].map(([id, aliases, severity, pkg, installed, fixed]) => [id, aliases, severity, pkg, installed, fixed]),
    );
    // Severity filter; the package list on request.
    const high = expect(await api(reg, 'GET', `/scan?repository=team/web&reference=v1&severity=HIGH&packages=true`, { as: reader }), 200).json;
    assert.deepEqual(high.findings.map((f: { id: string }) => f.id), ['DSA-0001-1']);
    assert.deepEqual(high.packages.map((p: { name: string; version: string }) => `${p.name}@${p.version}`).sort(), ['libssl3@3.0.11-1~deb12u1', 'lodash@4.17.20', 'zlib1g@1:1.2.13.dfsg-1']);
    // Outsiders do not see it.
    expect(await api(reg, 'GET', `/scan?repository=team/web&reference=v1`, { as: outsider }), 404, 'NAME_UNKNOWN');
  });

  test('the SBOM is pushed as a referrer of the image and served as CycloneDX and SPDX', async () => {
    const { digest } = await waitForScan(reg, 'team/web', 'v1', owner);
    let referrers: { artifactType: string; annotations?: Record<string, string> }[] = [];
    const deadline = Date.now() + 10_000;
    while (referrers.length === 0 && Date.now() < deadline) {
      const res = await fetch(`${reg.url}/v2/team/web/referrers/${digest}`, { headers: auth(owner) });
      referrers = ((await res.json()) as { manifests: typeof referrers }).manifests;
      if (referrers.length === 0) await sleep(100);
    }
    assert.deepEqual(referrers.map((r) => r.artifactType), ['application/vnd.cyclonedx+json']);
    const cdx = expect(await api(reg, 'GET', `/sbom?repository=team/web&reference=v1&format=cyclonedx`, { as: reader }), 200).json;
    assert.equal(cdx.bomFormat, 'CycloneDX');
    assert.ok(cdx.components.some((c: { purl?: string }) => c.purl === 'pkg:npm/lodash@4.17.20'));
    const spdx = expect(await api(reg, 'GET', `/sbom?repository=team/web&reference=${digest}&format=spdx`, { as: reader }), 200).json;
    assert.equal(spdx.spdxVersion, 'SPDX-2.3');
    // The SBOM artifact is not itself scanned.
    const sbomDigest = (await (await fetch(`${reg.url}/v2/team/web/referrers/${digest}`, { headers: auth(owner) })).json()) as { manifests: { digest: string }[] };
    const artifact = expect(await api(reg, 'GET', `/scan?repository=team/web&reference=${sbomDigest.manifests[0]!.digest}`, { as: owner }), 200).json;
    assert.equal(artifact.kind, 'artifact');
  });

  test('a new advisory in the database is matched against stored inventories without a rescan', async () => {
    const before = await waitForScan(reg, 'team/web', 'v1', owner);
    await importAdvisories(reg, [
      advisory('DSA-0003-1', '2026-02-01T00:00:00Z', 'Debian:12', 'zlib', {
        affected: [{ package: { ecosystem: 'Debian:12', name: 'zlib' }, ranges: [{ type: 'ECOSYSTEM', events: [{ introduced: '0' }, { fixed: '1:1.2.13.dfsg-2' }] }] }],
        database_specific: { severity: 'LOW' },
      }),
    ]);
    const after = await waitForScan(reg, 'team/web', 'v1', owner, (b) => b['vulndbVersion'] > before['vulndbVersion']);
    assert.equal(after['scannedAt'], before['scannedAt'], 'not scanned again, only matched');
    assert.deepEqual(after['findings'].map((f: { id: string }) => f.id).sort(), ['DSA-0001-1', 'DSA-0003-1', 'GHSA-aaaa-bbbb-cccc']);
    assert.equal(after['summary'].vulnerabilities.LOW, 1);
  });

  test("a namespace's pull policy refuses images whose scan found vulnerabilities at or above a severity", async () => {
    await waitForScan(reg, 'team/web', 'v1', owner);
    const pull = async () => {
      const res = await fetch(`${reg.url}/v2/team/web/manifests/v1`, { headers: { ...auth(reader), Accept: MediaType.OciManifest } });
      return { status: res.status, text: await res.text() };
    };
    assert.equal((await pull()).status, 200);
    expect(await api(reg, 'PUT', '/namespaces/team/pull-policy', { as: owner, body: { blockSeverity: 'HIGH' } }), 200);
    const refused = await pull();
    assert.equal(refused.status, 403, refused.text);
    assert.match(refused.text, /"code":"DENIED".*vulnerabilities at or above HIGH.*DSA-0001-1/);
    assert.doesNotMatch(refused.text, /GHSA-aaaa-bbbb-cccc/, 'a MEDIUM finding does not block');
    // Administrators are exempt; an allow-listed advisory (by its CVE alias) no longer blocks.
    const admin = await fetch(`${reg.url}/v2/team/web/manifests/v1`, { headers: { ...auth(ADMIN), Accept: MediaType.OciManifest } });
    assert.equal(admin.status, 200);
    await admin.arrayBuffer();
    expect(await api(reg, 'PUT', '/namespaces/team/pull-policy', { as: owner, body: { blockSeverity: 'HIGH', allowAdvisories: ['CVE-2026-0001'] } }), 200);
    assert.equal((await pull()).status, 200);
    expect(await api(reg, 'PUT', '/namespaces/team/pull-policy', { as: owner, body: {} }), 200);
  });

  test('an index reports each platform; scans can be queued by hand; the queue is visible to admins', async () => {
    const h = auth(owner);
    const amd = await pushScannableImage(reg, 'team/multi', 'amd', h);
    const arm = await pushScannableImage(reg, 'team/multi', 'arm', h, '4.17.21');
    const index = { schemaVersion: 2, mediaType: MediaType.OciIndex, manifests: [amd, arm].map((p, i) => ({ mediaType: MediaType.OciManifest, digest: p.digest, size: p.bytes.length, platform: { os: 'linux', architecture: i ? 'arm64' : 'amd64' } })) };
    await pushManifest(reg.url, 'team/multi', 'latest', index, MediaType.OciIndex, h);
    const body = await waitForScan(reg, 'team/multi', 'latest', owner, (b) => b['platforms'].every((p: { status: string }) => p.status === 'done'));
    assert.equal(body['kind'], 'index');
    assert.deepEqual(body['platforms'].map((p: { findings: { id: string }[] }) => p.findings.map((f) => f.id)), [['DSA-0001-1', 'GHSA-aaaa-bbbb-cccc', 'DSA-0003-1'], ['DSA-0001-1', 'DSA-0003-1']]);

    expect(await api(reg, 'POST', '/scan', { as: reader, body: { repository: 'team/multi', reference: 'latest' } }), 403, 'DENIED');
    const queued = expect(await api(reg, 'POST', '/scan', { as: owner, body: { repository: 'team/multi', reference: 'latest' } }), 202).json;
    assert.deepEqual(queued.queued.sort(), [amd.digest, arm.digest].sort());
    expect(await api(reg, 'GET', '/scans/queue', { as: owner }), 403, 'DENIED');
    const state = expect(await api(reg, 'GET', '/scans/queue', { as: ADMIN }), 200).json;
    const metrics = await (await fetch(`${reg.url}/metrics`)).text();
    assert.match(metrics, /registry_scans_total\{status="done"\} [1-9]/);
    assert.match(metrics, /registry_scan_findings_total\{severity="CRITICAL"\} [1-9]/);
    assert.match(metrics, /registry_scan_queue_jobs\{state="queued"\} \d+/);
    assert.ok(state.vulnerabilityDatabase.version >= 1);
    assert.ok(state.vulnerabilityDatabase.advisories >= 3);
    assert.equal(typeof state.queue.queued, 'number');
    await waitForScan(reg, 'team/multi', 'latest', owner, (b) => b['platforms'].every((p: { status: string }) => p.status === 'done'));
  });
});

describe('registry scan (command line)', () => {
  test('scan an image now, queue every image, show the queue', async () => {
    const reg = await startRegistry({ scan: { workers: 0 } });
    try {
      await importAdvisories(reg, [DEBIAN_ADVISORY, NPM_ADVISORY]);
      const pushed = await pushScannableImage(reg, 'cli/app', 'v1', {});
      const now = await runCli(reg, ['scan', 'image', 'cli/app', 'v1']);
      assert.equal(now.code, 0, now.stderr);
      assert.match(now.stdout, new RegExp(`cli/app@${pushed.digest}: Debian GNU/Linux 12 \\(bookworm\\), 3 packages`));
      assert.match(now.stdout, /1 critical, 0 high, 1 medium/);
      assert.match(now.stdout, /CRITICAL +DSA-0001-1 \(CVE-2026-0001\) +libssl3 3\.0\.11-1~deb12u1 -> 3\.0\.11-1~deb12u2 +var\/lib\/dpkg\/status/);
      const json = JSON.parse((await runCli(reg, ['scan', 'image', 'cli/app', pushed.digest, '--json'])).stdout) as { findings: { id: string }[] }[];
      assert.deepEqual(json[0]!.findings.map((f) => f.id), ['DSA-0001-1', 'GHSA-aaaa-bbbb-cccc']);

      // The push queued it already (no workers here); queuing everything finds it queued.
      const queue = JSON.parse((await runCli(reg, ['scan', 'queue', '--json'])).stdout) as { queue: { queued: number } };
      assert.equal(queue.queue.queued, 1);
      const all = await runCli(reg, ['scan', 'all', '--json']);
      assert.equal(all.code, 0, all.stderr);
      assert.deepEqual(JSON.parse(all.stdout), { manifests: 1, queued: 1 });
      const missing = await runCli(reg, ['scan', 'image', 'cli/app', 'nope']);
      assert.equal(missing.code, 1);
      assert.match(missing.stderr, /no manifest cli\/app:nope/);
    } finally {
      await reg.close();
    }
  });
});

describe('the scan queue survives a restart', () => {
  test('a push queued on a node without workers is scanned by the next start', async () => {
    const dir = await makeTempDir();
    const first = await startRegistry({ scan: { workers: 0, pollMs: 100 } }, dir);
    let second: TestRegistry | undefined;
    try {
      const pushed = await pushScannableImage(first, 'queued/app', 'v1', {});
      const job = await first.app.scans.store.getJob(pushed.digest);
      assert.equal(job?.reason, 'push');
      await first.close();
      second = await startRegistry({ scan: { workers: 1, pollMs: 100 } }, dir);
      const deadline = Date.now() + 30_000;
      let result = await second.app.scans.store.getResult(pushed.digest);
      while (!result && Date.now() < deadline) {
        await sleep(100);
        result = await second.app.scans.store.getResult(pushed.digest);
      }
      assert.equal(result?.status, 'done');
      assert.equal(result?.summary.packages, 3);
      assert.equal(await second.app.scans.store.getJob(pushed.digest), undefined);
    } finally {
      await second?.close();
      await first.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
