// `npm run bench [-- --quick]`: start the registry under test as a child process (own temp
// data dir, loopback, random port), run each workload against it, print one table and write
// the same figures as JSON. Options:
//   --quick              smaller sizes and shorter runs (about a minute)
//   --only a,b           run only these workloads (blob-get, manifest, uploads, pushes, rss, skopeo,
//                        scale)
//   --scale              add the scale workload (1M tags; several minutes) to the run; it is
//                        left out otherwise unless named in --only
//   --scale-backends b   metadata backends for the scale workload: sqlite,postgres (default both)
//   --postgres-url <url> PostgreSQL server for the scale workload's throwaway databases (default:
//                        started with scripts/services/start-postgres.sh)
//   --log-level <level>  registry log level (default info, as in production)
//   --json <file>        where to write the JSON (default bench/results/latest.json)
//   --keep               keep the scratch directory (registry data and logs)
//   --registry-cli <js>  benchmark another build's dist/src/cli/main.js (A/B comparisons)
import { cpus, totalmem, release, tmpdir, hostname, loadavg } from 'node:os';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Client } from './lib/http.js';
import { CLI, killAllChildren, run, startRegistry, type RegistryProcess } from './lib/proc.js';
import { fmt, settingsFor, type BenchContext, type Row } from './lib/context.js';
import { blobGet } from './workloads/blob-get.js';
import { manifestWrk } from './workloads/manifest-wrk.js';
import { uploads } from './workloads/uploads.js';
import { concurrentPushes } from './workloads/pushes.js';
import { pushRss } from './workloads/rss.js';
import { skopeo } from './workloads/skopeo.js';
import { scale } from './workloads/scale.js';

const PROJECT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

// `optIn` workloads run only when named in --only (or, for scale, with --scale).
const WORKLOADS: { name: string; title: string; fn: (ctx: BenchContext) => Promise<Row[]>; optIn?: boolean }[] = [
  { name: 'blob-get', title: 'blob GET', fn: blobGet },
  { name: 'manifest', title: 'manifest GET/HEAD', fn: manifestWrk },
  { name: 'pushes', title: 'concurrent pushes', fn: concurrentPushes },
  { name: 'uploads', title: 'blob uploads', fn: uploads },
  { name: 'rss', title: 'peak RSS during a large push', fn: pushRss },
  { name: 'skopeo', title: 'skopeo push/pull', fn: skopeo },
  { name: 'scale', title: 'scale (bulk-seeded registry)', fn: scale, optIn: true },
];

function log(message: string): void {
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${message}\n`);
}

async function toolVersion(cmd: string, args: string[]): Promise<string> {
  try {
    const r = await run(cmd, args, { timeoutMs: 10_000 });
    return (r.stdout + r.stderr).split('\n')[0]!.trim() || 'unknown';
  } catch {
    return 'not installed';
  }
}

function table(rows: Row[]): string {
  const cells = rows.map((r) => [r.workload, r.value === null ? 'n/a' : fmt(r.value), r.unit, (r.flagged ? '!! ' : '') + r.notes]);
  const header = ['workload', 'value', 'unit', 'notes'];
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i]!.length)));
  const line = (c: string[]) => c.map((v, i) => (i === 1 ? v.padStart(widths[i]!) : i === 3 ? v : v.padEnd(widths[i]!))).join('  ');
  return [line(header), widths.map((w, i) => '-'.repeat(i === 3 ? Math.min(w, 60) : w)).join('  '), ...cells.map(line)].join('\n');
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      quick: { type: 'boolean', default: false },
      only: { type: 'string' },
      'log-level': { type: 'string', default: 'info' },
      json: { type: 'string' },
      keep: { type: 'boolean', default: false },
      'registry-cli': { type: 'string' },
      scale: { type: 'boolean', default: false },
      'scale-backends': { type: 'string', default: 'sqlite,postgres' },
      'postgres-url': { type: 'string' },
    },
  });
  const backends = values['scale-backends']!.split(',').map((s) => s.trim()).filter(Boolean);
  const badBackend = backends.find((b) => b !== 'sqlite' && b !== 'postgres');
  if (badBackend !== undefined || backends.length === 0) throw new Error(`--scale-backends: expected sqlite and/or postgres, got '${values['scale-backends']}'`);
  const settings = settingsFor(values.quick!, backends as ('sqlite' | 'postgres')[]);
  const only = values.only?.split(',').map((s) => s.trim());
  const unknown = only?.filter((o) => !WORKLOADS.some((w) => w.name === o)) ?? [];
  if (unknown.length) throw new Error(`unknown workload(s) ${unknown.join(', ')}; known: ${WORKLOADS.map((w) => w.name).join(', ')}`);
  const selected = WORKLOADS.filter((w) => (only ? only.includes(w.name) : !w.optIn || (w.name === 'scale' && values.scale)));
  const logLevel = values['log-level']!;
  const cli = resolve(values['registry-cli'] ?? CLI);
  const jsonPath = resolve(values.json ?? join(PROJECT, 'bench', 'results', 'latest.json'));

  const tmp = mkdtempSync(join(tmpdir(), 'registry-bench-'));
  let keep = values.keep!;
  const cleanup = () => {
    killAllChildren();
    if (!keep) rmSync(tmp, { recursive: true, force: true });
  };
  process.once('exit', cleanup);
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(signal, () => {
      log(`${signal}: stopping`);
      cleanup();
      process.exit(130);
    });
  }

  const cpuList = cpus();
  const machine = {
    host: hostname(),
    cpus: cpuList.length,
    cpuModel: cpuList[0]?.model ?? 'unknown',
    memoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    kernel: release(),
    node: process.version,
    wrk: await toolVersion('wrk', ['-v']),
    skopeo: await toolVersion('skopeo', ['--version']),
    scratch: tmp,
    loadAverageAtStart: loadavg().map((l) => Math.round(l * 100) / 100),
  };
  console.log(`registry benchmark (${settings.mode}) - ${new Date().toISOString()}`);
  console.log(`machine: ${machine.cpus} x ${machine.cpuModel}, ${machine.memoryGiB} GiB RAM, Linux ${machine.kernel}`);
  console.log(`node ${machine.node}; ${machine.wrk}; ${machine.skopeo}; registry log level ${logLevel}; scratch ${tmp}`);
  console.log(`load average at start: ${machine.loadAverageAtStart.join(' ')} (other processes on the machine skew every figure)`);
  if (cli !== CLI) console.log(`registry under test: ${cli}`);
  console.log('');

  const registries = new Map<string, RegistryProcess>();
  const spawnNamed = async (name: string, options: { env?: Record<string, string>; dataDir?: string } = {}) => {
    const dataDir = options.dataDir ?? join(tmp, name);
    mkdirSync(dataDir, { recursive: true });
    const registry = await startRegistry(dataDir, join(tmp, `${name}.log`), logLevel, cli, options.env);
    registries.set(name, registry);
    return { registry, dataDir };
  };

  const started = performance.now();
  const rows: Row[] = [];
  let failures = 0;
  const { registry } = await spawnNamed('main');
  log(`registry under test: pid ${registry.pid} at ${registry.url}`);
  const client = new Client(registry.url, 64);
  const ctx: BenchContext = {
    settings,
    tmp,
    registry,
    client,
    log,
    get keep() {
      return keep;
    },
    postgresUrl: values['postgres-url'],
    async freshRegistry(name, options) {
      const fresh = await spawnNamed(name, options);
      return {
        registry: fresh.registry,
        async release() {
          await fresh.registry.stop();
          registries.delete(name);
          if (!keep) rmSync(fresh.dataDir, { recursive: true, force: true });
        },
      };
    },
  };
  try {
    for (const workload of selected) {
      log(`== ${workload.title}`);
      const t0 = performance.now();
      try {
        const got = await workload.fn(ctx);
        rows.push(...got);
        failures += got.filter((r) => r.failed).length;
      } catch (err) {
        failures++;
        const message = err instanceof Error ? err.message : String(err);
        log(`${workload.title} FAILED: ${message}`);
        rows.push({ workload: workload.title, value: null, unit: '', notes: `FAILED: ${message.split('\n')[0]!.slice(0, 300)}`, flagged: true });
        if (registry.child.exitCode !== null || registry.child.signalCode !== null) {
          log(`the registry under test died; its log ends with:\n${registry.logTail()}`);
          keep = true;
          break;
        }
      }
      log(`   ${workload.title} took ${fmt((performance.now() - t0) / 1000)} s`);
    }
  } finally {
    client.close();
    for (const r of registries.values()) await r.stop();
  }
  const seconds = (performance.now() - started) / 1000;
  const loadAverageAtEnd = loadavg().map((l) => Math.round(l * 100) / 100);

  console.log(table(rows));
  console.log('');
  console.log(`MB = 10^6 bytes. Total ${fmt(seconds)} s. Load average at end: ${loadAverageAtEnd.join(' ')}.${failures ? ` ${failures} workload(s) FAILED.` : ''}`);
  const flagged = rows.filter((r) => r.flagged && r.value !== null);
  if (flagged.length) console.log(`Flagged: ${flagged.map((r) => r.workload).join('; ')}`);

  mkdirSync(dirname(jsonPath), { recursive: true });
  writeFileSync(
    jsonPath,
    JSON.stringify({ date: new Date().toISOString(), mode: settings.mode, logLevel, registryCli: cli, machine: { ...machine, loadAverageAtEnd }, settings, durationSeconds: seconds, results: rows }, null, 2) + '\n',
  );
  console.log(`JSON: ${jsonPath}${keep ? `; scratch kept in ${tmp}` : ''}`);
  return failures ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(err instanceof Error ? err.stack : err);
    process.exit(1);
  },
);
