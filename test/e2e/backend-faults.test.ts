// Backend faults under load: a registry on its own PostgreSQL, Redis and S3 (Ceph RGW), each
// started here so it can be frozen (SIGSTOP: a hang, the harder case) or stopped and started
// again, while clients keep pulling and pushing. Every request must answer within a bound,
// with a correct 2xx or a 503 in the spec's error format (never a wrong answer, never a hang);
// /readyz fails while PostgreSQL or S3 is gone (not for Redis, a cache); and the registry
// recovers by itself. Every push it acknowledged pulls back byte-identical at the end.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, readFile, writeFile, rm } from 'node:fs/promises';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { run } from '../helpers/exec.js';
import { makeTempDir, spawnRegistry, type RegistryProcess } from '../helpers/registry.js';
import { envName } from '../../src/config/load.js';
import { MediaType, randomBytes, sha256 } from '../helpers/oci.js';

const SCRIPTS = resolve(dirname(fileURLToPath(import.meta.url)), '../../../scripts/services');
/** Ports of this test's own servers, apart from the shared development ones (5433, 6380, 7480, 3300). */
const PORTS = { postgres: 5633, redis: 6580, s3: 7680, mon: 3500 };
/** Longest any request may take, whatever is down. */
const ANSWER_BOUND_MS = 10_000;
/** How long each backend stays down under load. */
const OUTAGE_MS = 6_000;
const WORKERS = 4;
const AUTH = `Basic ${Buffer.from('admin:faults-admin-password').toString('base64')}`;

interface Outcome {
  what: string;
  ms: number;
  /** ok: a correct 2xx; unavailable: 503 with UNAVAILABLE; wrong: anything else. */
  kind: 'ok' | 'unavailable' | 'wrong';
  detail?: string;
  at: number;
}

class Load {
  readonly outcomes: Outcome[] = [];
  /** Pushes the registry acknowledged: tag -> manifest bytes. */
  readonly acknowledged = new Map<string, Buffer>();
  private stopped = false;
  private workers: Promise<void>[] = [];

  constructor(
    private readonly base: string,
    private readonly seed: { tag: string; manifest: Buffer; blobs: Map<string, Buffer> },
  ) {}

  start(): void {
    this.workers = Array.from({ length: WORKERS }, (_, i) => this.work(i));
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await Promise.all(this.workers);
  }

  private async work(worker: number): Promise<void> {
    // Bounded: the test stops the load long before this many rounds.
    for (let round = 0; round < 10_000 && !this.stopped; round++) {
      await this.pull();
      await this.push(`w${worker}-${round}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** One request, timed and judged: `check` says whether a 2xx answer is the right one. */
  async call(what: string, url: string, init: RequestInit, expected: number[], check?: (body: Buffer, res: Response) => string | undefined): Promise<Response | undefined> {
    const started = Date.now();
    let res: Response;
    let body: Buffer;
    try {
      res = await fetch(url, { ...init, headers: { authorization: AUTH, ...(init.headers as Record<string, string>) }, signal: AbortSignal.timeout(ANSWER_BOUND_MS * 3) });
      body = Buffer.from(await res.arrayBuffer());
    } catch (err) {
      this.record(what, started, 'wrong', `no answer: ${(err as Error).message}`);
      return undefined;
    }
    if (res.status === 503) {
      const code = init.method === 'HEAD' ? 'UNAVAILABLE' : errorCode(body);
      this.record(what, started, code === 'UNAVAILABLE' ? 'unavailable' : 'wrong', code === 'UNAVAILABLE' ? undefined : `503 with ${body.toString().slice(0, 200)}`);
      return undefined;
    }
    if (!expected.includes(res.status)) {
      this.record(what, started, 'wrong', `status ${res.status}: ${body.toString().slice(0, 300)}`);
      return undefined;
    }
    const problem = check?.(body, res);
    this.record(what, started, problem ? 'wrong' : 'ok', problem);
    return problem ? undefined : res;
  }

  private record(what: string, started: number, kind: Outcome['kind'], detail?: string): void {
    this.outcomes.push({ what, ms: Date.now() - started, kind, at: started, ...(detail ? { detail } : {}) });
  }

  private async pull(): Promise<void> {
    const { tag, manifest, blobs } = this.seed;
    const got = await this.call('pull manifest', `${this.base}/v2/faults/seed/manifests/${tag}`, { headers: { accept: MediaType.OciManifest } }, [200], (body) =>
      body.equals(manifest) ? undefined : 'manifest bytes differ',
    );
    if (!got) return;
    for (const [digest, bytes] of blobs) {
      const ok = await this.call('pull blob', `${this.base}/v2/faults/seed/blobs/${digest}`, {}, [200], (body) =>
        sha256(body) === digest && body.equals(bytes) ? undefined : `blob ${digest} bytes differ`,
      );
      if (!ok) return;
    }
  }

  async push(tag: string): Promise<boolean> {
    const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', tag }));
    const layer = randomBytes(32 * 1024);
    const descriptors = [];
    for (const [bytes, mediaType] of [[config, MediaType.OciConfig], [layer, MediaType.OciLayer]] as const) {
      const digest = sha256(bytes);
      const started = await this.call('start upload', `${this.base}/v2/faults/pushed/blobs/uploads/`, { method: 'POST' }, [202]);
      if (!started) return false;
      const location = new URL(started.headers.get('location')!, this.base);
      location.searchParams.set('digest', digest);
      const put = await this.call('finish upload', location.toString(), { method: 'PUT', body: bytes, headers: { 'content-type': 'application/octet-stream' } }, [201], (_b, res) =>
        res.headers.get('docker-content-digest') === digest ? undefined : 'wrong digest header',
      );
      if (!put) return false;
      descriptors.push({ mediaType, digest, size: bytes.length });
    }
    const manifest = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MediaType.OciManifest, config: descriptors[0], layers: [descriptors[1]] }));
    const put = await this.call('push manifest', `${this.base}/v2/faults/pushed/manifests/${tag}`, { method: 'PUT', body: manifest, headers: { 'content-type': MediaType.OciManifest } }, [201], (_b, res) =>
      res.headers.get('docker-content-digest') === sha256(manifest) ? undefined : 'wrong manifest digest header',
    );
    if (!put) return false;
    this.acknowledged.set(tag, manifest);
    return true;
  }
}

function errorCode(body: Buffer): string | undefined {
  try {
    const parsed = JSON.parse(body.toString()) as { errors?: { code?: string; message?: string }[] };
    return parsed.errors?.[0]?.message ? parsed.errors[0].code : undefined;
  } catch {
    return undefined;
  }
}

/** The PIDs a start script recorded for a service, by command name. */
async function recordedPids(stateDir: string, service: string): Promise<Map<string, number>> {
  const text = await readFile(join(stateDir, service, 'pids'), 'utf8');
  const pids = new Map<string, number>();
  for (const line of text.trim().split('\n')) {
    const [pid, comm] = line.split(' ');
    pids.set(comm!, Number(pid));
  }
  return pids;
}

/** The postmaster and its children (the backends serving the registry's connections). */
async function postgresProcesses(postmaster: number): Promise<number[]> {
  const { stdout } = await run('ps', ['-o', 'pid=', '--ppid', String(postmaster)]);
  return [postmaster, ...stdout.split('\n').map((s) => Number(s.trim())).filter((n) => n > 0)];
}

function signal(pids: number[], sig: NodeJS.Signals): void {
  for (const pid of pids) {
    try {
      process.kill(pid, sig);
    } catch {
      // a backend that exited meanwhile
    }
  }
}

async function readyStatus(base: string): Promise<number> {
  const res = await fetch(`${base}/readyz`, { signal: AbortSignal.timeout(ANSWER_BOUND_MS) });
  await res.arrayBuffer();
  return res.status;
}

describe('backend faults under load (own PostgreSQL, Redis, S3)', { timeout: 300_000 }, () => {
  let stateDir: string;
  let dataDir: string;
  let registry: RegistryProcess | undefined;
  let load: Load;
  const servicesEnv: Record<string, string> = {};
  const measured: Record<string, unknown> = {};

  before(async () => {
    stateDir = await makeTempDir('faults-services-');
    // PostgreSQL runs as its own user, which must reach its directory inside.
    await chmod(stateDir, 0o755);
    dataDir = await makeTempDir('faults-data-');
    Object.assign(servicesEnv, {
      SERVICES_STATE_DIR: stateDir,
      PG_PORT: String(PORTS.postgres),
      REDIS_PORT: String(PORTS.redis),
      S3_PORT: String(PORTS.s3),
      S3_MON_PORT: String(PORTS.mon),
      S3_BUCKET: 'faults',
      S3_MEMSTORE_MB: '512',
    });
    const started = Date.now();
    const [pg, redis, s3] = await Promise.all(
      ['start-postgres.sh', 'start-redis.sh', 'start-s3.sh'].map((s) => run('bash', [join(SCRIPTS, s)], { env: servicesEnv, timeoutMs: 240_000 })),
    );
    measured['servicesStartMs'] = Date.now() - started;
    const s3Env = Object.fromEntries(s3!.stdout.trim().split('\n').map((l) => l.split('=') as [string, string]));
    const settings: Record<string, unknown> = {
      metadata: { driver: 'postgres', postgres: { url: pg!.stdout.trim(), poolSize: 8, connectTimeoutMs: 2_000, queryTimeoutMs: 3_000 } },
      storage: {
        driver: 's3',
        s3: { endpoint: s3Env['S3_ENDPOINT'], region: s3Env['S3_REGION'], bucket: s3Env['S3_BUCKET'], accessKeyId: s3Env['S3_ACCESS_KEY_ID'], secretAccessKey: s3Env['S3_SECRET_ACCESS_KEY'], connectTimeoutMs: 2_000, requestTimeoutMs: 2_000, maxAttempts: 2 },
      },
      redis: { url: redis!.stdout.trim() },
      auth: { enabled: true, initialAdminUsername: 'admin', initialAdminPassword: 'faults-admin-password' },
      scan: { enabled: false },
    };
    const env: Record<string, string> = {};
    const walk = (tree: Record<string, unknown>, path: string[]) => {
      for (const [k, v] of Object.entries(tree)) {
        if (typeof v === 'object' && v !== null) walk(v as Record<string, unknown>, [...path, k]);
        else env[envName([...path, k])] = String(v);
      }
    };
    walk(settings, []);
    registry = await spawnRegistry(dataDir, 0, env);

    // The image every worker pulls and checks throughout.
    const seedLoad = new Load(registry.url, { tag: '', manifest: Buffer.alloc(0), blobs: new Map() });
    assert.ok(await seedLoad.push('seed-image'), `seed push: ${JSON.stringify(seedLoad.outcomes.filter((o) => o.kind !== 'ok'))}`);
    const seedManifest = seedLoad.acknowledged.get('seed-image')!;
    // Copy it to faults/seed by pulling its blobs back and pushing them there.
    const parsed = JSON.parse(seedManifest.toString()) as { config: { digest: string }; layers: { digest: string }[] };
    const blobs = new Map<string, Buffer>();
    for (const d of [parsed.config.digest, ...parsed.layers.map((l) => l.digest)]) {
      const res: Response = await fetch(`${registry.url}/v2/faults/pushed/blobs/${d}`, { headers: { authorization: AUTH } });
      assert.equal(res.status, 200);
      blobs.set(d, Buffer.from(await res.arrayBuffer()));
      const mount: Response = await fetch(`${registry.url}/v2/faults/seed/blobs/uploads/?mount=${d}&from=faults/pushed`, { method: 'POST', headers: { authorization: AUTH } });
      assert.equal(mount.status, 201, await mount.text());
    }
    const put = await fetch(`${registry.url}/v2/faults/seed/manifests/stable`, { method: 'PUT', body: seedManifest.toString(), headers: { authorization: AUTH, 'content-type': MediaType.OciManifest } });
    assert.equal(put.status, 201, await put.text());
    load = new Load(registry.url, { tag: 'stable', manifest: seedManifest, blobs });
    load.start();
  });

  after(async () => {
    await load?.stop();
    await registry?.kill('SIGTERM');
    // Whatever a failed test left frozen must be able to stop.
    for (const service of ['postgres', 'redis', 's3']) {
      const pids = await recordedPids(stateDir, service).catch(() => new Map<string, number>());
      let all = [...pids.values()];
      if (service === 'postgres' && pids.get('postgres')) all = await postgresProcesses(pids.get('postgres')!).catch(() => all);
      signal(all, 'SIGCONT');
    }
    if (stateDir) await run('bash', [join(SCRIPTS, 'stop-all.sh')], { env: servicesEnv, timeoutMs: 60_000 }).catch((err: unknown) => console.error(err));
    if (stateDir) await rm(stateDir, { recursive: true, force: true });
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
    console.log(`measured: ${JSON.stringify(measured)}`);
  });

  /**
   * Take a backend away under load, then bring it back: requests answer within the bound,
   * /readyz says so (when the backend is one readiness needs), and a push and pull work again
   * afterwards without a restart of the registry.
   */
  async function outage(name: string, options: { takeDown: () => Promise<void>; bringBack: () => Promise<void>; readinessNeedsIt: boolean; expectUnavailable: boolean }): Promise<void> {
    const base = registry!.url;
    await new Promise((r) => setTimeout(r, 500));
    const downAt = Date.now();
    await options.takeDown();
    // Down for OUTAGE_MS, and (when requests must fail) until the first 503 arrived.
    const ready = await readyStatus(base);
    assert.equal(ready, options.readinessNeedsIt ? 503 : 200, `/readyz while ${name} is down`);
    for (let i = 0; i < 100; i++) {
      const waited = Date.now() - downAt;
      if (waited > ANSWER_BOUND_MS + OUTAGE_MS) break;
      if (waited >= OUTAGE_MS && (!options.expectUnavailable || load.outcomes.some((o) => o.kind === 'unavailable' && o.at + o.ms >= downAt))) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    // Requests that ended during the outage (some began before it).
    const during = load.outcomes.filter((o) => o.at + o.ms >= downAt);
    const firstUnavailable = [...during].sort((a, b) => a.at + a.ms - (b.at + b.ms)).find((o) => o.kind === 'unavailable');
    if (options.expectUnavailable) {
      assert.ok(firstUnavailable, `some request answered 503 while ${name} was down: ${JSON.stringify(during.slice(0, 20))}`);
    } else {
      assert.equal(firstUnavailable, undefined, `no request needs ${name}: ${JSON.stringify(firstUnavailable)}`);
    }
    const backAt = Date.now();
    await options.bringBack();
    // Recovered: a fresh push and pull succeed, the registry itself untouched.
    let recoveredAt: number | undefined;
    for (let i = 0; i < 60 && recoveredAt === undefined; i++) {
      if ((await load.push(`probe-${name}-${i}`)) && (await readyStatus(base)) === 200) recoveredAt = Date.now();
      else await new Promise((r) => setTimeout(r, 500));
    }
    assert.ok(recoveredAt, `the registry recovered from the ${name} outage by itself`);
    assert.equal(registry!.child.exitCode, null, 'the registry kept running');
    measured[name] = {
      firstUnavailableMs: firstUnavailable ? firstUnavailable.at + firstUnavailable.ms - downAt : undefined,
      requestsDuringOutage: during.length,
      unavailable: during.filter((o) => o.kind === 'unavailable').length,
      slowestMs: Math.max(0, ...during.map((o) => o.ms)),
      recoverMs: recoveredAt - backAt,
    };
    const wrong = load.outcomes.filter((o) => o.kind === 'wrong');
    assert.deepEqual(wrong, [], 'no wrong answer');
    const slow = load.outcomes.filter((o) => o.ms > ANSWER_BOUND_MS);
    assert.deepEqual(slow, [], `every request answered within ${ANSWER_BOUND_MS} ms`);
  }

  test('PostgreSQL frozen (SIGSTOP): 503s within the bound, recovery on SIGCONT', async () => {
    const postmaster = (await recordedPids(stateDir, 'postgres')).get('postgres')!;
    let frozen: number[] = [];
    await outage('postgres-frozen', {
      takeDown: async () => {
        frozen = await postgresProcesses(postmaster);
        signal(frozen, 'SIGSTOP');
      },
      bringBack: async () => signal(frozen, 'SIGCONT'),
      readinessNeedsIt: true,
      expectUnavailable: true,
    });
  });

  test('PostgreSQL stopped and started again: 503s, then recovery', async () => {
    const dir = join(stateDir, 'postgres');
    const postmaster = (await recordedPids(stateDir, 'postgres')).get('postgres')!;
    const bin = dirname(await run('readlink', [`/proc/${postmaster}/exe`]).then((r) => r.stdout.trim()));
    const pgCtl = (args: string[]) => run('runuser', ['-u', 'postgres', '--', join(bin, 'pg_ctl'), '-D', join(dir, 'data'), ...args], { timeoutMs: 60_000 });
    await outage('postgres-stopped', {
      takeDown: async () => {
        await pgCtl(['-m', 'fast', '-w', 'stop']);
      },
      bringBack: async () => {
        await pgCtl(['-l', join(dir, 'postgres.log'), '-w', '-o', `-p ${PORTS.postgres} -c listen_addresses=127.0.0.1 -c unix_socket_directories=${dir} -c fsync=off -c max_connections=300`, 'start']);
        // stop-all.sh stops what is recorded: record the new postmaster.
        const pid = (await readFile(join(dir, 'data', 'postmaster.pid'), 'utf8')).split('\n')[0]!.trim();
        await writeFile(join(dir, 'pids'), `${pid} postgres\n`);
      },
      readinessNeedsIt: true,
      expectUnavailable: true,
    });
  });

  test('Redis frozen, then stopped and started again: every request still answers 2xx, logins work', async () => {
    const redisPid = (await recordedPids(stateDir, 'redis')).get('redis-server')!;
    await outage('redis-frozen', {
      takeDown: async () => signal([redisPid], 'SIGSTOP'),
      bringBack: async () => signal([redisPid], 'SIGCONT'),
      readinessNeedsIt: false,
      expectUnavailable: false,
    });
    await outage('redis-stopped', {
      takeDown: async () => {
        process.kill(redisPid, 'SIGTERM');
        for (let i = 0; i < 100; i++) {
          try {
            process.kill(redisPid, 0);
            await new Promise((r) => setTimeout(r, 50));
          } catch {
            break;
          }
        }
      },
      bringBack: async () => {
        await run('bash', [join(SCRIPTS, 'start-redis.sh')], { env: servicesEnv, timeoutMs: 60_000 });
      },
      readinessNeedsIt: false,
      expectUnavailable: false,
    });
    // A wrong password is still refused (401), not let in, while counting falls back to this node.
    const res = await fetch(`${registry!.url}/v2/`, { headers: { authorization: `Basic ${Buffer.from('admin:wrong-password').toString('base64')}` } });
    await res.arrayBuffer();
    assert.equal(res.status, 401);
  });

  test('S3 frozen (SIGSTOP of radosgw): 503s within the bound, recovery on SIGCONT', async () => {
    const rgw = (await recordedPids(stateDir, 's3')).get('radosgw')!;
    await outage('s3-frozen', {
      takeDown: async () => signal([rgw], 'SIGSTOP'),
      bringBack: async () => signal([rgw], 'SIGCONT'),
      readinessNeedsIt: true,
      expectUnavailable: true,
    });
  });

  test('every acknowledged push pulls back byte-identical', async () => {
    await load.stop();
    const base = registry!.url;
    assert.ok(load.acknowledged.size > 10, `pushes acknowledged: ${load.acknowledged.size}`);
    for (const [tag, manifest] of load.acknowledged) {
      const res = await fetch(`${base}/v2/faults/pushed/manifests/${tag}`, { headers: { authorization: AUTH, accept: MediaType.OciManifest } });
      assert.equal(res.status, 200, `manifest ${tag}`);
      assert.ok(Buffer.from(await res.arrayBuffer()).equals(manifest), `manifest ${tag} byte-identical`);
      const parsed = JSON.parse(manifest.toString()) as { config: { digest: string }; layers: { digest: string }[] };
      for (const digest of [parsed.config.digest, ...parsed.layers.map((l) => l.digest)]) {
        const blob = await fetch(`${base}/v2/faults/pushed/blobs/${digest}`, { headers: { authorization: AUTH } });
        assert.equal(blob.status, 200, `blob ${digest} of ${tag}`);
        assert.equal(sha256(Buffer.from(await blob.arrayBuffer())), digest);
      }
    }
    const counts = { ok: 0, unavailable: 0, wrong: 0 };
    for (const o of load.outcomes) counts[o.kind]++;
    measured['requests'] = counts;
    measured['acknowledgedPushes'] = load.acknowledged.size;
  });
});
