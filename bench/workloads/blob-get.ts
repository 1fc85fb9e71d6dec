// Blob pulls: one blob pushed first, then downloaded over and over (body discarded, length
// checked) by 1 and by 8 concurrent streams, each for a bounded time and count.
import { PatternData } from '../lib/data.js';
import { expectStatus, pushMonolithic, type Client } from '../lib/http.js';
import { run } from '../lib/proc.js';
import { fmt, measure, mibLabel, serverNotes, type BenchContext, type Row } from '../lib/context.js';

/** Download `path` over and over from `streams` keep-alive streams until the time or count runs out. */
export async function downloads(client: Client, path: string, size: number, streams: number, seconds: number, maxCount: number): Promise<{ count: number; bytes: number }> {
  const deadline = performance.now() + seconds * 1000;
  let started = 0;
  let bytes = 0;
  const worker = async () => {
    while (performance.now() < deadline && started < maxCount) {
      started++;
      const res = await client.request('GET', path, { discard: true, timeoutMs: 120_000 });
      expectStatus(res, 200, 'blob GET');
      if (res.bytes !== size) throw new Error(`blob GET returned ${res.bytes} bytes, expected ${size}`);
      bytes += res.bytes;
    }
  };
  await Promise.all(Array.from({ length: streams }, worker));
  return { count: started, bytes };
}

export const CURL_RUNS = 3;

export async function hasCurl(): Promise<boolean> {
  return (await run('curl', ['--version'], { timeoutMs: 10_000 }).catch(() => undefined))?.code === 0;
}

/** Download `url` CURL_RUNS times, one after the other, with curl; returns the bytes. */
export async function curlDownloads(url: string, size: number): Promise<number> {
  let bytes = 0;
  for (let i = 0; i < CURL_RUNS; i++) {
    const r = await run('curl', ['-sS', '--fail', '-o', '/dev/null', '-w', '%{size_download}', url], { timeoutMs: 120_000 });
    if (r.code !== 0 || Number(r.stdout) !== size) throw new Error(`curl download failed (${r.code}): ${r.stderr.slice(-300)}`);
    bytes += size;
  }
  return bytes;
}

/** The blob every round and target downloads (the same bytes, so nginx can serve its file). */
export function blobGetData(settings: BenchContext['settings']): PatternData {
  return new PatternData('blob-get', settings.blobGetSize);
}

export async function blobGet(ctx: BenchContext): Promise<Row[]> {
  const { blobGetSize: size, blobGetSeconds: seconds, blobGetMaxDownloads: maxCount } = ctx.settings;
  const repo = 'bench/blobs';
  const data = blobGetData(ctx.settings);
  const path = `/v2/${repo}/blobs/${data.digest()}`;
  if ((await ctx.client.request('HEAD', path)).status !== 200) {
    ctx.log(`blob GET: pushing a ${mibLabel(size)} blob`);
    await pushMonolithic(ctx.client, repo, data);
  }
  await downloads(ctx.client, path, size, 1, 0, 1); // warm-up: one untimed download
  const rows: Row[] = [];
  for (const streams of [1, 8]) {
    ctx.log(`blob GET: ${streams} stream(s) for ${seconds} s`);
    const m = await measure(ctx.registry, () => downloads(ctx.client, path, size, streams, seconds, maxCount));
    rows.push({
      workload: `blob GET, ${streams} stream${streams > 1 ? 's' : ''}`,
      value: m.result.bytes / 1e6 / m.seconds,
      unit: 'MB/s',
      notes: `${m.result.count} x ${mibLabel(size)} in ${fmt(m.seconds)} s; ${serverNotes(m, { client: true })}`,
    });
  }
  // The Node client costs about as much CPU as the server; curl shows what one stream can do
  // with a cheaper client. Optional: skipped when curl is not installed.
  if (await hasCurl()) {
    ctx.log(`blob GET: 1 stream with curl (cross-check), ${CURL_RUNS} downloads`);
    const m = await measure(ctx.registry, () => curlDownloads(`${ctx.registry.url}${path}`, size));
    rows.push({
      workload: 'blob GET, 1 stream (curl cross-check)',
      value: m.result / 1e6 / m.seconds,
      unit: 'MB/s',
      notes: `${CURL_RUNS} x ${mibLabel(size)} in ${fmt(m.seconds)} s, includes curl start-up; ${serverNotes(m)}`,
    });
  }
  return rows;
}
