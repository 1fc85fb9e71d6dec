// The extractors' pure parse functions, each on its own, fed real package databases where
// this machine has them (dpkg status, rpmdb from rpm, a Go binary from go build, jars from zip).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { PackageURL } from 'packageurl-js';
import { parseApkInstalled } from '../../src/scan/inventory/apk.js';
import { parseDpkgStatus } from '../../src/scan/inventory/dpkg.js';
import { goPackages, parseGoModInfo, readGoBuildInfo, stdlibVersion } from '../../src/scan/inventory/go-binary.js';
import { parseJavaArchive, parseProperties } from '../../src/scan/inventory/java.js';
import { parsePackageJson, parsePackageLock } from '../../src/scan/inventory/npm.js';
import { parseOsRelease } from '../../src/scan/inventory/os-release.js';
import { formatPurl, packagePurl, type PurlParts } from '../../src/scan/inventory/purl.js';
import { parsePythonMetadata } from '../../src/scan/inventory/python.js';
import { parseSourceRpm, rpmPackageFromHeader } from '../../src/scan/inventory/rpm-header.js';
import { berkeleyHeaderBlobs, ndbHeaderBlobs, parseRpmdb, sqliteHeaderBlobs } from '../../src/scan/inventory/rpmdb.js';
import { hasCommand, run } from '../helpers/exec.js';
import { dpkgSnapshot, buildBerkeleyDb, buildGoBinary, buildRpmdb, buildSpringBootJar, buildZip, pomProperties, tempDir, APK_INSTALLED, RPM_EXPECTED, RPM_SPECS } from './fixtures.js';

const missing = async (cmd: string, pkg: string) => !(await hasCommand(cmd)) && `${cmd} is not installed (apt-get install ${pkg})`;
const NO_RPM = await missing('rpmbuild', 'rpm');
const NO_DB_LOAD = await missing('db5.3_load', 'db5.3-util');
const NO_GO = await missing('go', 'golang-go');
const NO_ZIP = await missing('zip', 'zip');

describe('os-release', () => {
  test('reads quoted and unquoted fields', () => {
    const os = parseOsRelease(
      'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nNAME="Debian GNU/Linux"\nVERSION_ID="12"\nVERSION_CODENAME=bookworm\nID=debian\nID_LIKE=\'rhel fedora\'\n',
    );
    assert.deepEqual(os, { id: 'debian', versionId: '12', versionCodename: 'bookworm', prettyName: 'Debian GNU/Linux 12 (bookworm)', idLike: ['rhel', 'fedora'] });
  });

  test("this machine's os-release", async () => {
    const os = parseOsRelease(await readFile('/etc/os-release', 'utf8'));
    assert.equal(os?.id, 'debian');
    assert.match(os?.versionId ?? '', /^\d+$/);
  });

  test('no ID: no OS release', () => {
    assert.equal(parseOsRelease('NAME=thing\n'), undefined);
  });
});

describe('dpkg status', () => {
  test("this machine's /var/lib/dpkg/status: every installed package, versions as dpkg-query reports them", async () => {
    const snapshot = await dpkgSnapshot('${db:Status-Abbrev}|${Package}|${Version}|${Architecture}\n');
    const packages = parseDpkgStatus(snapshot.status.toString('utf8'));
    const installed = snapshot.query
      .split('\n')
      .filter((l) => /^[a-z][i]/.test(l))
      .map((l) => l.split('|'));
    assert.ok(installed.length > 50, 'a Debian machine has many packages');
    assert.equal(packages.length, installed.length);
    const byName = new Map(packages.map((p) => [`${p.name}:${p.arch}`, p]));
    for (const [, name, version, arch] of installed) assert.equal(byName.get(`${name}:${arch}`)?.version, version, name);

    const libc6Version = (await run('dpkg-query', ['-W', '-f=${Version}', 'libc6'])).stdout;
    const libc6 = packages.find((p) => p.name === 'libc6');
    assert.equal(libc6?.version, libc6Version);
    assert.equal(libc6?.sourceName, 'glibc');
    assert.equal(libc6?.sourceVersion, libc6Version);
    const dpkg = packages.find((p) => p.name === 'dpkg');
    assert.equal(dpkg?.version, (await run('dpkg-query', ['-W', '-f=${Version}', 'dpkg'])).stdout);
    assert.equal(dpkg?.sourceName, undefined, 'dpkg is its own source package');
  });

  test('only installed packages; Source with and without a version', () => {
    const text = [
      'Package: libssl3\nStatus: install ok installed\nArchitecture: amd64\nSource: openssl\nVersion: 3.0.11-1~deb12u2\n',
      'Package: gone\nStatus: deinstall ok config-files\nVersion: 1.0\n',
      'Package: half\nStatus: install ok half-installed\nVersion: 1.0\n',
      'Package: held\nStatus: hold ok installed\nVersion: 2:1.0-1\nSource: heldsrc (1.0-0.1)\nDescription: multi\n line\n',
    ].join('\n');
    assert.deepEqual(parseDpkgStatus(text), [
      { ecosystem: 'Debian', name: 'libssl3', version: '3.0.11-1~deb12u2', arch: 'amd64', sourceName: 'openssl', sourceVersion: '3.0.11-1~deb12u2' },
      { ecosystem: 'Debian', name: 'held', version: '2:1.0-1', sourceName: 'heldsrc', sourceVersion: '1.0-0.1' },
    ]);
  });

  test('a distroless status.d stanza has no Status field', () => {
    assert.deepEqual(parseDpkgStatus('Package: tzdata\nVersion: 2024a-0+deb12u1\nArchitecture: all\n'), [
      { ecosystem: 'Debian', name: 'tzdata', version: '2024a-0+deb12u1', arch: 'all' },
    ]);
  });
});

describe('apk installed db', () => {
  test('name, version, arch, license and origin of each package; file lines ignored', () => {
    assert.deepEqual(parseApkInstalled(APK_INSTALLED), [
      { ecosystem: 'Alpine', name: 'musl', version: '1.2.4_git20230717-r4', arch: 'x86_64', license: 'MIT', sourceName: 'musl', sourceVersion: '1.2.4_git20230717-r4' },
      { ecosystem: 'Alpine', name: 'libcrypto3', version: '3.1.4-r5', arch: 'x86_64', license: 'Apache-2.0', sourceName: 'openssl', sourceVersion: '3.1.4-r5' },
    ]);
  });
});

const byName = <T extends { name: string }>(a: T[]) => [...a].sort((x, y) => x.name.localeCompare(y.name));

describe('rpmdb', { skip: NO_RPM }, () => {
  test('rpmdb.sqlite written by rpm: header blobs parsed to name, epoch:version-release, arch, license, source rpm', async () => {
    const db = await buildRpmdb(RPM_SPECS);
    assert.deepEqual(byName(await parseRpmdb(db)), RPM_EXPECTED);
  });

  test('BerkeleyDB Packages (db5.3_load) with the same headers, and a counter record that is not a header', { skip: NO_DB_LOAD }, async () => {
    const blobs = await sqliteHeaderBlobs(await buildRpmdb(RPM_SPECS));
    // A large filler value spans several overflow pages; a small one stays on the hash page.
    const bdb = await buildBerkeleyDb([...blobs, Buffer.from([2, 0, 0, 0]), Buffer.alloc(70_000, 0xab)]);
    const read = berkeleyHeaderBlobs(bdb);
    assert.equal(read.length, blobs.length + 2);
    for (const b of blobs) assert.ok(read.some((r) => r.equals(b)), 'every header blob comes back byte for byte');
    assert.ok(read.some((r) => r.length === 70_000 && r.every((x) => x === 0xab)));
    assert.deepEqual(byName(await parseRpmdb(bdb)), RPM_EXPECTED);

    // rpm's own read-only BerkeleyDB backend agrees that this is an rpm database with these packages.
    const { dir, cleanup } = await tempDir('bdb-query');
    try {
      await writeFile(join(dir, 'Packages'), bdb);
      const q = await run('rpm', ['--dbpath', dir, '--define', '_db_backend bdb_ro', '-qa', '--qf', '%{NAME} %{EPOCHNUM}:%{VERSION}-%{RELEASE}\\n']);
      assert.deepEqual(q.stdout.trim().split('\n').sort(), ['scan-fixture-lib 2:1.2.3-4.fc39', 'scan-fixture-tool 0:0.9-1.el9']);
    } finally {
      await cleanup();
    }
  });

  test('ndb Packages.db layout (slots pointing at blobs)', async () => {
    const blobs = await sqliteHeaderBlobs(await buildRpmdb(RPM_SPECS));
    const pages = [Buffer.alloc(4096)];
    const head = pages[0]!;
    head.write('RpmP', 0, 'latin1');
    head.writeUInt32LE(0, 4);
    head.writeUInt32LE(1, 8);
    head.writeUInt32LE(1, 12); // one slot page
    let block = 4096 / 16;
    blobs.forEach((blob, i) => {
      const slot = 32 + i * 16;
      const blobBytes = Buffer.alloc(Math.ceil((16 + blob.length) / 16) * 16);
      head.write('Slot', slot, 'latin1');
      head.writeUInt32LE(i + 1, slot + 4);
      head.writeUInt32LE(block, slot + 8);
      head.writeUInt32LE(blobBytes.length / 16, slot + 12);
      blobBytes.write('BlbS', 0, 'latin1');
      blobBytes.writeUInt32LE(i + 1, 4);
      blobBytes.writeUInt32LE(blob.length, 12);
      blob.copy(blobBytes, 16);
      pages.push(blobBytes);
      block += blobBytes.length / 16;
    });
    const ndb = Buffer.concat(pages);
    assert.deepEqual(ndbHeaderBlobs(ndb), blobs);
    assert.deepEqual(byName(await parseRpmdb(ndb)), RPM_EXPECTED);
  });
});

describe('rpm header', () => {
  test('source rpm file names', () => {
    assert.deepEqual(parseSourceRpm('bash-5.1.8-6.el9.src.rpm'), { name: 'bash', version: '5.1.8', release: '6.el9' });
    assert.deepEqual(parseSourceRpm('python3-pip-21.3.1-1.fc39.src.rpm'), { name: 'python3-pip', version: '21.3.1', release: '1.fc39' });
    assert.equal(parseSourceRpm('(none)'), undefined);
  });

  test('a truncated header is an error, not a package', () => {
    assert.throws(() => rpmPackageFromHeader(Buffer.from([0, 0, 0, 9, 0, 0, 1, 0])), /beyond the blob/);
  });
});

describe('npm', () => {
  test('package.json: name, version, license', () => {
    assert.deepEqual(parsePackageJson('{"name":"@babel/core","version":"7.24.0","license":"MIT"}'), [{ ecosystem: 'npm', name: '@babel/core', version: '7.24.0', license: 'MIT' }]);
    assert.deepEqual(parsePackageJson('{"name":"no-version"}'), []);
  });

  test('package-lock v3: installed packages, not the root project, workspace folders or links', () => {
    const lock = {
      name: 'app',
      version: '1.0.0',
      lockfileVersion: 3,
      packages: {
        '': { name: 'app', version: '1.0.0' },
        'node_modules/express': { version: '4.18.2', license: 'MIT' },
        'node_modules/express/node_modules/debug': { version: '2.6.9' },
        'node_modules/@types/node': { version: '20.11.0' },
        'node_modules/local-lib': { resolved: 'packages/local-lib', link: true },
        'packages/local-lib': { name: 'local-lib', version: '0.0.1' },
        'node_modules/aliased': { name: 'real-name', version: '3.0.0' },
      },
    };
    assert.deepEqual(parsePackageLock(JSON.stringify(lock)), [
      { ecosystem: 'npm', name: 'express', version: '4.18.2', license: 'MIT' },
      { ecosystem: 'npm', name: 'debug', version: '2.6.9' },
      { ecosystem: 'npm', name: '@types/node', version: '20.11.0' },
      { ecosystem: 'npm', name: 'real-name', version: '3.0.0' },
    ]);
  });
});

describe('python', () => {
  test('METADATA headers; the description body after them is not read as fields', () => {
    const text = 'Metadata-Version: 2.1\nName: requests\nVersion: 2.31.0\nLicense: Apache 2.0\nClassifier: A\nClassifier: B\n\nName: not-this\n# Requests\n';
    assert.deepEqual(parsePythonMetadata(text), [{ ecosystem: 'PyPI', name: 'requests', version: '2.31.0', license: 'Apache 2.0' }]);
  });

  test('PKG-INFO with License-Expression; a multi-line license text is dropped', () => {
    assert.deepEqual(parsePythonMetadata('Metadata-Version: 2.4\nName: Foo_Bar\nVersion: 1.0\nLicense-Expression: MIT\n'), [
      { ecosystem: 'PyPI', name: 'Foo_Bar', version: '1.0', license: 'MIT' },
    ]);
    assert.deepEqual(parsePythonMetadata('Name: x\nVersion: 1\nLicense: Copyright (c)\n        all rights\n'), [{ ecosystem: 'PyPI', name: 'x', version: '1' }]);
  });
});

describe('go binaries', { skip: NO_GO }, () => {
  test('build info of a binary built here: Go version, main module, replaced dependency', async () => {
    const { binary, goVersion } = await buildGoBinary();
    const info = readGoBuildInfo(binary);
    assert.deepEqual(info, {
      goVersion,
      main: { path: 'example.com/scanme', version: '(devel)' },
      deps: [{ path: 'example.com/dep', version: '(devel)' }],
    });
    assert.deepEqual(goPackages(info!), [
      { ecosystem: 'Go', name: 'stdlib', version: stdlibVersion(goVersion) },
      { ecosystem: 'Go', name: 'example.com/scanme', version: '(devel)' },
      { ecosystem: 'Go', name: 'example.com/dep', version: '(devel)' },
    ]);
  });
});

describe('go build info formats', () => {
  const modinfo = 'path\texample.com/cmd\nmod\texample.com/cmd\tv1.0.0\th1:x=\ndep\tgolang.org/x/text\tv0.3.7\th1:y=\ndep\tgithub.com/a/b\tv1.1.0\n=>\tgithub.com/fork/b\tv1.1.1\th1:z=\n';
  const sentinels = (s: string) => Buffer.concat([Buffer.alloc(16, 0x30), Buffer.from(s), Buffer.alloc(16, 0x31)]);
  const expected = {
    goVersion: 'go1.16.15',
    main: { path: 'example.com/cmd', version: 'v1.0.0' },
    deps: [
      { path: 'golang.org/x/text', version: 'v0.3.7' },
      { path: 'github.com/a/b', version: 'v1.1.1' },
    ],
  };

  test('Go 1.18+ inline strings', () => {
    const header = Buffer.alloc(32);
    header.write('\xff Go buildinf:', 0, 'latin1');
    header[14] = 8;
    header[15] = 2;
    const mod = sentinels(modinfo);
    const bin = Buffer.concat([Buffer.from('\x7fELF'), Buffer.alloc(60), header, Buffer.from([9]), Buffer.from('go1.16.15'), Buffer.from([mod.length & 0x7f | 0x80, mod.length >> 7]), mod]);
    assert.deepEqual(readGoBuildInfo(bin), expected);
  });

  test('pre-1.18 pointers to string headers, resolved through the ELF load segment', () => {
    // ELF64 little-endian, one PT_LOAD mapping file offset 0 to address 0x400000.
    const bin = Buffer.alloc(0x400);
    bin.write('\x7fELF', 0, 'latin1');
    bin[4] = 2;
    bin[5] = 1;
    bin.writeBigUInt64LE(64n, 32); // e_phoff
    bin.writeUInt16LE(56, 54);
    bin.writeUInt16LE(1, 56);
    bin.writeUInt32LE(1, 64); // PT_LOAD
    bin.writeBigUInt64LE(0n, 72);
    bin.writeBigUInt64LE(0x400000n, 80);
    bin.writeBigUInt64LE(0x400n, 96);
    const base = 0x400000;
    bin.write('\xff Go buildinf:', 0x100, 'latin1');
    bin[0x100 + 14] = 8;
    bin[0x100 + 15] = 0;
    bin.writeBigUInt64LE(BigInt(base + 0x140), 0x110); // -> version string header
    bin.writeBigUInt64LE(BigInt(base + 0x150), 0x118); // -> modinfo string header
    bin.write('go1.16.15', 0x180);
    bin.writeBigUInt64LE(BigInt(base + 0x180), 0x140);
    bin.writeBigUInt64LE(9n, 0x148);
    const mod = sentinels(modinfo);
    mod.copy(bin, 0x200);
    bin.writeBigUInt64LE(BigInt(base + 0x200), 0x150);
    bin.writeBigUInt64LE(BigInt(mod.length), 0x158);
    assert.deepEqual(readGoBuildInfo(bin), expected);
  });

  test('no magic: not a Go binary', () => {
    assert.equal(readGoBuildInfo(Buffer.concat([Buffer.from('\x7fELF'), Buffer.alloc(4096)])), undefined);
    assert.deepEqual(parseGoModInfo('go1.22.0', ''), { goVersion: 'go1.22.0', deps: [] });
    assert.equal(stdlibVersion('go1.21.5 X:boringcrypto'), 'v1.21.5');
  });
});

describe('java archives', { skip: NO_ZIP }, () => {
  test('pom.properties of a jar and of the jars nested in it', async () => {
    const packages = await parseJavaArchive(await buildSpringBootJar(), 'app/app.jar');
    assert.deepEqual(byName(packages), [
      { ecosystem: 'Maven', name: 'com.acme:app', version: '1.4.0', path: 'app/app.jar' },
      { ecosystem: 'Maven', name: 'org.example:inner-lib', version: '2.0.1', path: 'app/app.jar!/BOOT-INF/lib/inner-lib-2.0.1.jar' },
    ]);
  });

  test('only one level of nesting; a broken nested jar is skipped', async () => {
    const deepest = await buildZip({ 'META-INF/maven/d/deep/pom.properties': pomProperties('d', 'deep', '1') });
    const middle = await buildZip({ 'META-INF/maven/m/middle/pom.properties': pomProperties('m', 'middle', '1'), 'lib/deep.jar': deepest });
    const outer = await buildZip({ 'WEB-INF/lib/middle.jar': middle, 'WEB-INF/lib/broken.jar': 'not a zip' });
    assert.deepEqual(await parseJavaArchive(outer, 'x.war'), [{ ecosystem: 'Maven', name: 'm:middle', version: '1', path: 'x.war!/WEB-INF/lib/middle.jar' }]);
  });

  test('properties syntax', () => {
    assert.deepEqual([...parseProperties('# c\n! c\na=1\nb : 2\n c=x=y\n')], [['a', '1'], ['b', '2'], ['c', 'x=y']]);
  });
});

describe('purls', () => {
  const debian = { id: 'debian', versionId: '12' };
  test('per ecosystem', () => {
    assert.equal(packagePurl({ ecosystem: 'Debian', name: 'libc6', version: '2.36-9+deb12u4', arch: 'amd64' }, debian), 'pkg:deb/debian/libc6@2.36-9%2Bdeb12u4?arch=amd64&distro=debian-12');
    assert.equal(packagePurl({ ecosystem: 'Ubuntu', name: 'bash', version: '5.1-6ubuntu1' }, { id: 'ubuntu', versionId: '22.04' }), 'pkg:deb/ubuntu/bash@5.1-6ubuntu1?distro=ubuntu-22.04');
    assert.equal(packagePurl({ ecosystem: 'Alpine', name: 'musl', version: '1.2.4-r2', arch: 'x86_64' }, { id: 'alpine', versionId: '3.19.1' }), 'pkg:apk/alpine/musl@1.2.4-r2?arch=x86_64&distro=alpine-3.19.1');
    assert.equal(packagePurl({ ecosystem: 'RPM', name: 'curl', version: '1:7.76.1-26.el9', arch: 'x86_64' }, { id: 'rocky', versionId: '9.3' }), 'pkg:rpm/rocky/curl@7.76.1-26.el9?arch=x86_64&distro=rocky-9.3&epoch=1');
    assert.equal(packagePurl({ ecosystem: 'npm', name: '@babel/core', version: '7.24.0' }, undefined), 'pkg:npm/%40babel/core@7.24.0');
    assert.equal(packagePurl({ ecosystem: 'PyPI', name: 'Foo_Bar', version: '1.0' }, undefined), 'pkg:pypi/foo-bar@1.0');
    assert.equal(packagePurl({ ecosystem: 'Go', name: 'github.com/a/b', version: 'v1.2.3' }, undefined), 'pkg:golang/github.com/a/b@v1.2.3');
    assert.equal(packagePurl({ ecosystem: 'Go', name: 'example.com/x', version: '(devel)' }, undefined), 'pkg:golang/example.com/x');
    assert.equal(packagePurl({ ecosystem: 'Maven', name: 'org.apache.logging.log4j:log4j-core', version: '2.14.1' }, undefined), 'pkg:maven/org.apache.logging.log4j/log4j-core@2.14.1');
    // Go versions need not be semver (a vendor build's "v1.2.3.4"): still a purl, no error.
    assert.equal(packagePurl({ ecosystem: 'Go', name: 'k8s.io/x', version: 'v0.0.0-00010101000000-000000000000' }, undefined), 'pkg:golang/k8s.io/x@v0.0.0-00010101000000-000000000000');
    assert.equal(packagePurl({ ecosystem: 'Go', name: 'stdlib', version: 'v1.21rc2' }, undefined), 'pkg:golang/stdlib@v1.21rc2');
  });

  test('the reference parser (packageurl-js) reads back every part', () => {
    const cases: PurlParts[] = [
      { type: 'deb', namespace: 'debian', name: 'libstdc++6', version: '1:12.2.0-14+deb12u1', qualifiers: { distro: 'debian-12', arch: 'amd64' } },
      { type: 'npm', namespace: '@scope', name: 'pkg', version: '1.0.0-beta.1' },
      { type: 'golang', namespace: 'github.com/Azure/go-autorest', name: 'autorest', version: 'v0.11.29+incompatible' },
      { type: 'oci', name: 'app', version: `sha256:${'1'.repeat(64)}`, qualifiers: { repository_url: 'reg.example:5000/team/app', tag: 'v1 rc' } },
      { type: 'maven', namespace: 'org.apache', name: 'commons (lang)', version: '3.12.0' },
    ];
    for (const c of cases) {
      const parsed = PackageURL.fromString(formatPurl(c));
      assert.deepEqual(
        { type: parsed.type, namespace: parsed.namespace ?? undefined, name: parsed.name, version: parsed.version, qualifiers: { ...parsed.qualifiers } },
        { type: c.type, namespace: c.namespace, name: c.name, version: c.version, qualifiers: c.qualifiers ?? {} },
        formatPurl(c),
      );
    }
    assert.equal(formatPurl(cases[0]!), 'pkg:deb/debian/libstdc%2B%2B6@1:12.2.0-14%2Bdeb12u1?arch=amd64&distro=debian-12');
  });
});
