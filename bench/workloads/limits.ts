// The machine's own limits, measured next to the registries in every round: nginx serving the
// very file the registry stores for the blob GET blob (sendfile, no copies through user space),
// with the same client, streams and duration; and how fast one core hashes it (sha256sum, and
// Node's crypto, which the registry uses while it receives an upload); and how fast the disk
// under the registry's data dir takes an upload's worth of bytes, with and without the flush a
// durable upload needs (Distribution never flushes; the registry must before it acknowledges).
import { createHash } from 'node:crypto';
import { createReadStream, readdirSync, rmSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { startNginx } from '../lib/baselines.js';
import { Client } from '../lib/http.js';
import { run } from '../lib/proc.js';
import { fmt, measure, mibLabel, serverNotes, type BenchContext, type Row } from '../lib/context.js';
import { blobGet, blobGetData, curlDownloads, CURL_RUNS, downloads, hasCurl } from './blob-get.js';

/** The file the registry under test stores the blob in (its data dir, searched by digest). */
function storedFile(dataDir: string, hex: string, size: number): string | undefined {
  const hit = readdirSync(dataDir, { recursive: true, encoding: 'utf8' }).find((p) => basename(p) === hex);
  if (hit === undefined) return undefined;
  const path = join(dataDir, hit);
  return statSync(path).size === size ? path : undefined;
}

export async function limits(ctx: BenchContext): Promise<Row[]> {
  const { blobGetSize: size, blobGetSeconds: seconds, blobGetMaxDownloads: maxCount } = ctx.settings;
  const data = blobGetData(ctx.settings);
  const hex = data.digest().slice('sha256:'.length);
  let file = storedFile(ctx.registryDataDir, hex, size);
  if (file === undefined) {
    // --only limits: push the blob first, as the blob GET workload would.
    ctx.log('limits: the blob GET blob is not stored yet; pushing it');
    await blobGet({ ...ctx, settings: { ...ctx.settings, blobGetSeconds: 0 } });
    file = storedFile(ctx.registryDataDir, hex, size);
    if (file === undefined) throw new Error(`limits: no file named ${hex} in ${ctx.registryDataDir}`);
  }
  const rows: Row[] = [];
  const nginx = await startNginx(dirname(file), ctx.tmp);
  const client = new Client(nginx.url, 16);
  try {
    for (const streams of [1, 8]) {
      ctx.log(`nginx: the same blob file, ${streams} stream(s) for ${seconds} s`);
      const m = await measure(nginx, () => downloads(client, `/${hex}`, size, streams, seconds, maxCount));
      rows.push({
        workload: `nginx, same blob file, ${streams} stream${streams > 1 ? 's' : ''}`,
        value: m.result.bytes / 1e6 / m.seconds,
        unit: 'MB/s',
        notes: `${m.result.count} x ${mibLabel(size)} in ${fmt(m.seconds)} s; 1 worker, sendfile; nginx ${serverNotes(m, { client: true })}`,
      });
    }
    if (await hasCurl()) {
      ctx.log(`nginx: the same blob file with curl, ${CURL_RUNS} downloads`);
      const m = await measure(nginx, () => curlDownloads(`${nginx.url}/${hex}`, size));
      rows.push({
        workload: 'nginx, same blob file, 1 stream (curl cross-check)',
        value: m.result / 1e6 / m.seconds,
        unit: 'MB/s',
        notes: `${CURL_RUNS} x ${mibLabel(size)} in ${fmt(m.seconds)} s, includes curl start-up`,
      });
    }
  } finally {
    client.close();
    await nginx.stop();
  }
  ctx.log('sha256sum of the blob file');
  await run('cat', [file], { timeoutMs: 60_000 }); // into the page cache, as for the downloads
  const sum = await run('sha256sum', [file], { timeoutMs: 120_000 });
  if (sum.code !== 0 || !sum.stdout.startsWith(hex)) throw new Error(`sha256sum failed or disagrees: ${sum.stdout.slice(0, 100)} ${sum.stderr.slice(-200)}`);
  rows.push({ workload: 'sha256sum of the blob file', value: size / 1e6 / (sum.ms / 1000), unit: 'MB/s', notes: `${mibLabel(size)} from the page cache in ${fmt(sum.ms / 1000)} s, includes process start` });
  const started = performance.now();
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file, { highWaterMark: 1024 * 1024 })) hash.update(chunk as Buffer);
  const nodeSeconds = (performance.now() - started) / 1000;
  if (hash.digest('hex') !== hex) throw new Error('node:crypto sha256 disagrees with the digest');
  rows.push({ workload: 'node:crypto sha256 of the blob file', value: size / 1e6 / nodeSeconds, unit: 'MB/s', notes: 'read in 1 MiB chunks, as the registry hashes uploads: the ceiling of one upload stream' });
  rows.push(...(await diskWrites(ctx)));
  return rows;
}

/** dd of one upload's size into the registry's data dir: into the page cache, and flushed to the disk. */
async function diskWrites(ctx: BenchContext): Promise<Row[]> {
  const size = ctx.settings.uploadSize;
  const target = join(ctx.registryDataDir, 'bench-disk-limit');
  const rows: Row[] = [];
  try {
    for (const durable of [false, true]) {
      ctx.log(`disk: dd ${mibLabel(size)} into the data dir${durable ? ', flushed (conv=fdatasync)' : ''}`);
      const args = ['if=/dev/zero', `of=${target}`, 'bs=1M', `count=${Math.round(size / (1024 * 1024))}`, ...(durable ? ['conv=fdatasync'] : [])];
      const dd = await run('dd', args, { timeoutMs: 300_000 });
      if (dd.code !== 0) throw new Error(`dd failed: ${dd.stderr.slice(-200)}`);
      rows.push({
        workload: durable ? 'disk write + fdatasync, upload size (durable)' : 'disk write, upload size (page cache)',
        value: size / 1e6 / (dd.ms / 1000),
        unit: 'MB/s',
        notes: durable ? 'the ceiling of an upload acknowledged only once on disk' : 'the ceiling of an upload never flushed (Distribution)',
      });
      rmSync(target, { force: true });
    }
  } finally {
    rmSync(target, { force: true });
  }
  return rows;
}
