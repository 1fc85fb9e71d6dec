// Blob pushes: monolithic (POST, then PUT ?digest= with the whole body streamed) and chunked (PATCH
// chunks with Content-Range, then PUT ?digest=). Contents are generated on the fly; the
// monolithic digest is computed before the timed part, the chunked one while sending.
import { PatternData } from '../lib/data.js';
import { pushChunked, pushMonolithic } from '../lib/http.js';
import { fmt, measure, median, mibLabel, serverNotes, type BenchContext, type Measured, type Row } from '../lib/context.js';

function summarise(workload: string, size: number, runs: Measured<unknown>[], extra: string): Row {
  const rates = runs.map((m) => size / 1e6 / m.seconds);
  const peak = runs.map((m) => m.serverPeakRss).filter((v): v is number => v !== undefined);
  const worstPeak = peak.length ? Math.max(...peak) : undefined;
  const avg = (f: (m: Measured<unknown>) => number) => runs.reduce((a, m) => a + f(m), 0) / runs.length;
  const cpu = { ...runs[0]!, serverCpuPercent: avg((m) => m.serverCpuPercent), clientCpuPercent: avg((m) => m.clientCpuPercent), serverPeakRss: worstPeak };
  return {
    workload,
    value: median(rates),
    unit: 'MB/s',
    notes: [
      `median of ${runs.length} x ${mibLabel(size)}${extra}: ${rates.map(fmt).join(', ')} MB/s`,
      `mean ${serverNotes(cpu, { client: true })}`,
    ].join('; '),
  };
}

export async function uploads(ctx: BenchContext): Promise<Row[]> {
  const { uploadSize: size, uploadRuns: runs, chunkSize } = ctx.settings;
  const repo = 'bench/uploads';
  const mono: Measured<unknown>[] = [];
  for (let i = 0; i < runs; i++) {
    const data = new PatternData(`mono-${ctx.round}-${i}`, size);
    data.digest(); // untimed
    ctx.log(`monolithic upload ${i + 1}/${runs} (${mibLabel(size)})`);
    mono.push(await measure(ctx.registry, () => pushMonolithic(ctx.client, repo, data)));
  }
  const chunked: Measured<unknown>[] = [];
  for (let i = 0; i < runs; i++) {
    const data = new PatternData(`chunked-${ctx.round}-${i}`, size);
    ctx.log(`chunked upload ${i + 1}/${runs} (${mibLabel(size)} in ${mibLabel(chunkSize)} PATCHes)`);
    chunked.push(await measure(ctx.registry, () => pushChunked(ctx.client, repo, data, chunkSize)));
  }
  return [
    summarise('monolithic upload (POST + PUT ?digest=)', size, mono, ''),
    summarise(`chunked upload (PATCH ${mibLabel(chunkSize)} + PUT)`, size, chunked, ', client hashes while sending'),
  ];
}
