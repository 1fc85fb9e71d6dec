// The other servers a run measures against: CNCF Distribution (Debian's `docker-registry`,
// run as a plain process with its own config, never its systemd service) for `--vs`, and nginx
// serving a blob file, the machine's ceiling for blob GET.
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { freePort, healthy, run, spawnServer, type RegistryProcess } from './proc.js';

/** How to get a missing tool on this machine (Debian); the bench does not install anything itself. */
export const INSTALL_HINT: Record<string, string> = {
  'docker-registry': 'sudo apt-get install -y docker-registry   (CNCF Distribution 2.8; its systemd service is not used)',
  nginx: 'sudo apt-get install -y nginx-light   (only its binary is used, with a config in the scratch dir)',
};

/** Path of an executable on PATH or in the usual sbin directories, else undefined. */
export async function findTool(name: string): Promise<string | undefined> {
  for (const dir of [...(process.env.PATH ?? '').split(':'), '/usr/sbin', '/usr/bin', '/sbin']) {
    if (!dir) continue;
    const r = await run('test', ['-x', join(dir, name)], { timeoutMs: 5000 }).catch(() => undefined);
    if (r?.code === 0) return join(dir, name);
  }
  return undefined;
}

async function requireTool(name: string): Promise<string> {
  const path = await findTool(name);
  if (!path) throw new Error(`${name} is not installed. Install it with: ${INSTALL_HINT[name] ?? name}`);
  return path;
}

/**
 * Start Distribution on 127.0.0.1 with data in `dataDir` and the defaults a package install
 * has (filesystem driver, in-memory blob descriptor cache, log level info with the access
 * log, as the registry under test logs every request at info).
 */
export async function startDistribution(dataDir: string, logFile: string): Promise<RegistryProcess> {
  const binary = await requireTool('docker-registry');
  const port = await freePort();
  mkdirSync(dataDir, { recursive: true });
  const config = join(dirname(logFile), `${dataDir.split('/').pop()}-config.yml`);
  writeFileSync(
    config,
    [
      'version: 0.1',
      'log:',
      '  level: info',
      'storage:',
      '  filesystem:',
      `    rootdirectory: ${dataDir}`,
      '  cache:',
      '    blobdescriptor: inmemory',
      '  delete:',
      '    enabled: true',
      'http:',
      `  addr: 127.0.0.1:${port}`,
      '',
    ].join('\n'),
  );
  return spawnServer({
    what: 'docker-registry (Distribution)',
    cmd: binary,
    args: ['serve', config],
    logFile,
    port: async () => ((await healthy(port, '/v2/')) ? port : undefined),
  });
}

/** nginx serving `root` on 127.0.0.1 (sendfile on, access log off): one worker per core. */
export async function startNginx(root: string, scratch: string): Promise<RegistryProcess> {
  const binary = await requireTool('nginx');
  const port = await freePort();
  const dir = join(scratch, 'nginx');
  mkdirSync(join(dir, 'tmp'), { recursive: true });
  const config = join(dir, 'nginx.conf');
  writeFileSync(
    config,
    `daemon off;
master_process off;
worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 256; }
http {
  access_log off;
  sendfile on;
  tcp_nopush on;
  keepalive_requests 100000;
  client_body_temp_path ${dir}/tmp;
  proxy_temp_path ${dir}/tmp;
  fastcgi_temp_path ${dir}/tmp;
  uwsgi_temp_path ${dir}/tmp;
  scgi_temp_path ${dir}/tmp;
  default_type application/octet-stream;
  server {
    listen 127.0.0.1:${port};
    root ${root};
  }
}
`,
  );
  return spawnServer({
    what: 'nginx',
    cmd: binary,
    args: ['-p', dir, '-c', config, '-e', join(dir, 'error.log')],
    logFile: join(dir, 'stdout.log'),
    port: async () => ((await reachable(port)) ? port : undefined),
  });
}

/** Any HTTP answer (nginx answers 403/404 on `/` of a directory without an index). */
function reachable(port: number): Promise<boolean> {
  return fetch(`http://127.0.0.1:${port}/`, { signal: AbortSignal.timeout(1000) }).then(
    () => true,
    () => false,
  );
}
