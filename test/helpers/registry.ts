// Test harness: a real registry (real SQLite file, real filesystem store) on a loopback port,
// either in this process (fast HTTP tests) or as a child process (crash and e2e tests).
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { createApp, type App } from '../../src/app.js';
import { loadConfig } from '../../src/config/load.js';

/** The compiled CLI entry point (tests run from dist/test). */
export const CLI = resolve(dirname(fileURLToPath(import.meta.url)), '../../src/cli/main.js');

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

/** Start a registry in this process. `settings` is a partial config tree (e.g. { deletes: { enabled: false } }). */
export async function startRegistry(settings: Record<string, unknown> = {}, dataDir?: string): Promise<TestRegistry> {
  const dir = dataDir ?? (await makeTempDir());
  const config = loadConfig({
    env: {},
    overrides: { ...settings, http: { host: '127.0.0.1', port: 0, ...(settings['http'] as object | undefined) }, storage: { filesystem: { root: dir } } },
  });
  const app = await createApp(config, pino({ level: process.env['TEST_LOG_LEVEL'] ?? 'silent' }));
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
export async function spawnRegistry(dataDir: string, port = 0, extraEnv: Record<string, string> = {}): Promise<RegistryProcess> {
  const child = spawn(process.execPath, [CLI, 'serve', '--host', '127.0.0.1', '--port', String(port), '--data-dir', dataDir], {
    env: { ...process.env, REGISTRY_LOG_LEVEL: 'info', ...extraEnv },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = new Promise<number | null>((res) => child.once('exit', (code) => res(code)));
  const boundPort = await new Promise<number>((res, rej) => {
    let buffer = '';
    const timer = setTimeout(() => rej(new Error(`registry did not start: ${buffer.slice(-2000)}`)), 20_000);
    child.stdout!.on('data', (d: Buffer) => {
      buffer += d.toString();
      const m = /"port":(\d+)[^\n]*"msg":"registry listening"/.exec(buffer);
      if (m) {
        clearTimeout(timer);
        res(Number(m[1]));
      }
    });
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
