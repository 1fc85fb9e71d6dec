// inventoryImage over fixture layers built here: real package databases in gzip, plain and
// docker layers; OCI whiteouts, opaque directories and replacements across layers; caps and
// unsupported compression.
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as zlib from 'node:zlib';
import { PackageURL } from 'packageurl-js';
import { pack } from 'tar-stream';
import { type ImageLayer, inventoryImage, LayerFormatError } from '../../src/scan/inventory/index.js';
import type { InstalledPackage } from '../../src/scan/model.js';
import { hasCommand, run } from '../helpers/exec.js';
import {
  APK_INSTALLED,
  buildGoBinary,
  buildLayer,
  buildRpmdb,
  buildSpringBootJar,
  dpkgSnapshot,
  DOCKER_LAYER,
  type FixtureLayer,
  layerOf,
  OCI_LAYER_TAR,
  RPM_SPECS,
  tempDir,
} from './fixtures.js';

const NO_TOOLS = !(await hasCommand('go')) || !(await hasCommand('zip')) ? 'needs go (apt-get install golang-go) and zip' : false;
const NO_ZSTD = !(await hasCommand('zstd')) && 'zstd is not installed (apt-get install zstd)';
const NO_RPM = !(await hasCommand('rpmbuild')) && 'rpm/rpmbuild are not installed (apt-get install rpm)';

async function* stream(layers: ImageLayer[]): AsyncGenerator<ImageLayer> {
  yield* layers;
}

const sortPackages = (p: InstalledPackage[]) => [...p].sort((a, b) => `${a.ecosystem}/${a.name}/${a.path}`.localeCompare(`${b.ecosystem}/${b.name}/${b.path}`));

function metadata(name: string, version: string, body = ''): string {
  return `Metadata-Version: 2.1\nName: ${name}\nVersion: ${version}\nSummary: fixture\n\n${body}`;
}

describe('a Debian image with language packages', { skip: NO_TOOLS }, () => {
  let go: { binary: Buffer; goVersion: string };
  let jar: Buffer;
  before(async () => {
    go = await buildGoBinary();
    jar = await buildSpringBootJar();
  });

  test('dpkg packages from the real status file, npm, PyPI, Go and Maven packages with their layers and purls', async () => {
    const osRelease = await readFile('/etc/os-release', 'utf8');
    const snapshot = await dpkgSnapshot('${db:Status-Abbrev}\n');
    const status = snapshot.status;
    const base = await buildLayer({
      'etc/os-release': { symlink: '../usr/lib/os-release' },
      'usr/lib/os-release': osRelease,
      'var/lib/dpkg/status': status,
      'var/lib/dpkg/status-old': status,
      'usr/bin/plain-script': { data: `#!/bin/sh\n${'#'.repeat(100_000)}\n`, mode: 0o755 },
      // An ELF executable that is not a Go program.
      'usr/bin/ls': { data: await readFile('/usr/bin/ls'), mode: 0o755 },
    });
    const app = await buildLayer(
      {
        'app/package-lock.json': JSON.stringify({
          lockfileVersion: 3,
          packages: { '': { name: 'app', version: '1.0.0' }, 'node_modules/express': { version: '4.18.2', license: 'MIT' } },
        }),
        'app/node_modules/express/package.json': JSON.stringify({ name: 'express', version: '4.18.2', license: 'MIT' }),
        'app/node_modules/@types/node/package.json': JSON.stringify({ name: '@types/node', version: '20.11.0' }),
        'app/node_modules/.package-lock.json': JSON.stringify({ lockfileVersion: 3, packages: { 'node_modules/hidden': { version: '1.0.0' } } }),
        'usr/lib/python3/dist-packages/requests-2.31.0.dist-info/METADATA': metadata('requests', '2.31.0'),
        'usr/lib/python3/dist-packages/six-1.16.0.egg-info': metadata('six', '1.16.0'),
        'usr/local/bin/scanme': { data: go.binary, mode: 0o755 },
        'usr/local/share/scanme-copy': { data: go.binary, mode: 0o644 },
        'opt/app/app.jar': jar,
      },
      OCI_LAYER_TAR,
    );
    const inv = await inventoryImage(stream([base, app]));

    assert.equal(inv.os?.id, 'debian');
    const dpkg = inv.packages.filter((p) => p.ecosystem === 'Debian');
    const installed = snapshot.query.split('\n').filter((l) => /^[a-z]i/.test(l));
    assert.equal(dpkg.length, installed.length, 'every installed package, once (status-old is not a database)');
    const libc6Version = (await run('dpkg-query', ['-W', '-f=${Version}', 'libc6'])).stdout;
    assert.deepEqual(
      dpkg.find((p) => p.name === 'libc6'),
      {
        ecosystem: 'Debian',
        name: 'libc6',
        version: libc6Version,
        arch: 'amd64',
        sourceName: 'glibc',
        sourceVersion: libc6Version,
        path: 'var/lib/dpkg/status',
        layer: base.digest,
        purl: `pkg:deb/debian/libc6@${libc6Version.replaceAll('+', '%2B')}?arch=amd64&distro=debian-${inv.os?.versionId}`,
      },
    );
    for (const p of dpkg) {
      const purl = PackageURL.fromString(p.purl);
      assert.deepEqual([purl.type, purl.namespace, purl.name, purl.version, p.layer], ['deb', 'debian', p.name, p.version, base.digest]);
    }

    const stdlib = `v${go.goVersion.slice(2)}`;
    assert.deepEqual(sortPackages(inv.packages.filter((p) => p.ecosystem !== 'Debian')), [
      { ecosystem: 'Go', name: 'example.com/dep', version: '(devel)', path: 'usr/local/bin/scanme', layer: app.digest, purl: 'pkg:golang/example.com/dep' },
      { ecosystem: 'Go', name: 'example.com/scanme', version: '(devel)', path: 'usr/local/bin/scanme', layer: app.digest, purl: 'pkg:golang/example.com/scanme' },
      { ecosystem: 'Go', name: 'stdlib', version: stdlib, path: 'usr/local/bin/scanme', layer: app.digest, purl: `pkg:golang/stdlib@${stdlib}` },
      { ecosystem: 'Maven', name: 'com.acme:app', version: '1.4.0', path: 'opt/app/app.jar', layer: app.digest, purl: 'pkg:maven/com.acme/app@1.4.0' },
      {
        ecosystem: 'Maven',
        name: 'org.example:inner-lib',
        version: '2.0.1',
        path: 'opt/app/app.jar!/BOOT-INF/lib/inner-lib-2.0.1.jar',
        layer: app.digest,
        purl: 'pkg:maven/org.example/inner-lib@2.0.1',
      },
      { ecosystem: 'npm', name: '@types/node', version: '20.11.0', path: 'app/node_modules/@types/node/package.json', layer: app.digest, purl: 'pkg:npm/%40types/node@20.11.0' },
      { ecosystem: 'npm', name: 'express', version: '4.18.2', license: 'MIT', path: 'app/node_modules/express/package.json', layer: app.digest, purl: 'pkg:npm/express@4.18.2' },
      { ecosystem: 'npm', name: 'express', version: '4.18.2', license: 'MIT', path: 'app/package-lock.json', layer: app.digest, purl: 'pkg:npm/express@4.18.2' },
      {
        ecosystem: 'PyPI',
        name: 'requests',
        version: '2.31.0',
        path: 'usr/lib/python3/dist-packages/requests-2.31.0.dist-info/METADATA',
        layer: app.digest,
        purl: 'pkg:pypi/requests@2.31.0',
      },
      { ecosystem: 'PyPI', name: 'six', version: '1.16.0', path: 'usr/lib/python3/dist-packages/six-1.16.0.egg-info', layer: app.digest, purl: 'pkg:pypi/six@1.16.0' },
    ]);
  });
});

describe('whiteouts across layers', () => {
  const site = 'usr/lib/python3.11/site-packages';
  const ALPINE = 'NAME="Alpine Linux"\nID=alpine\nVERSION_ID=3.19.1\nPRETTY_NAME="Alpine Linux v3.19"\n';

  test('deleted, opaque, replaced and re-added paths: only what the top layer still shows counts', async () => {
    const l1 = await buildLayer({
      'etc/os-release': ALPINE,
      'lib/apk/db/installed': APK_INSTALLED,
      [`${site}/a-1.0.dist-info/METADATA`]: metadata('a', '1.0'),
      [`${site}/b-1.0.dist-info/METADATA`]: metadata('b', '1.0'),
      'app/node_modules/x/package.json': JSON.stringify({ name: 'x', version: '1.0.0' }),
      'app/node_modules/y/package.json': JSON.stringify({ name: 'y', version: '1.0.0' }),
      'srv/lib/node_modules/q/package.json': JSON.stringify({ name: 'q', version: '1.0.0' }),
    });
    const l2 = await buildLayer(
      {
        'lib/apk/db/.wh.installed': '',
        [`${site}/.wh.b-1.0.dist-info`]: '',
        [`${site}/a-1.0.dist-info/METADATA`]: metadata('a', '1.1'),
        'app/node_modules/.wh..wh..opq': '',
        'app/node_modules/z/package.json': JSON.stringify({ name: 'z', version: '2.0.0' }),
        // A file where a directory was: everything below that directory is gone.
        'srv/lib': 'now a file',
      },
      DOCKER_LAYER,
    );
    const l3 = await buildLayer({ 'lib/apk/db/installed': APK_INSTALLED.split('\n\n')[0]! }, OCI_LAYER_TAR);

    const inv = await inventoryImage([l1, l2, l3]);
    assert.deepEqual(inv.os, { id: 'alpine', versionId: '3.19.1', prettyName: 'Alpine Linux v3.19' });
    assert.deepEqual(sortPackages(inv.packages), [
      {
        ecosystem: 'Alpine',
        name: 'musl',
        version: '1.2.4_git20230717-r4',
        arch: 'x86_64',
        license: 'MIT',
        sourceName: 'musl',
        sourceVersion: '1.2.4_git20230717-r4',
        path: 'lib/apk/db/installed',
        layer: l3.digest,
        purl: 'pkg:apk/alpine/musl@1.2.4_git20230717-r4?arch=x86_64&distro=alpine-3.19.1',
      },
      { ecosystem: 'npm', name: 'z', version: '2.0.0', path: 'app/node_modules/z/package.json', layer: l2.digest, purl: 'pkg:npm/z@2.0.0' },
      { ecosystem: 'PyPI', name: 'a', version: '1.1', path: `${site}/a-1.0.dist-info/METADATA`, layer: l2.digest, purl: 'pkg:pypi/a@1.1' },
    ]);

    // Without the top layer the apk database stays deleted; without the whiteout layer all of l1 counts.
    assert.equal((await inventoryImage([l1, l2])).packages.filter((p) => p.ecosystem === 'Alpine').length, 0);
    assert.deepEqual(
      sortPackages((await inventoryImage([l1])).packages).map((p) => `${p.name}@${p.version}`),
      ['libcrypto3@3.1.4-r5', 'musl@1.2.4_git20230717-r4', 'q@1.0.0', 'x@1.0.0', 'y@1.0.0', 'a@1.0', 'b@1.0'],
    );
  });

  test("a whiteout hides lower layers only, not its own layer's files", async () => {
    const l1 = await buildLayer({ 'app/node_modules/x/package.json': JSON.stringify({ name: 'x', version: '1.0.0' }) });
    const l2 = await buildLayer({
      'app/node_modules/.wh..wh..opq': '',
      'app/node_modules/x/package.json': JSON.stringify({ name: 'x', version: '2.0.0' }),
    });
    const inv = await inventoryImage([l1, l2]);
    assert.deepEqual(inv.packages.map((p) => [p.name, p.version, p.layer]), [['x', '2.0.0', l2.digest]]);
  });
  test('a path written twice in one layer counts as its last entry', async () => {
    const tar = pack();
    const manifest = (v: string) => JSON.stringify({ name: 'x', version: v });
    tar.entry({ name: 'a/node_modules/x/package.json', mode: 0o644 }, manifest('1.0.0'));
    tar.entry({ name: 'a/node_modules/x/package.json', mode: 0o644 }, manifest('2.0.0'));
    tar.entry({ name: 'b/node_modules/x/package.json', mode: 0o644 }, manifest('1.0.0'));
    tar.entry({ name: 'b/node_modules/x/package.json', type: 'symlink', linkname: '../../a/node_modules/x/package.json' });
    tar.finalize();
    const chunks: Buffer[] = [];
    for await (const c of tar) chunks.push(c as Buffer);
    const inv = await inventoryImage([layerOf(Buffer.concat(chunks), OCI_LAYER_TAR)]);
    assert.deepEqual(inv.packages.map((p) => [p.path, p.version]), [['a/node_modules/x/package.json', '2.0.0']]);
  });
});

describe('an RPM image', { skip: NO_RPM }, () => {
  test('the rpmdb of the highest layer that writes it', async () => {
    const rocky = 'NAME="Rocky Linux"\nVERSION="9.3 (Blue Onyx)"\nID="rocky"\nID_LIKE="rhel centos fedora"\nVERSION_ID="9.3"\n';
    const l1 = await buildLayer({ 'etc/os-release': rocky, 'var/lib/rpm/rpmdb.sqlite': await buildRpmdb(RPM_SPECS) });
    const l2 = await buildLayer({ 'var/lib/rpm/rpmdb.sqlite': await buildRpmdb([RPM_SPECS[0]!]) });
    const inv = await inventoryImage([l1, l2]);
    assert.deepEqual(inv.os?.idLike, ['rhel', 'centos', 'fedora']);
    assert.deepEqual(inv.packages, [
      {
        ecosystem: 'RPM',
        name: 'scan-fixture-lib',
        version: '2:1.2.3-4.fc39',
        arch: 'noarch',
        license: 'MIT',
        sourceName: 'scan-fixture-lib',
        sourceVersion: '2:1.2.3-4.fc39',
        path: 'var/lib/rpm/rpmdb.sqlite',
        layer: l2.digest,
        purl: 'pkg:rpm/rocky/scan-fixture-lib@1.2.3-4.fc39?arch=noarch&distro=rocky-9.3&epoch=2',
      },
    ]);
    assert.equal((await inventoryImage([l1])).packages.length, 2);
  });
});

describe('layer formats and limits', () => {
  test('zstd layers: read where Node has zstd (>= 22.15), else refused with a clear error', { skip: NO_ZSTD }, async () => {
    const plain = await buildLayer({ 'app/node_modules/x/package.json': JSON.stringify({ name: 'x', version: '1.0.0' }) }, OCI_LAYER_TAR);
    const { dir, cleanup } = await tempDir('zstd');
    let zstd: FixtureLayer;
    try {
      await writeFile(join(dir, 'layer.tar'), plain.bytes);
      await run('zstd', ['-q', '-19', join(dir, 'layer.tar'), '-o', join(dir, 'layer.tar.zst')]);
      zstd = layerOf(await readFile(join(dir, 'layer.tar.zst')), 'application/vnd.oci.image.layer.v1.tar+zstd');
    } finally {
      await cleanup();
    }
    const nodeHasZstd = 'createZstdDecompress' in zlib;
    for (const layer of [zstd, { ...zstd, mediaType: OCI_LAYER_TAR }]) {
      if (nodeHasZstd) {
        assert.deepEqual((await inventoryImage([layer])).packages.map((p) => p.purl), ['pkg:npm/x@1.0.0']);
        continue;
      }
      await assert.rejects(inventoryImage([layer]), (err: Error) => {
        assert.ok(err instanceof LayerFormatError);
        assert.match(err.message, /zstd-compressed layers .* need Node\.js >= 22\.15/);
        assert.match(err.message, new RegExp(zstd.digest));
        return true;
      });
    }
  });

  test('a blob that is not a tar is a LayerFormatError', async () => {
    await assert.rejects(inventoryImage([layerOf(zlib.gzipSync(Buffer.alloc(2048, 0x41)), DOCKER_LAYER)]), LayerFormatError);
  });

  test('media types are not trusted for compression: plain tar labelled gzip still reads', async () => {
    const plain = await buildLayer({ 'app/node_modules/x/package.json': JSON.stringify({ name: 'x', version: '1.0.0' }) }, OCI_LAYER_TAR);
    const inv = await inventoryImage([{ ...plain, mediaType: DOCKER_LAYER }]);
    assert.deepEqual(inv.packages.map((p) => p.purl), ['pkg:npm/x@1.0.0']);
  });

  test('files over their cap are skipped and reported; headers-first files are read up to the cap', async () => {
    const huge = JSON.stringify({ name: 'huge', version: '1.0.0', description: 'x'.repeat(2 * 1024 * 1024) });
    const skipped: { path: string; extractor: string; reason: string }[] = [];
    const layer = await buildLayer({
      'app/node_modules/huge/package.json': huge,
      'usr/lib/python3/site-packages/long-1.0.dist-info/METADATA': metadata('long', '1.0', 'y'.repeat(3 * 1024 * 1024)),
    });
    const inv = await inventoryImage([layer], { onSkipped: (s) => skipped.push(s) });
    assert.deepEqual(inv.packages.map((p) => p.purl), ['pkg:pypi/long@1.0']);
    assert.deepEqual(skipped.map((s) => [s.path, s.extractor]), [['app/node_modules/huge/package.json', 'npm-package']]);
    assert.match(skipped[0]!.reason, /larger than 1048576 bytes/);
  });

  test('a corrupt database is reported and the scan goes on', async () => {
    const skipped: string[] = [];
    const layer = await buildLayer({
      'var/lib/rpm/rpmdb.sqlite': 'SQLite format 3\0 but not really a database',
      'app/node_modules/ok/package.json': JSON.stringify({ name: 'ok', version: '1.0.0' }),
      'app/node_modules/bad/package.json': '{ not json',
    });
    const inv = await inventoryImage([layer], { onSkipped: (s) => skipped.push(s.path) });
    assert.deepEqual(inv.packages.map((p) => p.purl), ['pkg:npm/ok@1.0.0']);
    assert.deepEqual(skipped.sort(), ['app/node_modules/bad/package.json', 'var/lib/rpm/rpmdb.sqlite']);
    assert.equal(inv.os, undefined);
  });
});
