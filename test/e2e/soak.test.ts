// Soak: many concurrent clients push and pull a mix of images (small and multi-MB layers,
// monolithic and chunked uploads, cross-repository mounts, multi-arch indexes, moving tags,
// deletes) against a registry process on loopback for a bounded time. Every answer is checked
// against a model (digests, bytes, tag → digest, tag lists, deleted manifests gone): zero wrong
// answers. The registry's resident memory is sampled every second and must stay flat after a
// warm-up. Throughput and latency percentiles are printed as diagnostics.
// SOAK_SECONDS (default 60), SOAK_CLIENTS (default 32) and SOAK_SEED change the run; past 60 s,
// raise the runner's --test-timeout above (SOAK_SECONDS + 180) s, so this test's own timeout
// fires first and the registry process is stopped.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { readFile, rm } from 'node:fs/promises';
import { makeTempDir, scaleOut, spawnRegistry, type RegistryProcess } from '../helpers/registry.js';
import { MediaType, sha256 } from '../helpers/oci.js';

const SECONDS = Number(process.env['SOAK_SECONDS'] ?? 60);
const CLIENTS = Number(process.env['SOAK_CLIENTS'] ?? 32);
const SEED = Number(process.env['SOAK_SEED'] ?? 20261207);
const REPOS = 4;
const TAGS_PER_CLIENT = 4;
/** A client deletes its oldest images past this many, so the model (and the data) stay bounded. */
const MAX_OWN_MANIFESTS = 12;
const REQUEST_TIMEOUT_MS = 120_000;
const MiB = 1024 * 1024;
const CHUNK = MiB;
const ACCEPT = [MediaType.OciManifest, MediaType.OciIndex].join(', ');

/** mulberry32: a small seeded generator, so each client's sequence of operations is reproducible. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Blob {
  digest: string;
  size: number;
  /** Kept for the multi-MB pool only (for range checks); small blobs are checked by digest. */
  bytes?: Buffer;
}

interface Pushed {
  repo: string;
  digest: string;
  bytes: Buffer;
  mediaType: string;
  blobs: Blob[];
  /** An index's platform images. */
  children: Pushed[];
}

/** Shared by all clients: what is in the registry for good (never deleted), and the tallies. */
interface World {
  base: string;
  /** Multi-MB layers every client pushes again and again (stored once). */
  pool: Blob[];
  /** `repo@digest` of pool blobs known to be linked in a repository (mount sources). */
  linked: Set<string>;
  /** Images nobody deletes, for cross-client pulls by digest (a bounded ring). */
  published: Pushed[];
  failures: string[];
  failureCount: number;
  latency: Map<string, number[]>;
  requests: number;
  /** Manifests pulled (or HEAD) and found exactly as the model says. */
  verifiedPulls: number;
  bytesUp: number;
  bytesDown: number;
}

function fail(world: World, message: string): void {
  world.failureCount++;
  if (world.failures.length < 20) world.failures.push(message);
}

/** One timed request; the body is read (hashed, not kept, unless asked) before the clock stops. */
async function request(
  world: World,
  kind: string,
  path: string,
  init: { method?: string; headers?: Record<string, string>; body?: Buffer } = {},
  keepBody = false,
): Promise<{ status: number; headers: Headers; digest: string; size: number; body?: Buffer }> {
  const start = performance.now();
  const res = await fetch(path.startsWith('http') ? path : `${world.base}${path}`, {
    method: init.method ?? 'GET',
    headers: init.headers ?? {},
    // Node's Buffers are never SharedArrayBuffer-backed here; the DOM typing wants ArrayBuffer.
    ...(init.body ? { body: init.body as unknown as Uint8Array<ArrayBuffer> } : {}),
    signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
  });
  const hash = createHash('sha256');
  const chunks: Buffer[] = [];
  let size = 0;
  if (res.body) {
    for await (const chunk of res.body as AsyncIterable<Uint8Array>) {
      hash.update(chunk);
      size += chunk.length;
      if (keepBody) chunks.push(Buffer.from(chunk));
    }
  }
  const ms = performance.now() - start;
  let list = world.latency.get(kind);
  if (!list) world.latency.set(kind, (list = []));
  list.push(ms);
  world.requests++;
  world.bytesUp += init.body?.length ?? 0;
  world.bytesDown += size;
  return { status: res.status, headers: res.headers, digest: `sha256:${hash.digest('hex')}`, size, ...(keepBody ? { body: Buffer.concat(chunks) } : {}) };
}

class Client {
  private readonly random: () => number;
  /** Own tags → the image or index they point at. */
  private readonly tags = new Map<string, Pushed>();
  /** Own top-level manifests that exist (oldest first); deletable unless published. */
  private readonly own: Pushed[] = [];
  /** Recently deleted manifests: must stay gone. */
  private readonly deleted: Pushed[] = [];
  private readonly repo: string;

  constructor(
    private readonly world: World,
    private readonly id: number,
  ) {
    this.random = prng(SEED + id);
    this.repo = `soak/r${id % REPOS}`;
  }

  private pick<T>(list: T[]): T {
    return list[Math.floor(this.random() * list.length)]!;
  }

  private check(ok: boolean, what: string): boolean {
    if (!ok) fail(this.world, `client ${this.id}: ${what}`);
    return ok;
  }

  async run(deadline: number): Promise<void> {
    // Whatever the machine's speed: every client pushes, tags and pulls back at least once.
    try {
      const first = await this.pushImage(false);
      this.own.push(first);
      await this.putTag(first, this.tagName());
      await this.pullTag();
    } catch (err) {
      fail(this.world, `client ${this.id}: ${(err as Error).message}`);
    }
    while (Date.now() < deadline) {
      try {
        await this.step();
      } catch (err) {
        fail(this.world, `client ${this.id}: ${(err as Error).message}`);
      }
    }
  }

  private async step(): Promise<void> {
    const r = this.random();
    if (this.own.length > MAX_OWN_MANIFESTS || (r < 0.05 && this.own.length > 0)) return this.deleteOne();
    if (r < 0.3) return this.tagImage(await this.pushImage(this.random() < 0.25));
    if (r < 0.36) return this.tagImage(await this.pushIndex());
    if (r < 0.41) return this.moveTag();
    if (r < 0.7) return this.pullTag();
    if (r < 0.85) return this.pullPublished();
    if (r < 0.92) return this.listTags();
    return this.checkDeleted();
  }

  /** A monolithic upload (POST ?digest=), or a mount when the blob is already linked elsewhere. */
  private async uploadMonolithic(blob: Blob & { bytes: Buffer }): Promise<void> {
    const res = await request(this.world, 'blob upload (monolithic)', `/v2/${this.repo}/blobs/uploads/?digest=${blob.digest}`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/octet-stream' },
      body: blob.bytes,
    });
    this.check(res.status === 201, `monolithic upload: ${res.status}`);
  }

  /** POST, PATCH chunks with Content-Range, PUT ?digest=. */
  private async uploadChunked(blob: Blob & { bytes: Buffer }): Promise<void> {
    let res = await request(this.world, 'upload start', `/v2/${this.repo}/blobs/uploads/`, { method: 'POST', headers: { 'Content-Length': '0' } });
    if (!this.check(res.status === 202, `upload start: ${res.status}`)) return;
    let location = new URL(res.headers.get('location')!, this.world.base).toString();
    for (let offset = 0; offset < blob.size; offset += CHUNK) {
      const chunk = blob.bytes.subarray(offset, Math.min(blob.size, offset + CHUNK));
      res = await request(this.world, 'upload chunk (PATCH)', location, {
        method: 'PATCH',
        headers: { 'Content-Type': 'application/octet-stream', 'Content-Range': `${offset}-${offset + chunk.length - 1}` },
        body: chunk,
      });
      if (!this.check(res.status === 202 && res.headers.get('range') === `0-${offset + chunk.length - 1}`, `PATCH at ${offset}: ${res.status} range ${res.headers.get('range')}`)) return;
      location = new URL(res.headers.get('location')!, this.world.base).toString();
    }
    const url = new URL(location);
    url.searchParams.set('digest', blob.digest);
    res = await request(this.world, 'upload finish (PUT)', url.toString(), { method: 'PUT', headers: { 'Content-Length': '0' } });
    this.check(res.status === 201 && res.headers.get('docker-content-digest') === blob.digest, `upload finish: ${res.status}`);
  }

  /** A pool blob into this client's repository: mounted from a repository that has it, or uploaded. */
  private async putPoolBlob(blob: Blob & { bytes: Buffer }): Promise<void> {
    const sources = [...this.world.linked].filter((k) => k.endsWith(`@${blob.digest}`) && !k.startsWith(`${this.repo}@`));
    if (sources.length > 0 && this.random() < 0.4) {
      const from = this.pick(sources).split('@')[0]!;
      const res = await request(this.world, 'blob mount', `/v2/${this.repo}/blobs/uploads/?mount=${blob.digest}&from=${from}`, { method: 'POST', headers: { 'Content-Length': '0' } });
      this.check(res.status === 201 && res.headers.get('docker-content-digest') === blob.digest, `mount from ${from}: ${res.status}`);
    } else if (this.random() < 0.5) {
      await this.uploadChunked(blob);
    } else {
      await this.uploadMonolithic(blob);
    }
    this.world.linked.add(`${this.repo}@${blob.digest}`);
  }

  private async pushImage(large: boolean, platform?: string): Promise<Pushed> {
    const config = Buffer.from(JSON.stringify({ architecture: platform ?? 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] }, nonce: randomBytes(8).toString('hex') }));
    const layers: (Blob & { bytes: Buffer })[] = [];
    const small = 1 + Math.floor(this.random() * 3);
    for (let i = 0; i < small; i++) {
      const bytes = randomBytes(512 + Math.floor(this.random() * 64 * 1024));
      layers.push({ digest: sha256(bytes), size: bytes.length, bytes });
    }
    if (large) layers.push(this.pick(this.world.pool) as Blob & { bytes: Buffer });
    const configBlob = { digest: sha256(config), size: config.length, bytes: config };
    for (const blob of [configBlob, ...layers]) {
      if (blob.size >= MiB) await this.putPoolBlob(blob);
      else if (this.random() < 0.2) await this.uploadChunked(blob);
      else await this.uploadMonolithic(blob);
    }
    const manifest = {
      schemaVersion: 2,
      mediaType: MediaType.OciManifest,
      config: { mediaType: MediaType.OciConfig, digest: configBlob.digest, size: configBlob.size },
      layers: layers.map((l) => ({ mediaType: MediaType.OciLayer, digest: l.digest, size: l.size })),
    };
    const bytes = Buffer.from(JSON.stringify(manifest));
    const digest = sha256(bytes);
    const res = await request(this.world, 'manifest put', `/v2/${this.repo}/manifests/${digest}`, { method: 'PUT', headers: { 'Content-Type': MediaType.OciManifest }, body: bytes });
    this.check(res.status === 201 && res.headers.get('docker-content-digest') === digest, `manifest put: ${res.status}`);
    const blobs = [configBlob, ...layers].map((b) => (b.size >= MiB ? b : { digest: b.digest, size: b.size }));
    return { repo: this.repo, digest, bytes, mediaType: MediaType.OciManifest, blobs, children: [] };
  }

  private async pushIndex(): Promise<Pushed> {
    const children = [await this.pushImage(false, 'amd64'), await this.pushImage(this.random() < 0.3, 'arm64')];
    const index = {
      schemaVersion: 2,
      mediaType: MediaType.OciIndex,
      manifests: children.map((c, i) => ({ mediaType: MediaType.OciManifest, digest: c.digest, size: c.bytes.length, platform: { architecture: i === 0 ? 'amd64' : 'arm64', os: 'linux' } })),
    };
    const bytes = Buffer.from(JSON.stringify(index));
    const digest = sha256(bytes);
    const res = await request(this.world, 'manifest put', `/v2/${this.repo}/manifests/${digest}`, { method: 'PUT', headers: { 'Content-Type': MediaType.OciIndex }, body: bytes });
    this.check(res.status === 201, `index put: ${res.status}`);
    return { repo: this.repo, digest, bytes, mediaType: MediaType.OciIndex, blobs: [], children };
  }

  private tagName(): string {
    return `c${this.id}-t${Math.floor(this.random() * TAGS_PER_CLIENT)}`;
  }

  /** PUT the manifest again under one of this client's tags (moving it); one in ten is published instead. */
  private async tagImage(pushed: Pushed): Promise<void> {
    if (this.world.published.length < 64 && this.random() < 0.1) {
      this.world.published.push(pushed);
      return;
    }
    this.own.push(pushed);
    await this.putTag(pushed, this.tagName());
  }

  private async putTag(pushed: Pushed, tag: string): Promise<void> {
    const res = await request(this.world, 'manifest put', `/v2/${this.repo}/manifests/${tag}`, { method: 'PUT', headers: { 'Content-Type': pushed.mediaType }, body: pushed.bytes });
    if (this.check(res.status === 201 && res.headers.get('docker-content-digest') === pushed.digest, `tag ${tag}: ${res.status}`)) this.tags.set(tag, pushed);
  }

  private async moveTag(): Promise<void> {
    if (this.own.length === 0) return;
    await this.putTag(this.pick(this.own), this.tagName());
  }

  /** The manifest by `reference` must be exactly `expected`; then its blobs (or a child) are pulled and checked. */
  private async pullAndVerify(expected: Pushed, reference: string): Promise<void> {
    const head = this.random() < 0.2;
    const res = await request(this.world, head ? 'manifest head' : 'manifest get', `/v2/${expected.repo}/manifests/${reference}`, { method: head ? 'HEAD' : 'GET', headers: { Accept: ACCEPT } });
    if (!this.check(res.status === 200, `${reference} in ${expected.repo}: ${res.status}`)) return;
    if (!this.check(res.headers.get('docker-content-digest') === expected.digest, `${reference} is ${res.headers.get('docker-content-digest')}, expected ${expected.digest}`)) return;
    if (head) {
      if (this.check(Number(res.headers.get('content-length')) === expected.bytes.length, `HEAD ${reference}: length ${res.headers.get('content-length')}`)) this.world.verifiedPulls++;
      return;
    }
    if (!this.check(res.digest === expected.digest && res.size === expected.bytes.length, `${reference}: body hashes to ${res.digest}`)) return;
    this.world.verifiedPulls++;
    if (expected.children.length > 0) {
      const child = this.pick(expected.children);
      return this.pullAndVerify(child, child.digest);
    }
    for (const blob of expected.blobs) {
      if (blob.bytes && this.random() < 0.3) {
        // A range of a multi-MB layer.
        const start = Math.floor(this.random() * (blob.size - 1));
        const end = Math.min(blob.size - 1, start + Math.floor(this.random() * 2 * MiB));
        const part = await request(this.world, 'blob get (range)', `/v2/${expected.repo}/blobs/${blob.digest}`, { headers: { Range: `bytes=${start}-${end}` } }, true);
        this.check(part.status === 206 && part.body!.equals(blob.bytes.subarray(start, end + 1)), `range ${start}-${end} of ${blob.digest}: ${part.status}`);
        continue;
      }
      const got = await request(this.world, blob.size >= MiB ? 'blob get (multi-MB)' : 'blob get (small)', `/v2/${expected.repo}/blobs/${blob.digest}`);
      this.check(got.status === 200 && got.digest === blob.digest && got.size === blob.size, `blob ${blob.digest}: ${got.status}, ${got.size} bytes hashing to ${got.digest}`);
    }
  }

  private async pullTag(): Promise<void> {
    if (this.tags.size === 0) return;
    const tag = this.pick([...this.tags.keys()]);
    await this.pullAndVerify(this.tags.get(tag)!, tag);
  }

  private async pullPublished(): Promise<void> {
    if (this.world.published.length === 0) return;
    const pushed = this.pick(this.world.published);
    await this.pullAndVerify(pushed, pushed.digest);
  }

  /** The repository's tags, filtered to this client's, are exactly the model's. */
  private async listTags(): Promise<void> {
    const res = await request(this.world, 'tag list', `/v2/${this.repo}/tags/list?n=1000`, {}, true);
    if (this.tags.size === 0 && res.status === 404) return;
    if (!this.check(res.status === 200, `tag list: ${res.status}`)) return;
    const listed = ((JSON.parse(res.body!.toString()) as { tags: string[] | null }).tags ?? []).filter((t) => t.startsWith(`c${this.id}-`)).sort();
    const expected = [...this.tags.keys()].sort();
    this.check(JSON.stringify(listed) === JSON.stringify(expected), `tags ${JSON.stringify(listed)}, expected ${JSON.stringify(expected)}`);
  }

  /** Delete the oldest own manifest by digest: its tags go with it. */
  private async deleteOne(): Promise<void> {
    const victim = this.own.shift()!;
    // Tag moves may have put the same manifest in `own` more than once.
    for (let i = this.own.length - 1; i >= 0; i--) if (this.own[i]!.digest === victim.digest) this.own.splice(i, 1);
    const res = await request(this.world, 'manifest delete', `/v2/${this.repo}/manifests/${victim.digest}`, { method: 'DELETE' });
    if (!this.check(res.status === 202, `delete ${victim.digest}: ${res.status}`)) return;
    for (const [tag, pushed] of this.tags) if (pushed.digest === victim.digest) this.tags.delete(tag);
    this.deleted.push(victim);
    if (this.deleted.length > 16) this.deleted.shift();
  }

  private async checkDeleted(): Promise<void> {
    if (this.deleted.length === 0) return;
    const gone = this.pick(this.deleted);
    // A manifest pushed again since (a tag move of the same bytes) is not gone: skip those.
    if (this.own.some((p) => p.digest === gone.digest)) return;
    const res = await request(this.world, 'manifest get', `/v2/${this.repo}/manifests/${gone.digest}`, { headers: { Accept: ACCEPT } });
    this.check(res.status === 404, `deleted ${gone.digest}: ${res.status}`);
  }
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
}

function median(values: number[]): number {
  return percentile([...values].sort((a, b) => a - b), 50);
}

async function rssBytes(pid: number): Promise<number | undefined> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => undefined);
  const m = status && /^VmRSS:\s+(\d+) kB/m.exec(status);
  return m ? Number(m[1]) * 1024 : undefined;
}

let dir: string;
let reg: RegistryProcess;
before(async () => {
  dir = await makeTempDir('soak-');
  reg = await spawnRegistry(dir);
});
after(async () => {
  await reg?.kill('SIGTERM');
  await rm(dir, { recursive: true, force: true });
});

test(`soak: ${CLIENTS} clients for ${SECONDS} s (${scaleOut() ? 'PostgreSQL + S3 + Redis' : 'filesystem + SQLite'}): no wrong answer, memory flat`, { timeout: (SECONDS + 180) * 1000 }, async (t) => {
  const world: World = {
    base: reg.url,
    pool: Array.from({ length: 8 }, (_, i) => {
      const bytes = randomBytes(MiB + Math.floor(((i * 5) / 7) * MiB) + i);
      return { digest: sha256(bytes), size: bytes.length, bytes };
    }),
    linked: new Set(),
    published: [],
    failures: [],
    failureCount: 0,
    latency: new Map(),
    requests: 0,
    verifiedPulls: 0,
    bytesUp: 0,
    bytesDown: 0,
  };
  const samples: number[] = [];
  const sampler = setInterval(() => void rssBytes(reg.child.pid!).then((rss) => rss !== undefined && samples.push(rss)), 1000);
  const started = performance.now();
  const deadline = Date.now() + SECONDS * 1000;
  try {
    await Promise.all(Array.from({ length: CLIENTS }, (_, i) => new Client(world, i).run(deadline)));
  } finally {
    clearInterval(sampler);
  }
  const elapsed = (performance.now() - started) / 1000;

  t.diagnostic(`${world.requests} requests (${world.verifiedPulls} manifest pulls checked) in ${elapsed.toFixed(1)} s: ${(world.requests / elapsed).toFixed(1)} requests/s, ` +
    `${(world.bytesUp / MiB / elapsed).toFixed(1)} MB/s pushed, ${(world.bytesDown / MiB / elapsed).toFixed(1)} MB/s pulled`);
  for (const [kind, times] of [...world.latency].sort(([a], [b]) => a.localeCompare(b))) {
    const sorted = [...times].sort((a, b) => a - b);
    t.diagnostic(`${kind.padEnd(26)} n=${String(sorted.length).padStart(6)}  p50 ${percentile(sorted, 50).toFixed(1).padStart(7)} ms  p99 ${percentile(sorted, 99).toFixed(1).padStart(8)} ms`);
  }
  // Memory: after a warm-up (the first fifth), the median of the last third of the samples may
  // not exceed the first third's by more than half plus 30 MB (caches and pools fill early).
  const steady = samples.slice(Math.floor(samples.length / 5));
  const third = Math.floor(steady.length / 3);
  const early = median(steady.slice(0, third));
  const late = median(steady.slice(steady.length - third));
  t.diagnostic(`registry RSS: ${samples.length} samples, min ${(Math.min(...samples) / MiB).toFixed(0)} MB, max ${(Math.max(...samples) / MiB).toFixed(0)} MB; ` +
    `steady state: first third median ${(early / MiB).toFixed(0)} MB, last third median ${(late / MiB).toFixed(0)} MB`);

  assert.equal(world.failureCount, 0, `${world.failureCount} wrong answers or errors, first: ${world.failures.join('\n')}`);
  assert.ok(world.verifiedPulls >= CLIENTS, `only ${world.verifiedPulls} manifests pulled and checked`);
  assert.ok(third >= 3, `too few memory samples (${samples.length})`);
  assert.ok(late <= early * 1.5 + 30 * MiB, `memory grew: ${(early / MiB).toFixed(0)} MB → ${(late / MiB).toFixed(0)} MB`);
  // The registry survived it all and still answers.
  assert.equal((await fetch(`${reg.url}/v2/`)).status, 200);
});
