// Hostile layers for the scanner, pushed to a running registry: a gzip bomb (1 GiB of zeros in
// about a megabyte, generated as a stream), a tar whose entry declares gigabytes it does not
// carry, entries that climb out of the root or nest very deep, and a jar whose entry lies
// about its size. Each scan ends (unsupported or done, never stuck) with a clear reason within
// a bound, the registry's memory stays bounded while it reads them, the registry keeps serving,
// and the scanner writes nothing anywhere.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createGzip } from 'node:zlib';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { randomBytes as nodeRandomBytes } from 'node:crypto';
import { pack } from 'tar-stream';
import type { TestRegistry } from '../helpers/registry.js';
import { MediaType, expectStatus, pushBlob, pushManifest, type Descriptor } from '../helpers/oci.js';
import { ADMIN, api, authHeaders, expect, startAuthRegistry } from '../helpers/api.js';
import { buildZip, OCI_LAYER_GZIP, OCI_LAYER_TAR } from '../scan/fixtures.js';

const MiB = 1024 * 1024;
const LAYER_LIMIT = 256 * MiB;
const ESCAPE = `escape-${nodeRandomBytes(4).toString('hex')}`;

/** Gzip of a tar holding one file of `size` zero bytes, produced chunk by chunk (the zeros are never held). */
async function gzipBomb(size: number): Promise<Buffer> {
  const tar = pack();
  const zeros = Buffer.alloc(MiB);
  const parts: Buffer[] = [];
  const gzip = createGzip({ level: 9 });
  gzip.on('data', (c: Buffer) => parts.push(c));
  const done = pipeline(tar, gzip);
  const entry = tar.entry({ name: 'opt/zeros', size });
  for (let written = 0; written < size; written += zeros.length) {
    if (!entry.write(zeros)) await new Promise<void>((r) => entry.once('drain', () => r()));
  }
  (entry as unknown as NodeJS.WritableStream).end();
  tar.finalize();
  await done;
  return Buffer.concat(parts);
}

/** A ustar header for `name` that declares `size` bytes (octal, up to 8 GiB - 1). */
function tarHeader(name: string, size: number, mode = 0o644): Buffer {
  const h = Buffer.alloc(512);
  h.write(name, 0, 100, 'utf8');
  h.write(`${mode.toString(8).padStart(7, '0')}\0`, 100);
  h.write('0000000\0', 108);
  h.write('0000000\0', 116);
  h.write(`${size.toString(8).padStart(11, '0')}\0`, 124);
  h.write('00000000000\0', 136);
  h.write('        ', 148);
  h.write('0', 156);
  h.write('ustar\u000000', 257, 'latin1');
  let sum = 0;
  for (const b of h) sum += b;
  h.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'latin1');
  return h;
}

/** A plain tar of these files, built with tar-stream (long names become PAX headers). */
async function tarOf(files: [string, Buffer][]): Promise<Buffer> {
  const tar = pack();
  const parts: Buffer[] = [];
  (tar as unknown as Readable).on('data', (c: Buffer) => void parts.push(c));
  const ended = new Promise<void>((r) => tar.on('end', () => r()));
  for (const [name, data] of files) tar.entry({ name }, data);
  tar.finalize();
  await ended;
  return Buffer.concat(parts);
}

describe('hostile layers for the scanner', () => {
  let reg: TestRegistry;

  before(async () => {
    reg = await startAuthRegistry({ scan: { enabled: true, pollMs: 50, sbom: false, maxLayerBytes: LAYER_LIMIT } });
  });

  after(async () => {
    await reg?.close();
  });

  async function pushLayerImage(repo: string, layer: Buffer, mediaType: string): Promise<string> {
    const headers = authHeaders(ADMIN);
    const layers: Descriptor[] = [await pushBlob(reg.url, repo, layer, mediaType, headers)];
    const config = await pushBlob(reg.url, repo, Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] } })), MediaType.OciConfig, headers);
    const pushed = await pushManifest(reg.url, repo, 'v1', { schemaVersion: 2, mediaType: MediaType.OciManifest, config, layers }, MediaType.OciManifest, headers);
    return pushed.digest;
  }

  /** Waits for the scan to end; its result, the time it took, and the highest RSS seen meanwhile. */
  async function scanOf(repo: string, boundMs: number): Promise<{ result: Record<string, any>; ms: number; peakRss: number }> {
    const started = Date.now();
    let peakRss = process.memoryUsage().rss;
    for (;;) {
      peakRss = Math.max(peakRss, process.memoryUsage().rss);
      const res = expect(await api(reg, 'GET', `/scan?repository=${repo}&reference=v1`, { as: ADMIN }), 200);
      if (!['queued', 'running', 'not scanned'].includes(res.json['status'])) return { result: res.json, ms: Date.now() - started, peakRss };
      assert.ok(Date.now() - started < boundMs, `the scan of ${repo} did not end within ${boundMs} ms: ${JSON.stringify(res.json).slice(0, 300)}`);
      // Meanwhile the registry serves others.
      await expectStatus(await fetch(`${reg.url}/v2/`, { headers: authHeaders(ADMIN) }), 200);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  test('a gzip bomb: the scan stops at scan.maxLayerBytes with the reason, in bounded time and memory', async () => {
    const bomb = await gzipBomb(1024 * MiB);
    assert.ok(bomb.length < 4 * MiB, `the bomb is ${bomb.length} bytes compressed`);
    const rssBefore = process.memoryUsage().rss;
    await pushLayerImage('hostile/bomb', bomb, OCI_LAYER_GZIP);
    const { result, ms, peakRss } = await scanOf('hostile/bomb', 30_000);
    console.log(`gzip bomb: ${bomb.length} bytes compressed, scan ${result['status']} in ${ms} ms, RSS ${Math.round(rssBefore / MiB)} -> peak ${Math.round(peakRss / MiB)} MiB`);
    assert.equal(result['status'], 'unsupported', JSON.stringify(result).slice(0, 300));
    assert.match(String(result['error']), /more than 268435456 bytes uncompressed/);
    assert.ok(peakRss - rssBefore < 200 * MiB, `RSS grew by ${Math.round((peakRss - rssBefore) / MiB)} MiB`);
  });

  test('a tar entry that declares 8 GiB and carries a few bytes: the scan ends unsupported, saying why', async () => {
    const layer = Buffer.concat([tarHeader('etc/os-release', 8 * 1024 ** 3 - 1), Buffer.from('ID=debian\n'.padEnd(512, '\0'))]);
    await pushLayerImage('hostile/declared', layer, OCI_LAYER_TAR);
    const { result, ms } = await scanOf('hostile/declared', 15_000);
    assert.equal(result['status'], 'unsupported', JSON.stringify(result).slice(0, 300));
    assert.match(String(result['error']), /cannot read the layer as tar/);
    assert.ok(ms < 15_000);
    // An executable declaring 8 GiB (read by the Go extractor, which truncates): memory stays bounded all the same.
    const binary = Buffer.concat([tarHeader('usr/bin/app', 8 * 1024 ** 3 - 1, 0o755), Buffer.from('\x7fELF'.padEnd(1024, '\0'))]);
    await pushLayerImage('hostile/declared-binary', binary, OCI_LAYER_TAR);
    const second = await scanOf('hostile/declared-binary', 15_000);
    assert.equal(second.result['status'], 'unsupported');
  });

  test('entries that climb out of the root, absolute paths and very deep nesting: read as image paths, nothing written', async () => {
    const osRelease = Buffer.from('ID=alpine\nVERSION_ID=3.19.0\n');
    const deep = `${'d/'.repeat(20_000)}node_modules/deep/package.json`;
    const layer = await tarOf([
      [`../../../../../../tmp/${ESCAPE}/etc/os-release`, osRelease],
      [`/${ESCAPE}/x`, Buffer.from('x')],
      [deep, Buffer.from(JSON.stringify({ name: 'deep', version: '1.0.0' }))],
    ]);
    await pushLayerImage('hostile/paths', layer, OCI_LAYER_TAR);
    const { result, ms } = await scanOf('hostile/paths', 15_000);
    console.log(`traversal and deep paths: scan ${result['status']} in ${ms} ms`);
    assert.equal(result['status'], 'done', JSON.stringify(result).slice(0, 300));
    for (const dir of [tmpdir(), '/', reg.dataDir]) assert.equal(await stat(join(dir, ESCAPE)).then(() => true, () => false), false, `${dir}/${ESCAPE} exists`);
  });

  test('a jar whose entry lies about its size: skipped, the scan goes on', async () => {
    const jar = await buildZip({ 'META-INF/maven/org.example/lib/pom.properties': 'groupId=org.example\nartifactId=lib\nversion=1.0.0\n', 'BOOT-INF/lib/inner.jar': Buffer.alloc(4 * MiB) });
    // Shrink the declared uncompressed size of the inner jar (central directory and local header) to 10 bytes.
    const lying = Buffer.from(jar);
    for (let at = lying.indexOf('PK\x01\x02'); at >= 0; at = lying.indexOf('PK\x01\x02', at + 4)) {
      if (lying.toString('latin1', at + 46, at + 46 + lying.readUInt16LE(at + 28)).endsWith('inner.jar')) lying.writeUInt32LE(10, at + 24);
    }
    const layer = await tarOf([['app/app.jar', lying]]);
    await pushLayerImage('hostile/jar', layer, OCI_LAYER_TAR);
    const { result } = await scanOf('hostile/jar', 15_000);
    assert.equal(result['status'], 'done', JSON.stringify(result).slice(0, 300));
  });

  test('the registry still serves, and holds only the images pushed', async () => {
    const catalog = (await (await fetch(`${reg.url}/v2/_catalog`, { headers: authHeaders(ADMIN) })).json()) as { repositories: string[] };
    assert.deepEqual(catalog.repositories, ['hostile/bomb', 'hostile/declared', 'hostile/declared-binary', 'hostile/jar', 'hostile/paths']);
  });
});
