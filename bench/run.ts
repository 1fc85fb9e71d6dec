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
//   --registry-cli <js>  benchmark another build's dist/bundle/cli/main.js (A/B comparisons)
//   --vs docker-registry also run every workload against CNCF Distribution (Debian's
//                        docker-registry), interleaved round by round, and print each ratio
//   --cpu-prof <dir>     run the registry under test with node --cpu-prof, profiles written to <dir>
//                        when it stops (open them in Chrome DevTools or speedscope for flame graphs)
//   --rounds <n>         interleaved rounds (default 1; 3 with --vs, 2 with --vs --quick)
import { cpus, totalmem, release, tmpdir, hostname, loadavg } from 'node:os';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Client } from './lib/http.js';
import { CLI, killAllChildren, run, startRegistry, type RegistryProcess } from './lib/proc.js';
import { fmt, settingsFor, type BenchContext, type Row, type TargetKind } from './lib/context.js';
import { startDistribution, findTool, INSTALL_HINT } from './lib/baselines.js';
import { aggregate, resultTable, type Measurement } from './lib/report.js';
import { limits } from './workloads/limits.js';
import { blobGet } from './workloads/blob-get.js';
import { manifestWrk } from './workloads/manifest-wrk.js';
import { uploads } from './workloads/uploads.js';
import { concurrentPushes } from './workloads/pushes.js';
import { pushRss } from './workloads/rss.js';
import { skopeo } from './workloads/skopeo.js';
import { scale } from './workloads/scale.js';

const PROJECT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

// `optIn` workloads run only when named in --only (or, for scale, with --scale). `once`
// workloads measure the machine, not a registry: they run once a round, not once per target.
// `registryOnly` ones have no counterpart on Distribution.
const WORKLOADS: { name: string; title: string; fn: (ctx: BenchContext) => Promise<Row[]>; optIn?: boolean; once?: boolean; registryOnly?: boolean }[] = [
  { name: 'blob-get', title: 'blob GET', fn: blobGet },
  { name: 'limits', title: 'machine limits (nginx, sha256)', fn: limits, once: true },
  { name: 'manifest', title: 'manifest GET/HEAD', fn: manifestWrk },
  { name: 'pushes', title: 'concurrent pushes', fn: concurrentPushes },
  { name: 'uploads', title: 'blob uploads', fn: uploads },
  { name: 'rss', title: 'peak RSS during a large push', fn: pushRss },
  { name: 'skopeo', title: 'skopeo push/pull', fn: skopeo },
  { name: 'scale', title: 'scale (bulk-seeded registry)', fn: scale, optIn: true, registryOnly: true },
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
      vs: { type: 'string' },
      rounds: { type: 'string' },
      'cpu-prof': { type: 'string' },
    },
  });
  if (values.vs !== undefined && values.vs !== 'docker-registry') throw new Error(`--vs: only docker-registry is supported, got '${values.vs}'`);
  const vs = values.vs !== undefined;
  if (vs && !(await findTool('docker-registry'))) {
    throw new Error(`--vs docker-registry: docker-registry is not installed. Install it with:\n  ${INSTALL_HINT['docker-registry']}`);
  }
  const rounds = values.rounds !== undefined ? Number(values.rounds) : vs ? (values.quick ? 2 : 3) : 1;
  if (!Number.isSafeInteger(rounds) || rounds < 1 || rounds > 20) throw new Error(`--rounds: expected 1-20, got '${values.rounds}'`);
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
    nginx: await toolVersion((await findTool('nginx')) ?? 'nginx', ['-v']),
    distribution: vs ? await toolVersion('docker-registry', ['--version']) : undefined,
    scratch: tmp,
    loadAverageAtStart: loadavg().map((l) => Math.round(l * 100) / 100),
  };
  console.log(`registry benchmark (${settings.mode}) - ${new Date().toISOString()}`);
  console.log(`machine: ${machine.cpus} x ${machine.cpuModel}, ${machine.memoryGiB} GiB RAM, Linux ${machine.kernel}`);
  console.log(`node ${machine.node}; ${machine.wrk}; ${machine.skopeo}; ${machine.nginx}; registry log level ${logLevel}; scratch ${tmp}`);
  if (vs) console.log(`versus ${machine.distribution}, ${rounds} interleaved rounds (the order of the two alternates every round)`);
  else if (rounds > 1) console.log(`${rounds} rounds`);
  console.log(`load average at start: ${machine.loadAverageAtStart.join(' ')} (other processes on the machine skew every figure)`);
  if (cli !== CLI) console.log(`registry under test: ${cli}`);
  console.log('');

  const profileDir = values['cpu-prof'] === undefined ? undefined : resolve(values['cpu-prof']);
  if (profileDir) mkdirSync(profileDir, { recursive: true });
  const nodeArgs = profileDir ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : [];
  const registries = new Map<string, RegistryProcess>();
  const spawnNamed = async (kind: TargetKind, name: string, options: { env?: Record<string, string>; dataDir?: string } = {}) => {
    const dataDir = options.dataDir ?? join(tmp, name);
    mkdirSync(dataDir, { recursive: true });
    const registry =
      kind === 'registry' ? await startRegistry(dataDir, join(tmp, `${name}.log`), logLevel, cli, options.env, nodeArgs) : await startDistribution(dataDir, join(tmp, `${name}.log`));
    registries.set(name, registry);
    return { registry, dataDir };
  };

  const started = performance.now();
  const measurements: Measurement[] = [];
  let failures = 0;
  const targets: { kind: TargetKind; registry: RegistryProcess; dataDir: string; client: Client }[] = [];
  for (const kind of vs ? (['registry', 'distribution'] as const) : (['registry'] as const)) {
    const { registry, dataDir } = await spawnNamed(kind, kind === 'registry' ? 'main' : 'distribution');
    log(`${kind === 'registry' ? 'registry under test' : 'Distribution'}: pid ${registry.pid} at ${registry.url}`);
    targets.push({ kind, registry, dataDir, client: new Client(registry.url, 64) });
  }
  const main = targets[0]!;
  const contextFor = (target: (typeof targets)[number], round: number): BenchContext => ({
    settings,
    target: target.kind,
    round,
    registryDataDir: main.dataDir,
    tmp,
    registry: target.registry,
    client: target.client,
    log: (message) => log(`${vs ? `[${target.kind}] ` : ''}${message}`),
    get keep() {
      return keep;
    },
    postgresUrl: values['postgres-url'],
    async freshRegistry(name, options) {
      const fresh = await spawnNamed(target.kind, `${name}-${target.kind}-r${round}`, options);
      return {
        registry: fresh.registry,
        async release() {
          await fresh.registry.stop();
          registries.delete(`${name}-${target.kind}-r${round}`);
          if (!keep) rmSync(fresh.dataDir, { recursive: true, force: true });
        },
      };
    },
  });
  const dead = () => targets.find((t) => t.registry.child.exitCode !== null || t.registry.child.signalCode !== null);
  try {
    rounds: for (let round = 0; round < rounds; round++) {
      // Alternate who goes first, so neither always runs on a machine the other just warmed or loaded.
      const order = round % 2 === 0 ? targets : [...targets].reverse();
      for (const workload of selected) {
        for (const target of workload.once ? [main] : workload.registryOnly ? [main] : order) {
          const ctx = contextFor(target, round);
          const who: Measurement['target'] = workload.once ? 'machine' : target.kind;
          log(`== ${rounds > 1 ? `round ${round + 1}/${rounds}: ` : ''}${workload.title}${workload.once || !vs ? '' : ` (${target.kind})`}`);
          const t0 = performance.now();
          try {
            const got = await workload.fn(ctx);
            measurements.push(...got.map((row) => ({ target: who, round, row })));
            failures += got.filter((r) => r.failed).length;
          } catch (err) {
            failures++;
            const message = err instanceof Error ? err.message : String(err);
            log(`${workload.title} FAILED: ${message}`);
            measurements.push({ target: who, round, row: { workload: workload.title, value: null, unit: '', notes: `FAILED: ${message.split('\n')[0]!.slice(0, 300)}`, flagged: true } });
            const gone = dead();
            if (gone) {
              log(`${gone.kind} died; its log ends with:\n${gone.registry.logTail()}`);
              keep = true;
              break rounds;
            }
          }
          log(`   ${workload.title} took ${fmt((performance.now() - t0) / 1000)} s`);
        }
      }
    }
  } finally {
    for (const t of targets) t.client.close();
    for (const r of registries.values()) await r.stop();
  }
  const rows: Row[] = aggregate(measurements, vs);
  const seconds = (performance.now() - started) / 1000;
  const loadAverageAtEnd = loadavg().map((l) => Math.round(l * 100) / 100);

  console.log(resultTable(rows, vs));
  console.log('');
  console.log(`MB = 10^6 bytes. Total ${fmt(seconds)} s. Load average at end: ${loadAverageAtEnd.join(' ')}.${failures ? ` ${failures} workload(s) FAILED.` : ''}`);
  const flagged = rows.filter((r) => r.flagged && r.value !== null);
  if (flagged.length) console.log(`Flagged: ${flagged.map((r) => r.workload).join('; ')}`);

  mkdirSync(dirname(jsonPath), { recursive: true });
  writeFileSync(
    jsonPath,
    JSON.stringify({ date: new Date().toISOString(), mode: settings.mode, logLevel, registryCli: cli, vs: values.vs ?? null, rounds, machine: { ...machine, loadAverageAtEnd }, settings, durationSeconds: seconds, results: rows, measurements }, null, 2) + '\n',
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
