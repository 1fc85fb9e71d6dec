// CNCF Distribution (Debian's `docker-registry` package) as a peer registry for the client,
// mirror and import tests: a child process on 127.0.0.1 with its config in a temp dir,
// optionally behind htpasswd Basic auth. Its access log tells what clients asked it.
import { spawn, type ChildProcess } from 'node:child_process';
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import bcrypt from 'bcryptjs';
import { hasCommand } from './exec.js';
import { makeTempDir } from './registry.js';
import { freePort } from './proxy.js';

export const DOCKER_REGISTRY = 'docker-registry';

export function dockerRegistryAvailable(): Promise<boolean> {
  return hasCommand(DOCKER_REGISTRY);
}

export interface PeerRegistry {
  url: string;
  host: string;
  /** The requests the access log shows so far (waits for the log to catch up). */
  requests(): Promise<{ method: string; path: string; status: number }[]>;
  close(): Promise<void>;
}

export async function startDockerRegistry(options: { htpasswd?: { username: string; password: string } } = {}): Promise<PeerRegistry> {
  const dir = await makeTempDir('docker-registry-');
  const port = await freePort();
  let auth = '';
  if (options.htpasswd) {
    const file = join(dir, 'htpasswd');
    await writeFile(file, `${options.htpasswd.username}:${bcrypt.hashSync(options.htpasswd.password, 5)}\n`);
    auth = `auth:\n  htpasswd:\n    realm: peer\n    path: ${file}\n`;
  }
  const config = join(dir, 'config.yml');
  await writeFile(
    config,
    `version: 0.1
log:
  level: info
  formatter: text
storage:
  filesystem:
    rootdirectory: ${join(dir, 'data')}
  delete:
    enabled: true
http:
  addr: 127.0.0.1:${port}
${auth}`,
  );
  const child: ChildProcess = spawn(DOCKER_REGISTRY, ['serve', config], { stdio: ['ignore', 'pipe', 'pipe'] });
  const log: string[] = [];
  let flushes = 0;
  let partial = '';
  const collect = (d: Buffer) => {
    const lines = (partial + d.toString()).split('\n');
    partial = lines.pop() ?? '';
    // Keep the access log only (bounded by what the test does).
    for (const line of lines) if (/"[A-Z]+ \/\S* HTTP\/[\d.]+" \d{3}/.test(line)) log.push(line);
  };
  child.stdout!.on('data', collect);
  child.stderr!.on('data', collect);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 15_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`docker-registry exited with ${child.exitCode}`);
    try {
      const res = await fetch(`${url}/v2/`, { signal: AbortSignal.timeout(1000) });
      await res.arrayBuffer();
      if (res.status === 200 || res.status === 401) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error('docker-registry did not start within 15 s');
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    url,
    host: `127.0.0.1:${port}`,
    async requests() {
      // The log is written after the answer: a marker request shows when it has caught up.
      const marker = `/v2/?flush=${++flushes}`;
      await (await fetch(`${url}${marker}`)).arrayBuffer();
      for (let i = 0; i < 100 && !log.some((l) => l.includes(`"GET ${marker} `)); i++) await new Promise((r) => setTimeout(r, 20));
      return log
        .map((line) => {
          const m = /"([A-Z]+) (\S*) HTTP\/[\d.]+" (\d{3})/.exec(line)!;
          return { method: m[1]!, path: m[2]!, status: Number(m[3]) };
        })
        .filter((r) => !r.path.startsWith('/v2/?flush='));
    },
    async close() {
      if (child.exitCode === null) child.kill('SIGTERM');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
      if (child.exitCode === null) child.kill('SIGKILL');
      await rm(dir, { recursive: true, force: true });
    },
  };
}
