// Child processes for the benchmark: the registry under test (its own data dir, loopback,
// random port, logs to a file so that the benchmark process never has to drain them) and
// external tools (wrk, skopeo) run with a hard timeout. Every child is tracked and killed by
// pid when the benchmark exits, however it exits.
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { createServer, get as httpGet } from 'node:http';
import { openSync, closeSync, readFileSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The `registry` command as users run it, the bundled CLI (this file runs from dist/bench/lib). */
export const CLI = resolve(dirname(fileURLToPath(import.meta.url)), '../../bundle/cli/main.js');

const children = new Set<ChildProcess>();

/** SIGKILL every child still running (used on exit and on failure paths). */
export function killAllChildren(): void {
  for (const child of children) {
    if (child.exitCode === null && child.signalCode === null && child.pid !== undefined) {
      try {
        process.kill(child.pid, 'SIGKILL');
      } catch {
        /* already gone */
      }
    }
  }
  children.clear();
}

/** Kill `child` with the others when the benchmark exits. */
export function track(child: ChildProcess): void {
  children.add(child);
  child.once('exit', () => children.delete(child));
}

export const CLK_TCK = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { timeout: 5000 }).toString().trim()) || 100;
  } catch {
    return 100;
  }
})();

export interface RegistryProcess {
  pid: number;
  url: string;
  host: string;
  logFile: string;
  child: ChildProcess;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves when the process is gone. */
  stop(graceMs?: number): Promise<void>;
  logTail(chars?: number): string;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** A port free on 127.0.0.1 right now (for log levels that hide the "listening" line). */
export function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const server = createServer();
    server.once('error', rej);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? res(address.port) : rej(new Error('no port'))));
    });
  });
}

/** Whether `path` on 127.0.0.1:`port` answers 200 within a second. */
export function healthy(port: number, path = '/healthz'): Promise<boolean> {
  return new Promise((res) => {
    const req = httpGet({ host: '127.0.0.1', port, path, timeout: 1000 }, (r) => {
      r.resume();
      res(r.statusCode === 200);
    });
    req.once('error', () => res(false));
    req.once('timeout', () => req.destroy());
  });
}

/**
 * Start `registry serve` on 127.0.0.1 with a random port and data in `dataDir`, plus any
 * REGISTRY_* settings in `extraEnv`. At log level info and below the port the registry
 * picked is read from its "registry listening" line; at quieter levels a free port is
 * picked first and /healthz is polled.
 */
export async function startRegistry(dataDir: string, logFile: string, logLevel: string, cli = CLI, extraEnv: Record<string, string> = {}, nodeArgs: string[] = []): Promise<RegistryProcess> {
  const announces = ['info', 'debug', 'trace'].includes(logLevel);
  const chosenPort = announces ? 0 : await freePort();
  return spawnServer({
    what: 'registry',
    cmd: process.execPath,
    args: [...nodeArgs, cli, 'serve', '--host', '127.0.0.1', '--port', String(chosenPort), '--data-dir', dataDir, '--log-level', logLevel],
    // Only the defaults (filesystem + SQLite, no Redis): nothing inherited from REGISTRY_*;
    // a workload may set some explicitly (e.g. the scale workload's PostgreSQL).
    env: { ...Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('REGISTRY_'))), REGISTRY_LOG_LEVEL: logLevel, ...extraEnv },
    logFile,
    async port(logTail) {
      if (!announces) return (await healthy(chosenPort)) ? chosenPort : undefined;
      const m = /"port":(\d+)[^\n]*"msg":"registry listening"/.exec(logTail(1_000_000));
      return m ? Number(m[1]) : undefined;
    },
  });
}

export interface ServerSpec {
  /** What the server is, for error messages. */
  what: string;
  cmd: string;
  args: string[];
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** stdout and stderr go here, so that the benchmark never has to drain them. */
  logFile: string;
  /** The port once the server answers (polled every 50 ms for up to 20 s), else undefined. */
  port(logTail: (chars?: number) => string): Promise<number | undefined>;
}

/** Spawn a server (tracked, killed on exit) and wait until it answers. */
export async function spawnServer(spec: ServerSpec): Promise<RegistryProcess> {
  const fd = openSync(spec.logFile, 'a');
  let child: ChildProcess;
  try {
    child = spawn(spec.cmd, spec.args, { env: spec.env ?? process.env, cwd: spec.cwd, stdio: ['ignore', fd, fd] });
  } finally {
    closeSync(fd);
  }
  track(child);
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const logTail = (chars = 2000) => {
    try {
      return readFileSync(spec.logFile, 'utf8').slice(-chars);
    } catch {
      return '';
    }
  };
  const spawnFailed = new Promise<Error>((r) => child.once('error', r));
  const deadline = Date.now() + 20_000;
  let port: number | undefined;
  while (Date.now() < deadline && port === undefined) {
    const failed = await Promise.race([spawnFailed, Promise.resolve(undefined)]);
    if (failed) throw new Error(`${spec.what} could not start (${spec.cmd}): ${failed.message}`);
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`${spec.what} exited at start: ${logTail()}`);
    port = await spec.port(logTail);
    if (port === undefined) await sleep(50);
  }
  if (port === undefined) {
    if (child.pid !== undefined) process.kill(child.pid, 'SIGKILL');
    throw new Error(`${spec.what} did not answer within 20 s: ${logTail()}`);
  }
  return {
    pid: child.pid!,
    url: `http://127.0.0.1:${port}`,
    host: `127.0.0.1:${port}`,
    logFile: spec.logFile,
    child,
    logTail,
    async stop(graceMs = 10_000) {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
    },
  };
}

export interface ProcStatus {
  /** Resident set size now, bytes. */
  rss: number;
  /** Peak resident set size, bytes. */
  hwm: number;
}

export async function procStatus(pid: number): Promise<ProcStatus> {
  const text = await readFile(`/proc/${pid}/status`, 'utf8');
  const kb = (field: string) => {
    const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(text);
    if (!m) throw new Error(`no ${field} in /proc/${pid}/status`);
    return Number(m[1]) * 1024;
  };
  return { rss: kb('VmRSS'), hwm: kb('VmHWM') };
}

/** Reset the peak RSS (VmHWM) of a process we own; false when the kernel refuses. */
export function resetPeakRss(pid: number): boolean {
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, '5');
    return true;
  } catch {
    return false;
  }
}

/** CPU seconds (user + system) the process has used so far. */
export async function cpuSeconds(pid: number): Promise<number> {
  const text = await readFile(`/proc/${pid}/stat`, 'utf8');
  // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / CLK_TCK;
}

/** Samples VmRSS every `intervalMs` until stopped; reports the largest sample. */
export function sampleRss(pid: number, intervalMs = 50): { stop(): Promise<{ maxRss: number; samples: number }> } {
  let maxRss = 0;
  let samples = 0;
  let running = true;
  const loop = (async () => {
    while (running) {
      try {
        const { rss } = await procStatus(pid);
        maxRss = Math.max(maxRss, rss);
        samples++;
      } catch {
        return;
      }
      await sleep(intervalMs);
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      return { maxRss, samples };
    },
  };
}

export interface CommandResult {
  code: number | null;
  stdout: string;
  stderr: string;
  ms: number;
}

/** Run a command to completion with a hard timeout (SIGKILL); never throws on exit status. */
export function run(cmd: string, args: string[], options: { timeoutMs: number; env?: NodeJS.ProcessEnv; cwd?: string }): Promise<CommandResult> {
  return new Promise((resolvePromise, reject) => {
    const started = performance.now();
    const child = spawn(cmd, args, { env: options.env ?? process.env, cwd: options.cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    track(child);
    let stdout = '';
    let stderr = '';
    const cap = 1_000_000;
    child.stdout!.on('data', (d: Buffer) => (stdout = (stdout + d.toString()).slice(-cap)));
    child.stderr!.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-cap)));
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, options.timeoutMs);
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.once('close', (code) => {
      clearTimeout(timer);
      const ms = performance.now() - started;
      if (timedOut) reject(new Error(`${cmd} timed out after ${options.timeoutMs} ms: ${stderr.slice(-500)}`));
      else resolvePromise({ code, stdout, stderr, ms });
    });
  });
}
