// Fixture layers and package databases for the scan tests, built from real tools: tar layers
// with the `tar` package, an rpmdb with Debian's rpm/rpmbuild, a BerkeleyDB with db5.3_load,
// a Go binary with `go build`, jars with `zip`.
import { createHash } from 'node:crypto';
import { chmod, mkdir, mkdtemp, readFile, readdir, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { Readable } from 'node:stream';
import { create } from 'tar';
import type { ImageLayer } from '../../src/scan/inventory/index.js';
import { run } from '../helpers/exec.js';

export const OCI_LAYER_GZIP = 'application/vnd.oci.image.layer.v1.tar+gzip';
export const OCI_LAYER_TAR = 'application/vnd.oci.image.layer.v1.tar';
export const DOCKER_LAYER = 'application/vnd.docker.image.rootfs.diff.tar.gzip';

export async function tempDir(prefix: string): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), `scan-${prefix}-`));
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

/** A file to put in a layer: its content, or a symlink, with an optional mode. */
export type TreeEntry = string | Buffer | { data: string | Buffer; mode?: number } | { symlink: string };

export async function writeTree(root: string, files: Record<string, TreeEntry>): Promise<void> {
  for (const [path, entry] of Object.entries(files)) {
    const target = join(root, path);
    await mkdir(dirname(target), { recursive: true });
    if (typeof entry === 'object' && 'symlink' in entry) await symlink(entry.symlink, target);
    else if (typeof entry === 'string' || Buffer.isBuffer(entry)) await writeFile(target, entry);
    else {
      await writeFile(target, entry.data);
      if (entry.mode !== undefined) await chmod(target, entry.mode);
    }
  }
}

export interface FixtureLayer extends ImageLayer {
  bytes: Buffer;
}

/** A layer blob (tar, or tar+gzip) holding the given files; its digest is the sha256 of the blob. */
export async function buildLayer(files: Record<string, TreeEntry>, mediaType = OCI_LAYER_GZIP): Promise<FixtureLayer> {
  const { dir, cleanup } = await tempDir('layer');
  try {
    await writeTree(dir, files);
    const chunks: Buffer[] = [];
    const gzip = /gzip/.test(mediaType);
    for await (const c of create({ cwd: dir, gzip, portable: true }, await readdir(dir))) chunks.push(c as Buffer);
    const bytes = Buffer.concat(chunks);
    return layerOf(bytes, mediaType);
  } finally {
    await cleanup();
  }
}

export function layerOf(bytes: Buffer, mediaType: string): FixtureLayer {
  const digest = `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
  // Small chunks, as a blob store streams them, so entries straddle chunk boundaries.
  const open = async () => Readable.from((function* () {
    for (let i = 0; i < bytes.length; i += 16 * 1024) yield bytes.subarray(i, i + 16 * 1024);
  })());
  return { digest, mediaType, bytes, open };
}

export interface RpmSpec {
  name: string;
  version: string;
  release: string;
  epoch?: number;
  license: string;
  arch?: 'noarch';
}

/** A real rpmdb.sqlite: rpmbuild each package from a spec, then `rpm -i --justdb` into an empty database. */
export async function buildRpmdb(specs: RpmSpec[]): Promise<Buffer> {
  const { dir, cleanup } = await tempDir('rpm');
  try {
    const rpms: string[] = [];
    for (const s of specs) {
      const spec = join(dir, `${s.name}.spec`);
      await writeFile(
        spec,
        [
          `Name: ${s.name}`,
          `Version: ${s.version}`,
          `Release: ${s.release}`,
          ...(s.epoch !== undefined ? [`Epoch: ${s.epoch}`] : []),
          'Summary: scanner fixture',
          `License: ${s.license}`,
          'BuildArch: noarch',
          '%description',
          'A package for the inventory tests.',
          '%files',
          '',
        ].join('\n'),
      );
      await run('rpmbuild', ['--define', `_topdir ${join(dir, 'build')}`, '-bb', spec], { timeoutMs: 60_000 });
      rpms.push(join(dir, 'build', 'RPMS', 'noarch', `${s.name}-${s.version}-${s.release}.noarch.rpm`));
    }
    const db = join(dir, 'db');
    await mkdir(db);
    await run('rpm', ['--dbpath', db, '--initdb'], { timeoutMs: 30_000 });
    await run('rpm', ['--dbpath', db, '-i', '--justdb', '--nodeps', '--ignorearch', '--ignoreos', ...rpms], { timeoutMs: 60_000 });
    return await readFile(join(db, 'rpmdb.sqlite'));
  } finally {
    await cleanup();
  }
}

/** A real BerkeleyDB hash file ("Packages" of rpm < 4.16) holding the given values, written by db5.3_load. */
export async function buildBerkeleyDb(values: Buffer[]): Promise<Buffer> {
  const { dir, cleanup } = await tempDir('bdb');
  try {
    const hex = (b: Buffer) => [...b].map((x) => `\\${x.toString(16).padStart(2, '0')}`).join('');
    const lines: string[] = [];
    values.forEach((v, i) => {
      const key = Buffer.alloc(4);
      key.writeUInt32LE(i + 1);
      lines.push(hex(key), hex(v));
    });
    await writeFile(join(dir, 'dump.txt'), `${lines.join('\n')}\n`);
    const file = join(dir, 'Packages');
    await run('db5.3_load', ['-T', '-t', 'hash', '-f', join(dir, 'dump.txt'), file], { timeoutMs: 30_000 });
    return await readFile(file);
  } finally {
    await cleanup();
  }
}

/**
 * A Go program built with the local toolchain: module example.com/scanme requiring
 * example.com/dep v1.0.0, replaced by a local directory (so the build needs no network).
 */
export async function buildGoBinary(): Promise<{ binary: Buffer; goVersion: string }> {
  const { dir, cleanup } = await tempDir('go');
  try {
    await writeTree(dir, {
      'go.mod': 'module example.com/scanme\n\ngo 1.19\n\nrequire example.com/dep v1.0.0\n\nreplace example.com/dep => ./dep\n',
      'main.go': 'package main\n\nimport (\n\t"fmt"\n\n\t"example.com/dep"\n)\n\nfunc main() { fmt.Println(dep.Hello()) }\n',
      'dep/go.mod': 'module example.com/dep\n\ngo 1.19\n',
      'dep/dep.go': 'package dep\n\nfunc Hello() string { return "hello" }\n',
    });
    const env = { GOFLAGS: '-mod=mod', GOPROXY: 'off', CGO_ENABLED: '0', GOTOOLCHAIN: 'local' };
    await run('go', ['build', '-o', join(dir, 'scanme'), '.'], { cwd: dir, env, timeoutMs: 240_000 });
    const goVersion = (await run('go', ['env', 'GOVERSION'], { env })).stdout.trim();
    return { binary: await readFile(join(dir, 'scanme')), goVersion };
  } finally {
    await cleanup();
  }
}

export function pomProperties(group: string, artifact: string, version: string): string {
  return `#Created by Apache Maven 3.9.6\ngroupId=${group}\nartifactId=${artifact}\nversion=${version}\n`;
}

/** A zip archive (jar) of the given files, written by Debian's `zip`. */
export async function buildZip(files: Record<string, string | Buffer>): Promise<Buffer> {
  const { dir, cleanup } = await tempDir('zip');
  try {
    await writeTree(join(dir, 'root'), files);
    await run('zip', ['-q', '-r', join(dir, 'out.zip'), '.'], { cwd: join(dir, 'root'), timeoutMs: 30_000 });
    return await readFile(join(dir, 'out.zip'));
  } finally {
    await cleanup();
  }
}

/** A Spring Boot style jar: its own pom.properties and a library jar in BOOT-INF/lib with another. */
export async function buildSpringBootJar(): Promise<Buffer> {
  const inner = await buildZip({ 'META-INF/maven/org.example/inner-lib/pom.properties': pomProperties('org.example', 'inner-lib', '2.0.1') });
  return buildZip({
    'META-INF/MANIFEST.MF': 'Manifest-Version: 1.0\n',
    'META-INF/maven/com.acme/app/pom.properties': pomProperties('com.acme', 'app', '1.4.0'),
    'BOOT-INF/classes/App.class': Buffer.from([0xca, 0xfe, 0xba, 0xbe]),
    'BOOT-INF/lib/inner-lib-2.0.1.jar': inner,
  });
}

/** lib/apk/db/installed as apk writes it (abridged checksums). */
export const APK_INSTALLED = [
  'C:Q1u6uR0T8dKXc7lNqbMtMcmRZg5+Q=\nP:musl\nV:1.2.4_git20230717-r4\nA:x86_64\nS:407278\nI:663552\nT:the musl c library (libc) implementation\nU:https://musl.libc.org/\nL:MIT\no:musl\nm:Timo Teräs <timo.teras@iki.fi>\nt:1705409853\nc:8e1c3cd8f2ec1a1a6e4c2f0b0e9a4b5d1e5e8f59\np:so:libc.musl-x86_64.so.1=1\nF:lib\nR:ld-musl-x86_64.so.1\na:0:0:755\nZ:Q1lVMDnGGKcBpHv4c8bMzCPcE0kCY=\nR:libc.musl-x86_64.so.1\na:0:0:777\nZ:Q17yJ3JFNypA4mxhJJr0ou6CzsJVI=\n',
  'C:Q1S9rJ0T8dKXc7lNqbMtMcmRZg5+Q=\nP:libcrypto3\nV:3.1.4-r5\nA:x86_64\nS:1700000\nI:4400000\nT:Crypto library from openssl\nU:https://www.openssl.org/\nL:Apache-2.0\no:openssl\nD:so:libc.musl-x86_64.so.1\nF:usr/lib\nR:libcrypto.so.3\n',
].join('\n');

export const RPM_SPECS: RpmSpec[] = [
  { name: 'scan-fixture-lib', version: '1.2.3', release: '4.fc39', epoch: 2, license: 'MIT' },
  { name: 'scan-fixture-tool', version: '0.9', release: '1.el9', license: 'GPL-2.0-or-later' },
];

/** What the inventory reads from an rpmdb of RPM_SPECS. */
export const RPM_EXPECTED = [
  { ecosystem: 'RPM', name: 'scan-fixture-lib', version: '2:1.2.3-4.fc39', arch: 'noarch', license: 'MIT', sourceName: 'scan-fixture-lib', sourceVersion: '2:1.2.3-4.fc39' },
  { ecosystem: 'RPM', name: 'scan-fixture-tool', version: '0.9-1.el9', arch: 'noarch', license: 'GPL-2.0-or-later', sourceName: 'scan-fixture-tool', sourceVersion: '0.9-1.el9' },
];

/**
 * This machine's dpkg status file and what dpkg-query reports, taken while no package
 * installation changed the database (read, query, read again until both reads agree).
 */
export async function dpkgSnapshot(queryFormat: string): Promise<{ status: Buffer; query: string }> {
  const { run } = await import('../helpers/exec.js');
  for (let attempt = 0; ; attempt++) {
    const status = await readFile('/var/lib/dpkg/status');
    const query = (await run('dpkg-query', ['-W', `-f=${queryFormat}`])).stdout;
    if (status.equals(await readFile('/var/lib/dpkg/status')) || attempt >= 20) return { status, query };
    await new Promise((res) => setTimeout(res, 500));
  }
}
