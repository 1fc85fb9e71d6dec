// Memory while pushing and then pulling one large blob: a fresh registry per push so nothing
// else contributes to its peak; VmRSS sampled throughout and VmHWM (the kernel's peak) read after.
import { PatternData } from '../lib/data.js';
import { Client, expectStatus, pushChunked, pushMonolithic } from '../lib/http.js';
import { procStatus, sampleRss } from '../lib/proc.js';
import { fmt, mb, mibLabel, type BenchContext, type Row } from '../lib/context.js';

export async function pushRss(ctx: BenchContext): Promise<Row[]> {
  const { rssBlobSize: size, rssTargetBytes: target, chunkSize } = ctx.settings;
  const rows: Row[] = [];
  for (const mode of ['monolithic', 'chunked'] as const) {
    const data = new PatternData(`rss-${mode}`, size);
    if (mode === 'monolithic') {
      ctx.log(`peak RSS: hashing the ${mibLabel(size)} blob first (client side)`);
      data.digest();
    }
    const { registry, release } = await ctx.freshRegistry(`rss-${mode}`);
    const client = new Client(registry.url, 4);
    try {
      const idle = await procStatus(registry.pid);
      ctx.log(`peak RSS: ${mode} push of ${mibLabel(size)} to a fresh registry`);
      const sampler = sampleRss(registry.pid, 50);
      const started = performance.now();
      let digest = '';
      if (mode === 'monolithic') await pushMonolithic(client, 'bench/rss', data);
      else digest = await pushChunked(client, 'bench/rss', data, chunkSize);
      const seconds = (performance.now() - started) / 1000;
      ctx.log(`peak RSS: pulling it back`);
      const pullStarted = performance.now();
      const pulled = await client.request('GET', `/v2/bench/rss/blobs/${mode === 'monolithic' ? data.digest() : digest}`, { discard: true, timeoutMs: 600_000 });
      expectStatus(pulled, 200, 'pull of the pushed blob');
      if (pulled.bytes !== size) throw new Error(`pulled ${pulled.bytes} bytes, pushed ${size}`);
      const pullSeconds = (performance.now() - pullStarted) / 1000;
      const sampled = await sampler.stop();
      const after = await procStatus(registry.pid);
      const over = after.hwm > target;
      rows.push({
        workload: `peak RSS, ${mibLabel(size)} ${mode} push + pull`,
        value: after.hwm / 1e6,
        unit: 'MB',
        notes: [
          `VmHWM; max sampled VmRSS ${mb(sampled.maxRss)} MB (${sampled.samples} samples), idle ${mb(idle.rss)} MB`,
          `push ${fmt(size / 1e6 / seconds)} MB/s, pull ${fmt(size / 1e6 / pullSeconds)} MB/s`,
          over ? `OVER the ${mb(target)} MB target` : `under the ${mb(target)} MB target`,
        ].join('; '),
        ...(over ? { flagged: true } : {}),
      });
    } finally {
      client.close();
      await release();
    }
  }
  return rows;
}
