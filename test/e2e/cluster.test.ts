// Scale-out for real: three registry nodes sharing PostgreSQL, S3 (Ceph RGW) and Redis, behind
// nginx. skopeo pushes through the balancer (round robin, so one upload's requests land on
// different nodes), chunks of one upload are sent to different nodes on purpose, every node
// serves the same bytes, and a node killed mid-push does not stop the client's retry.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes as cryptoRandom } from 'node:crypto';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { makeTempDir, spawnRegistry, type RegistryProcess } from '../helpers/registry.js';
import { OciLayout, readLayout, reachableBlobs, resolveTag, sha256 } from '../helpers/oci-layout.js';
import { run } from '../helpers/exec.js';
import { pushBlob, pushImage } from '../helpers/oci.js';

const NGINX = '/usr/sbin/nginx';

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

async function waitForHttp(url: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(1000) });
      await res.arrayBuffer();
      if (res.status === 200) return;
    } catch {
      // not up yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${url} did not answer within ${timeoutMs} ms`);
}

interface Balancer {
  url: string;
  host: string;
  process: ChildProcess;
  stop(): Promise<void>;
}

async function startNginx(dir: string, ports: number[]): Promise<Balancer> {
  const port = await freePort();
  await mkdir(join(dir, 'tmp'), { recursive: true });
  const conf = `
worker_processes 1;
daemon off;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 512; }
http {
  access_log ${dir}/access.log;
  client_body_temp_path ${dir}/tmp/body;
  proxy_temp_path ${dir}/tmp/proxy;
  fastcgi_temp_path ${dir}/tmp/fastcgi;
  uwsgi_temp_path ${dir}/tmp/uwsgi;
  scgi_temp_path ${dir}/tmp/scgi;
  upstream registry {
${ports.map((p) => `    server 127.0.0.1:${p} max_fails=1 fail_timeout=30s;`).join('\n')}
  }
  server {
    listen 127.0.0.1:${port};
    client_max_body_size 0;
    proxy_request_buffering off;
    proxy_buffering off;
    proxy_http_version 1.1;
    proxy_read_timeout 60s;
    location / {
      proxy_pass http://registry;
      proxy_set_header Host $http_host;
      proxy_set_header Connection "";
    }
  }
}
`;
  await writeFile(join(dir, 'nginx.conf'), conf);
  const child = spawn(NGINX, ['-c', join(dir, 'nginx.conf'), '-p', dir, '-e', join(dir, 'error.log')], { stdio: 'ignore' });
  const url = `http://127.0.0.1:${port}`;
  await waitForHttp(`${url}/v2/`, 10_000);
  return {
    url,
    host: `127.0.0.1:${port}`,
    process: child,
    async stop() {
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        await exited;
      }
    },
  };
}

async function buildImage(dir: string, tag: string, layerMiB: number[]): Promise<void> {
  const layout = await OciLayout.create(dir);
  const image = await layout.addImage(
    { os: 'linux', architecture: 'amd64' },
    layerMiB.map((mib, i) => [{ path: `data/layer-${i}.bin`, content: cryptoRandom(mib * 1024 * 1024) }]),
  );
  layout.tag(image.descriptor, tag);
  await layout.save();
}

async function skopeo(args: string[], timeoutMs = 120_000): Promise<void> {
  await run('skopeo', ['--insecure-policy', ...args], { timeoutMs });
}

/** Pull `ref` from `host` into a fresh layout and check every blob against the source layout. */
async function pullAndCompare(host: string, ref: string, tag: string, source: string, work: string): Promise<void> {
  const out = await makeTempDir('cluster-pull-');
  try {
    await skopeo(['copy', '--src-tls-verify=false', `docker://${host}/${ref}:${tag}`, `oci:${out}:${tag}`]);
    const src = await readLayout(source);
    const got = await readLayout(out);
    const root = resolveTag(src, tag).digest;
    assert.equal(resolveTag(got, tag).digest, root, `manifest digest from ${host}`);
    for (const digest of reachableBlobs(src.blobs, root)) {
      const bytes = got.blobs.get(digest);
      assert.ok(bytes, `${digest} pulled from ${host}`);
      assert.equal(sha256(bytes), digest);
      assert.ok(bytes.equals(src.blobs.get(digest)!), `${digest} byte-identical from ${host}`);
    }
  } finally {
    await rm(out, { recursive: true, force: true });
    void work;
  }
}

describe('a three-node cluster behind nginx (PostgreSQL + S3 + Redis)', () => {
  let shared: string;
  let work: string;
  const nodes: RegistryProcess[] = [];
  let lb: Balancer;

  before(async () => {
    for (const name of ['TEST_POSTGRES_URL', 'TEST_REDIS_URL', 'S3_ENDPOINT']) {
      assert.ok(process.env[name], `${name} must be set: scripts/test.sh starts PostgreSQL, Redis and S3`);
    }
    shared = await makeTempDir('cluster-');
    work = await makeTempDir('cluster-work-');
    // The same data dir name makes every node share one database and one S3 prefix.
    for (let i = 0; i < 3; i++) nodes.push(await spawnRegistry(shared, 0, {}, true));
    lb = await startNginx(join(work, 'nginx'), nodes.map((n) => n.port));
  });

  after(async () => {
    await lb?.stop();
    for (const n of nodes) await n.kill('SIGTERM');
    await rm(shared, { recursive: true, force: true });
    await rm(work, { recursive: true, force: true });
  });

  test('skopeo pushes through the balancer and every node serves the image byte-identical', async () => {
    const src = join(work, 'image-a');
    await buildImage(src, 'v1', [3, 1, 2]);
    await skopeo(['copy', '--dest-tls-verify=false', `oci:${src}:v1`, `docker://${lb.host}/team/app:v1`]);
    for (const node of nodes) await pullAndCompare(node.host, 'team/app', 'v1', src, work);
    await pullAndCompare(lb.host, 'team/app', 'v1', src, work);
  });

  test('the chunks of one upload can each go to a different node', async () => {
    const chunks = [cryptoRandom(6 * 1024 * 1024), cryptoRandom(5 * 1024 * 1024 + 17), cryptoRandom(1234)];
    const whole = Buffer.concat(chunks);
    const digest = sha256(whole);
    const start = await fetch(`${nodes[0]!.url}/v2/spread/blob/blobs/uploads/`, { method: 'POST' });
    assert.equal(start.status, 202);
    let location = start.headers.get('location')!;
    let offset = 0;
    for (const [i, chunk] of chunks.entries()) {
      const node = nodes[(i + 1) % 3]!;
      const res = await fetch(new URL(location, node.url), {
        method: 'PATCH',
        headers: { 'Content-Type': 'application/octet-stream', 'Content-Range': `${offset}-${offset + chunk.length - 1}` },
        body: chunk,
      });
      assert.equal(res.status, 202, `chunk ${i} on node ${(i + 1) % 3}: ${await res.text()}`);
      offset += chunk.length;
      assert.equal(res.headers.get('range'), `0-${offset - 1}`);
      location = res.headers.get('location')!;
    }
    const status = await fetch(new URL(location, nodes[2]!.url));
    assert.equal(status.status, 204);
    assert.equal(status.headers.get('range'), `0-${whole.length - 1}`);
    const put = new URL(location, nodes[0]!.url);
    put.searchParams.set('digest', digest);
    const done = await fetch(put, { method: 'PUT' });
    assert.equal(done.status, 201, await done.text());
    assert.equal(done.headers.get('docker-content-digest'), digest);
    for (const node of nodes) {
      const res = await fetch(`${node.url}/v2/spread/blob/blobs/${digest}`);
      assert.equal(res.status, 200);
      const body = Buffer.from(await res.arrayBuffer());
      assert.ok(body.equals(whole), `blob from ${node.host} is byte-identical`);
    }
  });

  test('concurrent pushes of one tag from two nodes leave exactly one winner', async () => {
    for (let round = 0; round < 10; round++) {
      const [a, b] = await Promise.all([
        pushImage(nodes[0]!.url, 'race/tag', { reference: 'latest', layers: 1 }),
        pushImage(nodes[1]!.url, 'race/tag', { reference: 'latest', layers: 1 }),
      ]);
      const seen = new Set<string>();
      for (const node of nodes) {
        const res = await fetch(`${node.url}/v2/race/tag/manifests/latest`, { headers: { Accept: 'application/vnd.oci.image.manifest.v1+json' } });
        assert.equal(res.status, 200);
        seen.add(res.headers.get('docker-content-digest')!);
        await res.arrayBuffer();
      }
      assert.equal(seen.size, 1, 'every node agrees on the tag');
      assert.ok([a.digest, b.digest].includes([...seen][0]!), 'the tag names one of the two pushes');
      for (const d of [a.digest, b.digest]) {
        const res = await fetch(`${nodes[2]!.url}/v2/race/tag/manifests/${d}`, { method: 'HEAD' });
        assert.equal(res.status, 200, 'both manifests are stored whole');
      }
    }
    const tags = (await (await fetch(`${nodes[2]!.url}/v2/race/tag/tags/list`)).json()) as { tags: string[] };
    assert.deepEqual(tags.tags, ['latest']);
  });

  test('the same blob uploaded to two nodes at once is stored once and readable everywhere', async () => {
    const data = cryptoRandom(2 * 1024 * 1024);
    const [a, b] = await Promise.all([pushBlob(nodes[0]!.url, 'dedup/one', data), pushBlob(nodes[1]!.url, 'dedup/two', data)]);
    assert.equal(a.digest, b.digest);
    for (const [node, repo] of [[nodes[2]!, 'dedup/one'], [nodes[0]!, 'dedup/two']] as const) {
      const res = await fetch(`${node.url}/v2/${repo}/blobs/${a.digest}`);
      assert.equal(res.status, 200);
      assert.ok(Buffer.from(await res.arrayBuffer()).equals(data));
    }
  });

  test('a node killed mid-push: the client retries through the balancer and the image is whole', async () => {
    const src = join(work, 'image-b');
    await buildImage(src, 'v2', [8, 8, 8]);
    const push = skopeo(['copy', '--retry-times', '5', '--dest-tls-verify=false', `oci:${src}:v2`, `docker://${lb.host}/team/killed:v2`], 180_000);
    await new Promise((r) => setTimeout(r, 300));
    await nodes[1]!.kill('SIGKILL');
    await push;
    for (const node of [nodes[0]!, nodes[2]!]) await pullAndCompare(node.host, 'team/killed', 'v2', src, work);
    // The killed node comes back and serves the same bytes.
    nodes[1] = await spawnRegistry(shared, nodes[1]!.port, {}, true);
    await pullAndCompare(nodes[1].host, 'team/killed', 'v2', src, work);
  });
});
