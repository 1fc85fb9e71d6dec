// Matching inventories against OSV advisories: a fixture set covering each ecosystem's edge
// cases (Debian source packages and `~`, Alpine _rc and -rN, RPM epochs, npm SemVer ranges,
// PyPI pre/post-releases and unnormalised names, Go pseudo-versions, Maven qualifiers),
// imported into a real SQLite database, with the exact findings expected.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openSqliteStore } from '../../src/metadata/sqlite.js';
import type { SqlMetadataStore } from '../../src/metadata/sql-store.js';
import type { InstalledPackage, Inventory } from '../../src/scan/model.js';
import { importAdvisories } from '../../src/scan/vuln/import.js';
import { inRange, matchInventory, type Finding } from '../../src/scan/vuln/match.js';
import { debian, pep440, semver } from '../../src/scan/versions/index.js';
import { cvss3BaseScore } from '../../src/scan/vuln/cvss.js';
import { matchTarget, sourceRpmName, ubuntuEcosystem } from '../../src/scan/vuln/ecosystems.js';
import type { Json } from '../helpers/osv.js';

const MODIFIED = '2024-05-01T00:00:00Z';
const V_CRITICAL = 'CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H'; // 9.8
const V_HIGH = 'CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H'; // 7.5
const V_MAX = 'CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:C/C:H/I:H/A:H'; // 10.0

const range = (type: string, ...events: Json[]): Json => ({ type, events });
const affected = (ecosystem: string, name: string, extra: Json): Json => ({ package: { ecosystem, name }, ...extra });

const ADVISORIES: Json[] = [
  // Debian: the source package; the fix is a stable update whose version sorts below 3.0.11-1.
  {
    id: 'DSA-5532-1',
    summary: 'openssl - security update',
    aliases: ['CVE-2023-5678'],
    database_specific: { urgency: 'high' },
    affected: [
      affected('Debian:11', 'openssl', { ranges: [range('ECOSYSTEM', { introduced: '0' }, { fixed: '1.1.1w-0+deb11u1' })] }),
      affected('Debian:12', 'openssl', { ranges: [range('ECOSYSTEM', { introduced: '0' }, { fixed: '3.0.11-1~deb12u2' })] }),
    ],
  },
  // Debian, unfixed: details instead of a summary, the CVE as upstream, a CVSS vector.
  {
    id: 'DEBIAN-CVE-2024-0727',
    upstream: ['CVE-2024-0727'],
    details: 'Processing a maliciously formatted PKCS12 file may lead OpenSSL to crash.\nMore text.',
    severity: [{ type: 'CVSS_V3', score: V_HIGH }],
    affected: [affected('Debian:12', 'openssl', { ranges: [range('ECOSYSTEM', { introduced: '0' })] })],
  },
  // Alpine: origin package; -rN revisions and an _rc before the release.
  {
    id: 'ALPINE-CVE-2023-42363',
    aliases: ['CVE-2023-42363'],
    affected: [
      affected('Alpine:v3.18', 'busybox', { ranges: [range('ECOSYSTEM', { introduced: '0' }, { fixed: '1.36.1-r7' })] }),
      affected('Alpine:v3.19', 'busybox', { ranges: [range('ECOSYSTEM', { introduced: '0' }, { fixed: '1.36.1-r16' })] }),
    ],
  },
  {
    id: 'ALPINE-CVE-2023-46218',
    aliases: ['CVE-2023-46218'],
    affected: [affected('Alpine:v3.19', 'curl', { ranges: [range('ECOSYSTEM', { introduced: '8.0.0-r0' }, { fixed: '8.5.0-r0' })] })],
  },
  // Rocky Linux: the source RPM name, a fix with an epoch.
  {
    id: 'RLSA-2024:0310',
    aliases: ['CVE-2023-5678', 'CVE-2023-6129'],
    summary: 'Moderate: openssl security update',
    affected: [
      affected('Rocky Linux:9', 'openssl', { ranges: [range('ECOSYSTEM', { introduced: '0' }, { fixed: '1:3.0.7-25.el9_3' })] }),
      affected('Rocky Linux:8', 'openssl', { ranges: [range('ECOSYSTEM', { introduced: '0' }, { fixed: '1:1.1.1k-12.el8_9' })] }),
    ],
  },
  // npm: two SemVer ranges in one entry; GHSA's own severity label.
  {
    id: 'GHSA-35jh-r3h4-6jhm',
    aliases: ['CVE-2021-23337'],
    summary: 'Command Injection in lodash',
    database_specific: { severity: 'HIGH', github_reviewed: true },
    affected: [
      affected('npm', 'lodash', {
        ranges: [range('SEMVER', { introduced: '0' }, { fixed: '4.17.21' }, { introduced: '5.0.0-beta.1' }, { fixed: '5.0.0' })],
      }),
    ],
  },
  // npm: several affected entries for one package, last_affected, a CVSS vector.
  {
    id: 'GHSA-xvch-5gv4-984h',
    aliases: ['CVE-2021-44906'],
    summary: 'Prototype Pollution in minimist',
    severity: [{ type: 'CVSS_V3', score: V_CRITICAL }],
    affected: [
      affected('npm', 'minimist', { ranges: [range('ECOSYSTEM', { introduced: '0' }, { fixed: '0.2.4' })] }),
      affected('npm', 'minimist', { ranges: [range('ECOSYSTEM', { introduced: '1.0.0' }, { last_affected: '1.2.5' })] }),
    ],
  },
  // npm: an explicit versions list with a GIT range (which cannot be evaluated here).
  {
    id: 'GHSA-left-pad',
    summary: 'left-pad pads wrong',
    affected: [
      affected('npm', 'left-pad', {
        ranges: [{ type: 'GIT', repo: 'https://example.test/left-pad', events: [{ introduced: 'a'.repeat(40) }, { fixed: 'b'.repeat(40) }] }],
        versions: ['1.0.0', '1.1.0'],
      }),
    ],
  },
  // PyPI: names as the advisory writes them (one not normalised); pre- and post-releases.
  {
    id: 'PYSEC-2024-1',
    aliases: ['CVE-2024-34064', 'GHSA-h75v-3vvj-5mfj'],
    summary: 'Jinja vulnerable to HTML attribute injection',
    database_specific: { severity: 'MODERATE' },
    affected: [affected('PyPI', 'jinja2', { ranges: [range('ECOSYSTEM', { introduced: '0' }, { fixed: '3.1.4' })] })],
  },
  {
    id: 'PYSEC-2024-2',
    summary: 'zope.interface issue',
    affected: [affected('PyPI', 'Zope.Interface', { ranges: [range('ECOSYSTEM', { introduced: '5.0' }, { fixed: '5.4.post1' })] })],
  },
  // Go: SEMVER ranges over module versions, pseudo-versions, the standard library.
  {
    id: 'GO-2024-2687',
    aliases: ['CVE-2023-45288', 'GHSA-4v7x-pqxf-cx7m'],
    summary: 'HTTP/2 CONTINUATION flood in net/http',
    affected: [
      affected('Go', 'golang.org/x/net', { ranges: [range('SEMVER', { introduced: '0' }, { fixed: '0.23.0' })] }),
      affected('Go', 'stdlib', { ranges: [range('SEMVER', { introduced: '0' }, { fixed: '1.21.9' }, { introduced: '1.22.0-0' }, { fixed: '1.22.2' })] }),
    ],
  },
  // Maven: qualifiers (beta < release, rc < release), two ranges, a critical vector.
  {
    id: 'GHSA-jfh8-c2jp-5v3q',
    aliases: ['CVE-2021-44228'],
    summary: 'Remote code injection in Log4j',
    severity: [{ type: 'CVSS_V3', score: V_MAX }],
    affected: [
      affected('Maven', 'org.apache.logging.log4j:log4j-core', {
        ranges: [range('ECOSYSTEM', { introduced: '2.13.0' }, { fixed: '2.15.0' }), range('ECOSYSTEM', { introduced: '2.0-beta9' }, { fixed: '2.12.2' })],
      }),
    ],
  },
  // Ubuntu: the release with its LTS suffix, Ubuntu's priority as the severity.
  {
    id: 'UBUNTU-CVE-2024-2511',
    upstream: ['CVE-2024-2511'],
    details: 'Unbounded memory growth with session handling in TLSv1.3',
    severity: [{ type: 'Ubuntu', score: 'low' }],
    affected: [
      affected('Ubuntu:22.04:LTS', 'openssl', { ranges: [range('ECOSYSTEM', { introduced: '0' }, { fixed: '3.0.2-0ubuntu1.15' })] }),
      affected('Ubuntu:Pro:18.04:LTS', 'openssl', { ranges: [range('ECOSYSTEM', { introduced: '0' }, { fixed: '1.1.1-1ubuntu2.1~18.04.23+esm4' })] }),
    ],
  },
].map((a) => ({ modified: MODIFIED, ...a }));

function pkg(ecosystem: InstalledPackage['ecosystem'], name: string, version: string, extra: Partial<InstalledPackage> = {}): InstalledPackage {
  const path = { Debian: 'var/lib/dpkg/status', Ubuntu: 'var/lib/dpkg/status', Alpine: 'lib/apk/db/installed', RPM: 'var/lib/rpm/rpmdb.sqlite' }[ecosystem as string] ?? `app/${name}`;
  return { ecosystem, name, version, path, purl: `pkg:${ecosystem.toLowerCase()}/${name}@${version}`, ...extra };
}

/** The finding's fields the test checks, in a compact form. */
function brief(f: Finding): string {
  return [f.id, f.package, f.installedVersion, f.fixedVersion ?? '-', f.severity, f.ecosystem, f.path].join(' ');
}

describe('matching an inventory against OSV advisories', () => {
  let dir: string;
  let store: SqlMetadataStore;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'registry-match-test-'));
    for (const a of ADVISORIES) await writeFile(join(dir, `${a['id'] as string}.json`.replace(':', '-')), JSON.stringify(a));
    store = await openSqliteStore(join(dir, 'db', 'registry.db'));
    const summary = await importAdvisories(store.vulns(), [dir]);
    assert.equal(summary.added, ADVISORIES.length, summary.errors.join('\n'));
  });
  after(async () => {
    await store.close();
    await rm(dir, { recursive: true, force: true });
  });

  const match = (inventory: Inventory) => matchInventory(inventory, store.vulns());

  test('Debian 12: source packages, `~` stable updates, unfixed advisories, Debian urgency', async () => {
    const findings = await match({
      os: { id: 'debian', versionId: '12', versionCodename: 'bookworm' },
      packages: [
        pkg('Debian', 'libssl3', '3.0.11-1~deb12u1', { sourceName: 'openssl', purl: 'pkg:deb/debian/libssl3@3.0.11-1~deb12u1?distro=debian-12' }),
        pkg('Debian', 'openssl', '3.0.11-1~deb12u2'),
        // 3.0.11-1 is newer than 3.0.11-1~deb12u2 (a string comparison says older).
        pkg('Debian', 'libssl-dev', '3.0.11-1', { sourceName: 'openssl' }),
        pkg('Debian', 'zlib1g', '1:1.2.13.dfsg-1', { sourceName: 'zlib' }),
      ],
    });
    // Most severe first, then by package name, advisory id and path.
    assert.deepEqual(findings.map(brief), [
      'DEBIAN-CVE-2024-0727 libssl-dev 3.0.11-1 - HIGH Debian:12 var/lib/dpkg/status',
      'DEBIAN-CVE-2024-0727 libssl3 3.0.11-1~deb12u1 - HIGH Debian:12 var/lib/dpkg/status',
      'DSA-5532-1 libssl3 3.0.11-1~deb12u1 3.0.11-1~deb12u2 HIGH Debian:12 var/lib/dpkg/status',
      'DEBIAN-CVE-2024-0727 openssl 3.0.11-1~deb12u2 - HIGH Debian:12 var/lib/dpkg/status',
    ]);
    assert.deepEqual(findings[2], {
      id: 'DSA-5532-1',
      aliases: ['CVE-2023-5678'],
      summary: 'openssl - security update',
      severity: 'HIGH',
      package: 'libssl3',
      ecosystem: 'Debian:12',
      installedVersion: '3.0.11-1~deb12u1',
      fixedVersion: '3.0.11-1~deb12u2',
      path: 'var/lib/dpkg/status',
      purl: 'pkg:deb/debian/libssl3@3.0.11-1~deb12u1?distro=debian-12',
    });
    assert.deepEqual(
      [findings[1]!.aliases, findings[1]!.score, findings[1]!.summary],
      [['CVE-2024-0727'], 7.5, 'Processing a maliciously formatted PKCS12 file may lead OpenSSL to crash.'],
    );
    // Another Debian release: only its own entries apply.
    const bullseye = await match({ os: { id: 'debian', versionId: '11' }, packages: [pkg('Debian', 'libssl3', '1.1.1w-0+deb11u1', { sourceName: 'openssl' })] });
    assert.deepEqual(bullseye, []);
  });

  test('Alpine 3.19: origin packages, -rN revisions, _rc before the release', async () => {
    const findings = await match({
      os: { id: 'alpine', versionId: '3.19.1' },
      packages: [
        pkg('Alpine', 'ssl_client', '1.36.1-r15', { sourceName: 'busybox' }),
        pkg('Alpine', 'busybox', '1.36.1-r16'),
        pkg('Alpine', 'curl', '8.5.0_rc1-r3'),
        pkg('Alpine', 'libcurl', '8.5.0-r0', { sourceName: 'curl' }),
        pkg('Alpine', 'curl-old', '7.88.1-r1', { sourceName: 'curl' }),
      ],
    });
    assert.deepEqual(findings.map(brief), [
      'ALPINE-CVE-2023-46218 curl 8.5.0_rc1-r3 8.5.0-r0 UNKNOWN Alpine:v3.19 lib/apk/db/installed',
      'ALPINE-CVE-2023-42363 ssl_client 1.36.1-r15 1.36.1-r16 UNKNOWN Alpine:v3.19 lib/apk/db/installed',
    ]);
  });

  test('Rocky Linux 9: source RPM names and epochs', async () => {
    const findings = await match({
      os: { id: 'rocky', versionId: '9.3', idLike: ['rhel', 'centos', 'fedora'] },
      packages: [
        pkg('RPM', 'openssl-libs', '1:3.0.7-24.el9', { sourceName: 'openssl-3.0.7-24.el9.src.rpm' }),
        pkg('RPM', 'openssl', '1:3.0.7-25.el9_3', { sourceName: 'openssl-3.0.7-25.el9_3.src.rpm' }),
        // Without the epoch the version sorts below every epoch-1 fix.
        pkg('RPM', 'openssl-perl', '3.0.9-1.el9', { sourceName: 'openssl-3.0.9-1.el9.src.rpm' }),
      ],
    });
    assert.deepEqual(findings.map(brief), [
      'RLSA-2024:0310 openssl-libs 1:3.0.7-24.el9 1:3.0.7-25.el9_3 UNKNOWN Rocky Linux:9 var/lib/rpm/rpmdb.sqlite',
      'RLSA-2024:0310 openssl-perl 3.0.9-1.el9 1:3.0.7-25.el9_3 UNKNOWN Rocky Linux:9 var/lib/rpm/rpmdb.sqlite',
    ]);
    assert.deepEqual(findings[0]!.aliases, ['CVE-2023-5678', 'CVE-2023-6129']);
  });

  test('npm, PyPI, Go and Maven packages of one image', async () => {
    const findings = await match({
      os: { id: 'debian', versionId: '12' },
      packages: [
        pkg('npm', 'lodash', '4.17.20', { path: 'app/node_modules/lodash/package.json' }),
        pkg('npm', 'lodash', '5.0.0-beta.2', { path: 'app/v5/node_modules/lodash/package.json' }),
        pkg('npm', 'lodash', '4.17.21', { path: 'app/fixed/node_modules/lodash/package.json' }),
        pkg('npm', 'minimist', '0.0.8', { path: 'app/a/minimist/package.json' }),
        pkg('npm', 'minimist', '1.2.5', { path: 'app/b/minimist/package.json' }),
        pkg('npm', 'minimist', '1.2.6', { path: 'app/c/minimist/package.json' }),
        pkg('npm', 'left-pad', '1.1.0'),
        pkg('npm', 'left-pad', '1.2.0', { path: 'app/left-pad-new' }),
        pkg('PyPI', 'Jinja2', '3.1.4rc1', { path: 'usr/lib/python3/site-packages/Jinja2-3.1.4rc1.dist-info/METADATA' }),
        pkg('PyPI', 'jinja2', '3.1.3.post1', { path: 'venv/jinja2' }),
        pkg('PyPI', 'jinja2', '3.1.4', { path: 'venv2/jinja2' }),
        pkg('PyPI', 'Zope_Interface', '5.4', { path: 'venv/zope' }),
        pkg('PyPI', 'zope-interface', '5.0.dev1', { path: 'venv2/zope' }),
        pkg('PyPI', 'zope.interface', '5.4.post1', { path: 'venv3/zope' }),
        pkg('Go', 'golang.org/x/net', 'v0.0.0-20220722155237-a158d28d115b', { path: 'usr/bin/app' }),
        pkg('Go', 'golang.org/x/net', 'v0.22.1-0.20240401000000-abcdefabcdef', { path: 'usr/bin/tool' }),
        pkg('Go', 'golang.org/x/net', 'v0.23.0', { path: 'usr/bin/fixed' }),
        pkg('Go', 'stdlib', 'go1.22.1', { path: 'usr/bin/app' }),
        pkg('Go', 'stdlib', 'v1.21.9', { path: 'usr/bin/fixed' }),
        pkg('Maven', 'org.apache.logging.log4j:log4j-core', '2.14.1', { path: 'app/lib/log4j-core-2.14.1.jar' }),
        pkg('Maven', 'org.apache.logging.log4j:log4j-core', '2.15.0-rc1', { path: 'app/lib/log4j-core-2.15.0-rc1.jar' }),
        pkg('Maven', 'org.apache.logging.log4j:log4j-core', '2.0-beta8', { path: 'app/old/log4j-core-2.0-beta8.jar' }),
        pkg('Maven', 'org.apache.logging.log4j:log4j-core', '2.12.2', { path: 'app/lts/log4j-core-2.12.2.jar' }),
        pkg('Maven', 'org.apache.logging.log4j:log4j-core', '2.0-rc1', { path: 'app/rc/log4j-core-2.0-rc1.jar' }),
      ],
    });
    assert.deepEqual(findings.map(brief), [
      'GHSA-xvch-5gv4-984h minimist 0.0.8 0.2.4 CRITICAL npm app/a/minimist/package.json',
      'GHSA-xvch-5gv4-984h minimist 1.2.5 - CRITICAL npm app/b/minimist/package.json',
      'GHSA-jfh8-c2jp-5v3q org.apache.logging.log4j:log4j-core 2.14.1 2.15.0 CRITICAL Maven app/lib/log4j-core-2.14.1.jar',
      'GHSA-jfh8-c2jp-5v3q org.apache.logging.log4j:log4j-core 2.15.0-rc1 2.15.0 CRITICAL Maven app/lib/log4j-core-2.15.0-rc1.jar',
      'GHSA-jfh8-c2jp-5v3q org.apache.logging.log4j:log4j-core 2.0-rc1 2.12.2 CRITICAL Maven app/rc/log4j-core-2.0-rc1.jar',
      'GHSA-35jh-r3h4-6jhm lodash 4.17.20 4.17.21 HIGH npm app/node_modules/lodash/package.json',
      'GHSA-35jh-r3h4-6jhm lodash 5.0.0-beta.2 5.0.0 HIGH npm app/v5/node_modules/lodash/package.json',
      'PYSEC-2024-1 Jinja2 3.1.4rc1 3.1.4 MEDIUM PyPI usr/lib/python3/site-packages/Jinja2-3.1.4rc1.dist-info/METADATA',
      'PYSEC-2024-1 jinja2 3.1.3.post1 3.1.4 MEDIUM PyPI venv/jinja2',
      'PYSEC-2024-2 Zope_Interface 5.4 5.4.post1 UNKNOWN PyPI venv/zope',
      'GO-2024-2687 golang.org/x/net v0.0.0-20220722155237-a158d28d115b 0.23.0 UNKNOWN Go usr/bin/app',
      'GO-2024-2687 golang.org/x/net v0.22.1-0.20240401000000-abcdefabcdef 0.23.0 UNKNOWN Go usr/bin/tool',
      'GHSA-left-pad left-pad 1.1.0 - UNKNOWN npm app/left-pad',
      'GO-2024-2687 stdlib go1.22.1 1.22.2 UNKNOWN Go usr/bin/app',
    ]);
    const log4j = findings.find((f) => f.id === 'GHSA-jfh8-c2jp-5v3q')!;
    assert.deepEqual([log4j.score, log4j.aliases, log4j.purl], [10, ['CVE-2021-44228'], 'pkg:maven/org.apache.logging.log4j:log4j-core@2.14.1']);
    assert.deepEqual(findings.find((f) => f.id === 'GO-2024-2687')!.aliases, ['CVE-2023-45288']);
  });

  test('Ubuntu 22.04 LTS: its own ecosystem string (not Pro), Ubuntu priority', async () => {
    const findings = await match({
      os: { id: 'ubuntu', versionId: '22.04', prettyName: 'Ubuntu 22.04.4 LTS', idLike: ['debian'] },
      packages: [pkg('Ubuntu', 'libssl3', '3.0.2-0ubuntu1.14', { sourceName: 'openssl' }), pkg('Ubuntu', 'openssl', '3.0.2-0ubuntu1.15')],
    });
    assert.deepEqual(findings.map(brief), ['UBUNTU-CVE-2024-2511 libssl3 3.0.2-0ubuntu1.14 3.0.2-0ubuntu1.15 LOW Ubuntu:22.04:LTS var/lib/dpkg/status']);
    assert.equal(findings[0]!.summary, 'Unbounded memory growth with session handling in TLSv1.3');
  });

  test('packages whose OS OSV does not cover, and empty inventories, give no findings', async () => {
    assert.deepEqual(await match({ packages: [] }), []);
    assert.deepEqual(await match({ os: { id: 'fedora', versionId: '39' }, packages: [pkg('RPM', 'openssl', '1:3.0.7-1.fc39')] }), []);
    assert.deepEqual(await match({ packages: [pkg('Alpine', 'busybox', '1.0-r0')] }), []);
  });
});

describe('OSV ecosystems of an image', () => {
  test('Ubuntu releases: LTS from the pretty name, else from the version', () => {
    assert.equal(ubuntuEcosystem({ id: 'ubuntu', versionId: '22.04', prettyName: 'Ubuntu 22.04.3 LTS' }), 'Ubuntu:22.04:LTS');
    assert.equal(ubuntuEcosystem({ id: 'ubuntu', versionId: '24.04' }), 'Ubuntu:24.04:LTS');
    assert.equal(ubuntuEcosystem({ id: 'ubuntu', versionId: '23.10', prettyName: 'Ubuntu 23.10' }), 'Ubuntu:23.10');
    assert.equal(ubuntuEcosystem({ id: 'ubuntu', versionId: '23.04' }), 'Ubuntu:23.04');
  });

  test('RPM distributions by os-release ID', () => {
    const openssl = pkg('RPM', 'openssl-libs', '1:3.0.7-24.el9', { sourceName: 'openssl-3.0.7-24.el9.src.rpm' });
    const rhel = matchTarget(openssl, { id: 'rhel', versionId: '9.3' })!;
    assert.equal(rhel.family, 'Red Hat');
    assert.deepEqual(rhel.names, ['openssl', 'openssl-libs']);
    assert.equal(rhel.accepts('Red Hat:enterprise_linux:9::appstream'), true);
    assert.equal(rhel.accepts('Red Hat:enterprise_linux:8::appstream'), false);
    assert.equal(rhel.accepts('Red Hat:rhel_eus:9.2::baseos'), false);
    const alma = matchTarget(openssl, { id: 'almalinux', versionId: '9.3' })!;
    assert.deepEqual([alma.family, alma.names, alma.accepts('AlmaLinux:9'), alma.accepts('AlmaLinux:8')], ['AlmaLinux', ['openssl'], true, false]);
    const leap = matchTarget(openssl, { id: 'opensuse-leap', versionId: '15.5', prettyName: 'openSUSE Leap 15.5' })!;
    assert.equal(leap.accepts('openSUSE:openSUSE Leap 15.5'), true);
    assert.equal(sourceRpmName('bash-5.1.8-6.el9.src.rpm'), 'bash');
    assert.equal(sourceRpmName('bash'), 'bash');
  });

  test('Alpine and Debian release suffixes', () => {
    const alpine = matchTarget(pkg('Alpine', 'ssl_client', '1.36.1-r15', { sourceName: 'busybox' }), { id: 'alpine', versionId: '3.19.1' })!;
    assert.deepEqual([alpine.names, alpine.accepts('Alpine:v3.19'), alpine.accepts('Alpine:v3.1')], [['busybox'], true, false]);
    const sid = matchTarget(pkg('Debian', 'bash', '5.2.21-2'), { id: 'debian', versionCodename: 'sid' })!;
    assert.deepEqual([sid.accepts('Debian:sid'), sid.accepts('Debian'), sid.accepts('Debian:12')], [true, true, false]);
    const binnmu = matchTarget(pkg('Debian', 'libfoo1', '1.0-1+b2', { sourceName: 'foo', sourceVersion: '1.0-1' }), { id: 'debian', versionId: '12' })!;
    assert.equal(binnmu.version, '1.0-1', 'Debian advisories give source versions');
  });
});

describe("range evaluation (the OSV schema's algorithm)", () => {
  const r = (...events: Json[]) => ({ type: 'ECOSYSTEM', events }) as Parameters<typeof inRange>[1];
  test('introduced/fixed in any order, several intervals, last_affected, limits', () => {
    const table: [string, ReturnType<typeof r>, boolean][] = [
      ['1.5.0', r({ fixed: '2.0.0' }, { introduced: '1.0.0' }), true],
      ['2.0.0', r({ fixed: '2.0.0' }, { introduced: '1.0.0' }), false],
      ['0.9.0', r({ fixed: '2.0.0' }, { introduced: '1.0.0' }), false],
      ['2.5.0', r({ introduced: '0' }, { fixed: '2.0.0' }, { introduced: '3.0.0' }, { fixed: '3.1.0' }), false],
      ['3.0.5', r({ introduced: '3.0.0' }, { fixed: '3.1.0' }, { introduced: '0' }, { fixed: '2.0.0' }), true],
      ['1.5.0', r({ introduced: '1.0.0' }, { last_affected: '1.5.0' }), true],
      ['1.5.1', r({ introduced: '1.0.0' }, { last_affected: '1.5.0' }), false],
      ['1.0.0', r({ introduced: '0' }, { limit: '2.0.0' }), true],
      ['2.0.0', r({ introduced: '0' }, { limit: '2.0.0' }), false],
      ['9.9.9', r({ introduced: '0' }, { limit: '*' }), true],
      ['1.0.0', r({ introduced: '1.0.0' }, { fixed: '1.0.0' }), false],
      ['1.0.0', r(), false],
    ];
    for (const [version, range, expected] of table) assert.equal(inRange(version, range, semver), expected, `${version} in ${JSON.stringify(range.events)}`);
  });

  test("each ecosystem's order decides", () => {
    const tilde = r({ introduced: '0' }, { fixed: '3.0.11-1~deb12u2' });
    assert.equal(inRange('3.0.11-1', tilde, debian), false);
    assert.equal(inRange('3.0.11-1~deb12u1', tilde, debian), true);
    assert.equal(inRange('1.0.post1', r({ introduced: '1.0rc1' }, { fixed: '1.0.post1' }), pep440), false);
    assert.equal(inRange('1.0', r({ introduced: '1.0rc1' }, { fixed: '1.0.post1' }), pep440), true);
    assert.throws(() => inRange('not-a-version', r({ introduced: '1.0.0' }), semver));
  });
});

describe('CVSS v3 base scores (CVSS 3.1 specification, section 7)', () => {
  test('scores of known vectors', () => {
    const table: [string, number | undefined][] = [
      [V_CRITICAL, 9.8],
      [V_MAX, 10],
      [V_HIGH, 7.5],
      ['CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:C/C:H/I:N/A:N', 6.8],
      ['CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:C/C:L/I:L/A:N', 6.1],
      ['CVSS:3.1/AV:L/AC:L/PR:L/UI:N/S:U/C:H/I:H/A:H', 7.8],
      ['CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:L/I:N/A:N', 5.3],
      ['CVSS:3.1/AV:N/AC:L/PR:L/UI:N/S:C/C:H/I:H/A:H', 9.9],
      ['CVSS:3.1/AV:P/AC:H/PR:H/UI:R/S:U/C:L/I:N/A:N', 1.6],
      ['CVSS:3.0/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H', 9.8],
      ['CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:N', 0],
      ['CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H/E:U/RL:O', 9.8],
      ['AV:N/AC:L/Au:N/C:P/I:P/A:P', undefined],
      ['CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N', undefined],
      ['CVSS:3.1/AV:X/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H', undefined],
    ];
    for (const [vector, score] of table) assert.equal(cvss3BaseScore(vector), score, vector);
  });
});
