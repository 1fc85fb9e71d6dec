// Manifest GET and HEAD by tag with wrk at several connection counts: requests/s and latency
// percentiles (wrk --latency). A Lua script sets the method and the Accept header.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { PatternData } from '../lib/data.js';
import { expectStatus, pushImage, OCI_MANIFEST } from '../lib/http.js';
import { run, type RegistryProcess } from '../lib/proc.js';
import { loadgen } from '../lib/loadgen.js';
import { fmt, measure, serverNotes, type BenchContext, type Row } from '../lib/context.js';

export const ACCEPT = [OCI_MANIFEST, 'application/vnd.oci.image.index.v1+json', 'application/vnd.docker.distribution.manifest.v2+json', 'application/vnd.docker.distribution.manifest.list.v2+json'].join(', ');

export interface WrkResult {
  requestsPerSecond: number;
  requests: number;
  /** Percentile -> milliseconds. */
  latencyMs: Record<string, number>;
  non2xx: number;
  socketErrors: number;
}

function toMs(value: string, unit: string): number {
  const n = Number(value);
  switch (unit) {
    case 'us':
      return n / 1000;
    case 'ms':
      return n;
    case 's':
      return n * 1000;
    case 'm':
      return n * 60_000;
    default:
      throw new Error(`unknown wrk time unit ${unit}`);
  }
}

export function parseWrk(output: string): WrkResult {
  const rps = /Requests\/sec:\s+([\d.]+)/.exec(output);
  const total = /(\d+) requests in/.exec(output);
  if (!rps || !total) throw new Error(`cannot parse wrk output: ${output.slice(0, 1000)}`);
  const latencyMs: Record<string, number> = {};
  for (const m of output.matchAll(/^\s+(50|75|90|99)%\s+([\d.]+)(us|ms|s|m)\s*$/gm)) latencyMs[`p${m[1]}`] = toMs(m[2]!, m[3]!);
  const non2xx = Number(/Non-2xx or 3xx responses:\s+(\d+)/.exec(output)?.[1] ?? 0);
  const sock = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(output);
  const socketErrors = sock ? sock.slice(1).reduce((a, b) => a + Number(b), 0) : 0;
  return { requestsPerSecond: Number(rps[1]), requests: Number(total[1]), latencyMs, non2xx, socketErrors };
}

function rows(label: string, tool: string, r: { requestsPerSecond: number; requests: number; latencyMs: Record<string, number>; non2xx: number; errors: number }, seconds: number, server: string): Row[] {
  const problems = [];
  if (r.non2xx) problems.push(`${r.non2xx} non-2xx responses`);
  if (r.errors) problems.push(`${r.errors} socket errors`);
  return [
    {
      workload: `${label}, rate`,
      value: r.requestsPerSecond,
      unit: 'req/s',
      notes: [`${tool}: ${r.requests} requests in ${fmt(seconds)} s`, server, ...problems].join('; '),
      ...(problems.length ? { flagged: true } : {}),
    },
    {
      workload: `${label}, p99`,
      value: r.latencyMs['p99'] ?? null,
      unit: 'ms',
      notes: `p50 ${fmt(r.latencyMs['p50'] ?? NaN)} ms, p90 ${fmt(r.latencyMs['p90'] ?? NaN)} ms`,
    },
  ];
}

/** wrk with a Lua script against `url`, measuring `registry` (the one serving `url`) around it. */
export async function runWrk(registry: RegistryProcess, script: string, url: string, connections: number, seconds: number) {
  // One wrk thread: the machine has few cores and the registry needs them more than wrk.
  const args = ['-t1', `-c${connections}`, `-d${seconds}s`, '--timeout', '10s', '--latency', '-s', script, url];
  const m = await measure(registry, () => run('wrk', args, { timeoutMs: (seconds + 30) * 1000 }));
  if (m.result.code !== 0) throw new Error(`wrk exited with ${m.result.code}: ${m.result.stderr.slice(-500)}`);
  const r = parseWrk(m.result.stdout);
  return { m, r: { ...r, errors: r.socketErrors } };
}

export async function manifestWrk(ctx: BenchContext): Promise<Row[]> {
  const repo = 'bench/manifests';
  const tag = 'latest';
  await pushImage(ctx.client, repo, tag, [new PatternData('manifest-l0', 1024).bytes(), new PatternData('manifest-l1', 2048).bytes()]);
  const path = `/v2/${repo}/manifests/${tag}`;
  const url = `${ctx.registry.url}${path}`;
  const { hostname, port } = new URL(ctx.registry.url);
  // Sanity check of what the load generators will hammer.
  const check = await ctx.client.request('GET', path, { headers: { Accept: ACCEPT } });
  expectStatus(check, 200, 'manifest GET');
  const head = await ctx.client.request('HEAD', path, { headers: { Accept: ACCEPT } });
  expectStatus(head, 200, 'manifest HEAD');
  if (head.headers['content-length'] !== String(check.body.length)) throw new Error('manifest HEAD: Content-Length differs from GET');

  const script = join(ctx.tmp, 'manifest-get.lua');
  await writeFile(script, `wrk.method = "GET"\nwrk.headers["Accept"] = "${ACCEPT}"\n`);
  const { manifestSeconds: seconds, manifestConnections } = ctx.settings;
  ctx.log(`manifest: ${ctx.settings.manifestWarmupSeconds} s untimed warm-up`);
  await runWrk(ctx.registry, script, url, 16, ctx.settings.manifestWarmupSeconds);

  const out: Row[] = [];
  for (const connections of manifestConnections) {
    ctx.log(`manifest GET (wrk): ${connections} connection(s) for ${seconds} s`);
    const { m, r } = await runWrk(ctx.registry, script, url, connections, seconds);
    out.push(...rows(`manifest GET, ${connections} conn`, 'wrk', r, seconds, serverNotes(m)));
  }
  const load = (method: 'GET' | 'HEAD', connections: number) =>
    measure(ctx.registry, () => loadgen({ host: hostname, port: Number(port), method, path, headers: { Accept: ACCEPT }, connections, seconds }));
  for (const connections of manifestConnections) {
    // wrk cannot do HEAD (it waits for a body the size of Content-Length); see lib/loadgen.ts.
    ctx.log(`manifest HEAD (node loadgen): ${connections} connection(s) for ${seconds} s`);
    const m = await load('HEAD', connections);
    out.push(...rows(`manifest HEAD, ${connections} conn`, 'node loadgen', m.result, m.result.seconds, serverNotes(m, { client: true })));
  }
  // The same load generator on GET, to show how its figures compare with wrk's: on a loaded
  // machine wrk's own thread is descheduled too, and its p99 grows with it.
  for (const connections of manifestConnections.filter((c) => c > 1)) {
    ctx.log(`manifest GET (node loadgen, cross-check of wrk): ${connections} connections for ${seconds} s`);
    const cross = await load('GET', connections);
    out.push(...rows(`manifest GET, ${connections} conn (loadgen cross-check)`, 'node loadgen', cross.result, cross.result.seconds, serverNotes(cross, { client: true })));
  }
  return out;
}
