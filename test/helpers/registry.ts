// Test harness: a real registry (real SQLite file, real filesystem store) on a loopback port,
// either in this process (fast HTTP tests) or as a child process (crash and e2e tests).
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { pino, type Logger } from 'pino';
import { createApp, type App } from '../../src/app.js';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { envName, loadConfig, merge } from '../../src/config/load.js';
import type { FindingsSource } from '../../src/signing/pull-policy.js';
import type { Resolver } from '../../src/events/targets.js';

/** The `registry` command as users run it: the bundle of the compiled CLI (tests run from dist/test). */
export const CLI = resolve(dirname(fileURLToPath(import.meta.url)), '../../bundle/cli/main.js');

export interface TestRegistry {
  url: string;
  /** host:port, as clients such as skopeo want it. */
  host: string;
  dataDir: string;
  app: App;
  close(): Promise<void>;
}

export async function makeTempDir(prefix = 'registry-test-'): Promise<string> {
  return mkdtemp(join(tmpdir(), prefix));
}

/**
 * The backends tests run on. By default the embedded ones (filesystem + SQLite). With
 * TEST_BACKEND=scaleout (set by scripts/test.sh for its second pass) every registry gets its
 * own PostgreSQL database and S3 key prefix, plus Redis, from the servers the scripts started.
 */
export function scaleOut(): boolean {
  return process.env['TEST_BACKEND'] === 'scaleout';
}

const backendNames = new Map<string, string>();

/** One database and prefix per data dir, so a restarted registry finds its own data again. */
export async function backendSettings(dataDir: string, forceScaleOut = false): Promise<Record<string, unknown>> {
  if (!scaleOut() && !forceScaleOut) return {};
  const env = process.env;
  for (const name of ['TEST_POSTGRES_URL', 'S3_ENDPOINT', 'S3_BUCKET', 'S3_ACCESS_KEY_ID', 'S3_SECRET_ACCESS_KEY']) {
    if (!env[name]) throw new Error(`the scale-out backends need ${name} (scripts/test.sh starts the servers and sets it)`);
  }
  let name = backendNames.get(dataDir);
  if (!name) {
    name = `t_${randomBytes(6).toString('hex')}`;
    const admin = new pg.Client({ connectionString: env['TEST_POSTGRES_URL'] });
    await admin.connect();
    try {
      await admin.query(`create database ${name}`);
    } finally {
      await admin.end();
    }
    backendNames.set(dataDir, name);
  }
  const url = new URL(env['TEST_POSTGRES_URL']!);
  url.pathname = `/${name}`;
  return {
    metadata: { driver: 'postgres', postgres: { url: url.toString(), poolSize: 5 } },
    storage: {
      driver: 's3',
      s3: {
        endpoint: env['S3_ENDPOINT'],
        region: env['S3_REGION'] ?? 'us-east-1',
        bucket: env['S3_BUCKET'],
        accessKeyId: env['S3_ACCESS_KEY_ID'],
        secretAccessKey: env['S3_SECRET_ACCESS_KEY'],
        prefix: `${name}/`,
      },
    },
    // Each registry its own Redis keys: login throttles and caches must not leak between tests.
    ...(env['TEST_REDIS_URL'] ? { redis: { url: env['TEST_REDIS_URL'], keyPrefix: `${name}:` } } : {}),
  };
}

/** The same settings as REGISTRY_* environment variables, for registries run as child processes. */
export async function backendEnv(dataDir: string, forceScaleOut = false): Promise<Record<string, string>> {
  const env: Record<string, string> = {};
  const walk = (tree: Record<string, unknown>, path: string[]) => {
    for (const [k, v] of Object.entries(tree)) {
      if (typeof v === 'object' && v !== null) walk(v as Record<string, unknown>, [...path, k]);
      else if (v !== undefined) env[envName([...path, k])] = String(v);
    }
  };
  walk(await backendSettings(dataDir, forceScaleOut), []);
  return env;
}

export interface StartOptions {
  /** The registry's logger (default: silent, or TEST_LOG_LEVEL), e.g. one writing to a buffer a test reads. */
  logger?: Logger;
  /** Vulnerability findings for pull policies (default: none scanned). */
  findings?: FindingsSource;
  /** How host names of outbound targets resolve (webhooks, replication, proxy redirects). */
  resolver?: Resolver;
}

/** Start a registry in this process. `settings` is a partial config tree (e.g. { deletes: { enabled: false } }). */
export async function startRegistry(settings: Record<string, unknown> = {}, dataDir?: string, options: StartOptions = {}): Promise<TestRegistry> {
  const dir = dataDir ?? (await makeTempDir());
  const backend = await backendSettings(dir);
  const config = loadConfig({
    env: {},
    overrides: merge(merge(backend, { storage: { filesystem: { root: dir } } }), {
      ...settings,
      http: { host: '127.0.0.1', port: 0, ...(settings['http'] as object | undefined) },
    }),
  });
  const app = await createApp(config, options.logger ?? pino({ level: process.env['TEST_LOG_LEVEL'] ?? 'silent' }), { ...(options.findings ? { findings: options.findings } : {}), ...(options.resolver ? { resolver: options.resolver } : {}) });
  const { port } = await app.listen();
  return {
    url: `http://127.0.0.1:${port}`,
    host: `127.0.0.1:${port}`,
    dataDir: dir,
    app,
    async close() {
      await app.close();
      if (dataDir === undefined) await rm(dir, { recursive: true, force: true });
    },
  };
}

export interface RegistryProcess {
  url: string;
  host: string;
  port: number;
  child: ChildProcess;
  /** Resolves when the process has exited. */
  exited: Promise<number | null>;
  kill(signal?: NodeJS.Signals): Promise<number | null>;
}

/** Start `registry serve` as a child process on `port` (0 = pick a free one) with data in `dataDir`. */
/** `cli`: the compiled entry point to run (another version's, for upgrade tests). */
export async function spawnRegistry(dataDir: string, port = 0, extraEnv: Record<string, string> = {}, forceScaleOut = false, cli = CLI): Promise<RegistryProcess> {
  const child = spawn(process.execPath, [cli, ...serveArgs(dataDir, port)], {
    env: await childEnv(dataDir, extraEnv, forceScaleOut),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return untilListening(child);
}

function serveArgs(dataDir: string, port: number): string[] {
  return ['serve', '--host', '127.0.0.1', '--port', String(port), '--data-dir', dataDir];
}

async function childEnv(dataDir: string, extraEnv: Record<string, string>, forceScaleOut: boolean): Promise<Record<string, string | undefined>> {
  const backend = await backendEnv(dataDir, forceScaleOut);
  const env: Record<string, string | undefined> = { ...process.env, REGISTRY_LOG_LEVEL: 'info', ...backend, ...extraEnv };
  // An empty value in extraEnv unsets the variable.
  for (const [k, v] of Object.entries(env)) if (v === '') delete env[k];
  return env;
}

/** Wait for a `registry serve` child to log that it listens (stdout and stderr piped). */
async function untilListening(child: ChildProcess): Promise<RegistryProcess> {
  const exited = new Promise<number | null>((res) => child.once('exit', (code) => res(code)));
  const boundPort = await new Promise<number>((res, rej) => {
    let buffer = '';
    const timer = setTimeout(() => rej(new Error(`registry did not start: ${buffer.slice(-2000)}`)), 20_000);
    const onData = (d: Buffer) => {
      buffer += d.toString();
      const m = /"port":(\d+)[^\n]*"msg":"registry listening"/.exec(buffer);
      if (m) {
        clearTimeout(timer);
        // Stop collecting: the log of a long run would otherwise grow without bound.
        child.stdout!.off('data', onData);
        buffer = '';
        res(Number(m[1]));
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', (d: Buffer) => (buffer += d.toString()));
    child.once('exit', (code) => {
      clearTimeout(timer);
      rej(new Error(`registry exited with ${code}: ${buffer.slice(-2000)}`));
    });
  });
  child.stdout!.resume();
  return {
    url: `http://127.0.0.1:${boundPort}`,
    host: `127.0.0.1:${boundPort}`,
    port: boundPort,
    child,
    exited,
    async kill(signal: NodeJS.Signals = 'SIGKILL') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
}

const WARM_SERVE = resolve(dirname(fileURLToPath(import.meta.url)), 'warm-serve.js');

/**
 * Starts `registry serve` on one data dir again and again, fast: the next process loads its
 * modules (most of a start-up) while the current one runs, and only waits for its arguments
 * (see warm-serve.ts). The start itself (config, stores, recovery, listen) is the real one.
 */
export class RegistryLauncher {
  private next: { child: ChildProcess; warm: Promise<void> } | undefined;

  constructor(
    private readonly dataDir: string,
    private readonly extraEnv: Record<string, string> = {},
  ) {}

  async start(port = 0): Promise<RegistryProcess> {
    const { child, warm } = this.next ?? (await this.prepare());
    this.next = undefined;
    await warm;
    child.stdin!.end(`${JSON.stringify(serveArgs(this.dataDir, port))}\n`);
    const started = await untilListening(child);
    this.next = await this.prepare();
    return started;
  }

  /** Stop the process kept waiting for the next start. */
  async close(): Promise<void> {
    const next = this.next;
    this.next = undefined;
    if (!next) return;
    const exited = new Promise((res) => next.child.once('exit', res));
    if (next.child.exitCode === null && next.child.signalCode === null) next.child.kill('SIGKILL');
    await exited;
  }

  private async prepare(): Promise<{ child: ChildProcess; warm: Promise<void> }> {
    const child = spawn(process.execPath, [WARM_SERVE], { env: { ...(await childEnv(this.dataDir, this.extraEnv, false)), REGISTRY_WARM_SERVE: '1' }, stdio: ['pipe', 'pipe', 'pipe'] });
    // DEBUG_LOG_FILE=<path>: append every launched registry's log there (to diagnose a failed crash test).
    if (process.env['DEBUG_LOG_FILE']) {
      const { createWriteStream } = await import('node:fs');
      const out = createWriteStream(process.env['DEBUG_LOG_FILE'], { flags: 'a' });
      child.stdout!.pipe(out);
      child.stderr!.pipe(out);
    }
    const warm = new Promise<void>((res, rej) => {
      let output = '';
      let errors = '';
      const timer = setTimeout(() => rej(new Error(`warm registry process not ready: ${errors.slice(-2000)}`)), 30_000);
      const onData = (d: Buffer) => {
        output += d.toString();
        if (!output.includes('warm\n')) return;
        clearTimeout(timer);
        child.stdout!.off('data', onData);
        child.stderr!.off('data', onErr);
        child.off('exit', onExit);
        res();
      };
      const onErr = (d: Buffer) => (errors += d.toString());
      const onExit = (code: number | null) => {
        clearTimeout(timer);
        rej(new Error(`warm registry process exited with ${code}: ${errors.slice(-2000)}`));
      };
      child.stdout!.on('data', onData);
      child.stderr!.on('data', onErr);
      child.once('exit', onExit);
    });
    // Not awaited here: a start awaits it; unhandled until then would crash the test run.
    warm.catch(() => undefined);
    return { child, warm };
  }
}
