// Crash test: `registry serve` runs as a child process while workers push (monolithic and
// chunked uploads, manifests, tags) and read; it is SIGKILLed at a random moment, restarted on
// the same data dir, and everything it acknowledged must still be there, byte for byte:
// - every blob whose upload got 201 reads back with bytes that hash to its digest;
// - every manifest whose PUT got 201 reads back identical by digest; its tag resolves to the
//   last acknowledged push, or to a later push that was cut off (its outcome is unknown);
// - no blob GET ever returns bytes that do not match the digest (no partial blob);
// - upload sessions that were acknowledged (202 + Range) report the acknowledged offset (or the
//   end of a PATCH the kill cut off, if that PATCH made it to disk) and can go on from there;
// - nothing is left in <dataDir>/uploads without a session (the start-up sweep).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes, randomInt } from 'node:crypto';
import { readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { makeTempDir, spawnRegistry, type RegistryProcess } from '../helpers/registry.js';

const ROUNDS = 15;
const WORKERS = 5;
const REPOS = ['crash/alpha', 'crash/beta'];
/** No round starts after this; a round is ~1-3 s (mostly the child's start-up). */
const TEST_BUDGET_MS = 110_000;
const MAX_ROUNDS = 60;
/**
 * With TEST_BACKEND=scaleout (PostgreSQL + S3) the staged uploads are not under the data dir,
 * and a restarted node cannot tell a dead writer's claim from a live node's, so an upload a
 * kill cut off mid-PATCH stays claimed until the lease runs out.
 */
const SCALE_OUT = process.env['TEST_BACKEND'] === 'scaleout';
const REQUEST_TIMEOUT_MS = 15_000;
const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const OCI_CONFIG = 'application/vnd.oci.image.config.v1+json';
const OCI_LAYER = 'application/vnd.oci.image.layer.v1.tar+gzip';

function sha256(data: Buffer): string {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}

function pick<T>(items: readonly T[]): T | undefined {
  return items.length ? items[randomInt(items.length)] : undefined;
}

/** What the registry acknowledged, and what it may or may not have kept (cut off by a kill). */
interface BlobRef {
  repo: string;
  digest: string;
  size: number;
}

interface Session {
  repo: string;
  id: string;
  /** The whole blob this session is uploading. */
  data: Buffer<ArrayBuffer>;
  /** Bytes acknowledged by the last 202 (or confirmed by a status GET after a restart). */
  acked: number;
  /** The end offset of a PATCH (or PUT with a last chunk) sent but not answered. */
  pendingEnd?: number;
  /** A PUT ?digest= was sent and not answered: the session may be gone, completed or not. */
  completing?: boolean;
  /** A worker is using it. */
  busy: boolean;
}

interface TagState {
  /** Digest of the last acknowledged push of the tag. */
  acked?: string;
  /** Digests pushed to the tag after that, unanswered: the tag may point at any of them. */
  unanswered: Set<string>;
}

class Model {
  readonly blobs = new Map<string, BlobRef>(); // key repo@digest
  /** Blobs whose upload was cut off: absent, or whole. */
  readonly maybeBlobs = new Map<string, BlobRef>();
  readonly manifests = new Map<string, { repo: string; digest: string; body: Buffer }>();
  readonly maybeManifests = new Map<string, { repo: string; digest: string; body: Buffer }>();
  readonly tags = new Map<string, TagState>(); // key repo:tag
  readonly sessions = new Map<string, Session>();
  /** Blobs acknowledged since the last verification (checked in full each round). */
  fresh: BlobRef[] = [];
  readonly failures: string[] = [];
  stats = { monolithic: 0, chunked: 0, postPut: 0, manifests: 0, patches: 0, resumed: 0, reads: 0, kills: 0, cutOff: 0, continuedAfterRestart: 0, continuedAfterCutOff: 0, swept: 0 };

  ackBlob(b: BlobRef): void {
    const key = `${b.repo}@${b.digest}`;
    this.maybeBlobs.delete(key);
    if (!this.blobs.has(key)) {
      this.blobs.set(key, b);
      this.fresh.push(b);
    }
  }

  maybeBlob(b: BlobRef): void {
    const key = `${b.repo}@${b.digest}`;
    if (!this.blobs.has(key)) this.maybeBlobs.set(key, b);
  }

  blobsIn(repo: string): BlobRef[] {
    return [...this.blobs.values()].filter((b) => b.repo === repo);
  }

  fail(message: string): void {
    if (this.failures.length < 50) this.failures.push(message);
  }
}

/** A request that the kill may cut off: resolves to undefined on a network error. */
async function send(url: string, init: RequestInit): Promise<Response | undefined> {
  try {
    return await fetch(url, { ...init, signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
  } catch {
    return undefined;
  }
}

/** The whole body, or undefined when the connection broke before it was complete. */
async function bodyOf(res: Response): Promise<Buffer | undefined> {
  try {
    return Buffer.from(await res.arrayBuffer());
  } catch {
    return undefined;
  }
}

function rangeEnd(res: Response): number | undefined {
  const m = /^0-(\d+)$/.exec(res.headers.get('range') ?? '');
  return m ? Number(m[1]) : undefined;
}

/** Upload offset from a Range header: `0-(n-1)` means n bytes; a session of 0 bytes answers `0-0`. */
function rangeMatches(res: Response, size: number): boolean {
  const end = rangeEnd(res);
  return size === 0 ? end === 0 || res.headers.get('range') === null : end === size - 1;
}

class Load {
  stopped = false;

  constructor(
    private readonly model: Model,
    private readonly base: string,
  ) {}

  private ok(what: string, res: Response, expected: number): boolean {
    if (res.status === expected) return true;
    this.model.fail(`${what}: expected ${expected}, got ${res.status} ${res.headers.get('content-type') ?? ''}`);
    void res.body?.cancel().catch(() => undefined);
    return false;
  }

  /** A network error while the server is meant to be up is a failure; after the kill it ends the worker. */
  private lost(what: string): void {
    if (!this.stopped) this.model.fail(`${what}: connection failed while the server was up`);
  }

  async worker(w: number): Promise<void> {
    for (let op = 0; op < 400 && !this.stopped; op++) {
      const r = randomInt(100);
      if (r < 22) await this.monolithic();
      else if (r < 45) await this.chunked();
      else if (r < 55) await this.postThenPut();
      else if (r < 70) await this.resume();
      else if (r < 85) await this.manifest(w);
      else await this.read();
    }
  }

  private async monolithic(): Promise<void> {
    const repo = pick(REPOS)!;
    // Some large ones, so that kills land mid-body and leave staged bytes with no session.
    const data = randomBytes(randomInt(10) < 7 ? randomInt(1, 256 * 1024) : randomInt(1024 * 1024, 4 * 1024 * 1024));
    const blob = { repo, digest: sha256(data), size: data.length };
    this.model.maybeBlob(blob);
    const res = await send(`${this.base}/v2/${repo}/blobs/uploads/?digest=${blob.digest}`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/octet-stream' },
      body: data,
    });
    if (!res) return this.lost('monolithic POST');
    if (!this.ok('monolithic POST', res, 201)) return;
    if (res.headers.get('docker-content-digest') !== blob.digest) this.model.fail('monolithic POST: wrong Docker-Content-Digest');
    this.model.ackBlob(blob);
    this.model.stats.monolithic++;
  }

  /** POST, then the whole blob in one PUT (containerd's way). */
  private async postThenPut(): Promise<void> {
    const repo = pick(REPOS)!;
    const start = await send(`${this.base}/v2/${repo}/blobs/uploads/`, { method: 'POST' });
    if (!start) return this.lost('POST (upload start)');
    if (!this.ok('POST (upload start)', start, 202)) return;
    const location = start.headers.get('location')!;
    const data = randomBytes(randomInt(1, 200 * 1024));
    const blob = { repo, digest: sha256(data), size: data.length };
    this.model.maybeBlob(blob);
    const url = new URL(location, this.base);
    url.searchParams.set('digest', blob.digest);
    const res = await send(url.href, { method: 'PUT', headers: { 'Content-Type': 'application/octet-stream' }, body: data });
    if (!res) return this.lost('PUT with body');
    if (!this.ok('PUT with body', res, 201)) return;
    this.model.ackBlob(blob);
    this.model.stats.postPut++;
  }

  /** A new chunked upload: POST, then some PATCHes; it is finished here or by a later `resume`. */
  private async chunked(): Promise<void> {
    const repo = pick(REPOS)!;
    const res = await send(`${this.base}/v2/${repo}/blobs/uploads/`, { method: 'POST' });
    if (!res) return this.lost('POST (chunked start)');
    if (!this.ok('POST (chunked start)', res, 202)) return;
    const location = res.headers.get('location') ?? '';
    const id = location.split('/').pop()!;
    if (!location.startsWith(`/v2/${repo}/blobs/uploads/`) || !id) return this.model.fail(`chunked POST: bad Location ${location}`);
    const session: Session = { repo, id, data: randomBytes(randomInt(64 * 1024, 1536 * 1024)), acked: 0, busy: true };
    this.model.sessions.set(id, session);
    await this.drive(session, randomInt(1, 4));
  }

  /** Go on with an upload session some earlier worker (maybe before a restart) left open. */
  private async resume(): Promise<void> {
    const session = pick([...this.model.sessions.values()].filter((s) => !s.busy && s.pendingEnd === undefined && !s.completing));
    if (!session) return this.chunked();
    session.busy = true;
    this.model.stats.resumed++;
    await this.drive(session, randomInt(1, 6));
  }

  /** Send up to `chunks` PATCHes, then (if all data is sent) PUT ?digest=. Leaves the session busy=false. */
  private async drive(session: Session, chunks: number): Promise<void> {
    try {
      for (let i = 0; i < chunks && session.acked < session.data.length && !this.stopped; i++) {
        const start = session.acked;
        const end = Math.min(session.data.length, start + randomInt(16 * 1024, 384 * 1024));
        session.pendingEnd = end;
        const res = await send(`${this.base}/v2/${session.repo}/blobs/uploads/${session.id}`, {
          method: 'PATCH',
          headers: { 'Content-Type': 'application/octet-stream', 'Content-Range': `${start}-${end - 1}` },
          body: session.data.subarray(start, end),
        });
        if (!res) return this.lost('PATCH');
        if (!this.ok(`PATCH ${start}-${end - 1}`, res, 202)) {
          this.model.sessions.delete(session.id);
          return;
        }
        if (!rangeMatches(res, end)) this.model.fail(`PATCH: Range ${res.headers.get('range')} after ${end} bytes`);
        session.acked = end;
        session.pendingEnd = undefined;
        this.model.stats.patches++;
      }
      if (session.acked < session.data.length || this.stopped) return;
      const blob = { repo: session.repo, digest: sha256(session.data), size: session.data.length };
      this.model.maybeBlob(blob);
      session.completing = true;
      const res = await send(`${this.base}/v2/${session.repo}/blobs/uploads/${session.id}?digest=${blob.digest}`, { method: 'PUT' });
      if (!res) return this.lost('PUT (complete)');
      session.completing = false;
      this.model.sessions.delete(session.id);
      if (!this.ok('PUT (complete)', res, 201)) return;
      this.model.ackBlob(blob);
      this.model.stats.chunked++;
    } finally {
      session.busy = false;
    }
  }

  /** A config blob, then an image manifest over acknowledged blobs, pushed by tag (sometimes by digest). */
  private async manifest(w: number): Promise<void> {
    const repo = pick(REPOS)!;
    const layers = this.model.blobsIn(repo);
    if (layers.length === 0) return this.monolithic();
    const chosen = Array.from({ length: randomInt(1, 4) }, () => pick(layers)!);
    const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: chosen.map((l) => l.digest) }, nonce: randomBytes(8).toString('hex') }));
    const configBlob = { repo, digest: sha256(config), size: config.length };
    this.model.maybeBlob(configBlob);
    const res = await send(`${this.base}/v2/${repo}/blobs/uploads/?digest=${configBlob.digest}`, { method: 'POST', body: config, headers: { 'Content-Type': 'application/octet-stream' } });
    if (!res) return this.lost('config POST');
    if (!this.ok('config POST', res, 201)) return;
    this.model.ackBlob(configBlob);

    const body = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: OCI_MANIFEST,
        config: { mediaType: OCI_CONFIG, digest: configBlob.digest, size: configBlob.size },
        layers: chosen.map((l) => ({ mediaType: OCI_LAYER, digest: l.digest, size: l.size })),
      }),
    );
    const digest = sha256(body);
    const byDigest = randomInt(5) === 0;
    const tag = `w${w}-${randomInt(3)}`;
    const key = `${repo}@${digest}`;
    if (!this.model.manifests.has(key)) this.model.maybeManifests.set(key, { repo, digest, body });
    let state: TagState | undefined;
    if (!byDigest) {
      state = this.model.tags.get(`${repo}:${tag}`) ?? { unanswered: new Set() };
      this.model.tags.set(`${repo}:${tag}`, state);
      state.unanswered.add(digest);
    }
    const put = await send(`${this.base}/v2/${repo}/manifests/${byDigest ? digest : tag}`, {
      method: 'PUT',
      headers: { 'Content-Type': OCI_MANIFEST },
      body,
    });
    if (!put) return this.lost('manifest PUT');
    if (!this.ok('manifest PUT', put, 201)) return;
    if (put.headers.get('docker-content-digest') !== digest) this.model.fail('manifest PUT: wrong Docker-Content-Digest');
    this.model.maybeManifests.delete(key);
    this.model.manifests.set(key, { repo, digest, body });
    if (state) {
      state.acked = digest;
      state.unanswered = new Set();
    }
    this.model.stats.manifests++;
  }

  /** Read an acknowledged blob while pushes go on: when a body arrives whole, it matches. */
  private async read(): Promise<void> {
    const blob = pick([...this.model.blobs.values()]);
    if (!blob) return this.monolithic();
    const res = await send(`${this.base}/v2/${blob.repo}/blobs/${blob.digest}`, {});
    if (!res) return this.lost('blob GET');
    if (!this.ok(`GET acknowledged blob ${blob.digest}`, res, 200)) return;
    const body = await bodyOf(res);
    if (!body) return this.lost('blob GET body');
    if (sha256(body) !== blob.digest) this.model.fail(`GET ${blob.digest} returned ${body.length} bytes hashing to ${sha256(body)}`);
    this.model.stats.reads++;
  }
}

/** GET with a few retries on network errors (idempotent reads only). */
async function get(url: string, headers: Record<string, string> = {}): Promise<Response> {
  let last: unknown;
  for (let i = 0; i < 3; i++) {
    try {
      return await fetch(url, { headers, signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
    } catch (err) {
      last = err;
      await sleep(100);
    }
  }
  throw new Error(`GET ${url} failed: ${String(last)}`);
}

async function checkBlob(base: string, blob: BlobRef, mustExist: boolean): Promise<boolean> {
  const res = await get(`${base}/v2/${blob.repo}/blobs/${blob.digest}`);
  if (!mustExist && res.status === 404) {
    await res.body?.cancel();
    return false;
  }
  assert.equal(res.status, 200, `blob ${blob.repo}@${blob.digest} (${mustExist ? 'acknowledged' : 'cut off'}) answers ${res.status}`);
  const body = Buffer.from(await res.arrayBuffer());
  assert.equal(body.length, blob.size, `blob ${blob.digest}: ${body.length} bytes, expected ${blob.size}`);
  assert.equal(sha256(body), blob.digest, `blob ${blob.digest}: bytes do not match the digest`);
  return true;
}

/** Everything the model says must hold, checked against a freshly restarted server. */
async function verify(model: Model, base: string, dataDir: string, full: boolean, stagedBeforeRestart: string[]): Promise<void> {
  // Blobs: all the newly acknowledged ones, a sample (or all) of the older ones, and every cut-off one.
  const older = [...model.blobs.values()];
  const sample = full ? older : Array.from({ length: Math.min(15, older.length) }, () => pick(older)!);
  for (const blob of [...model.fresh, ...sample]) await checkBlob(base, blob, true);
  model.fresh = [];
  for (const blob of [...model.maybeBlobs.values()]) {
    // Once served whole, a blob must stay: from now on it counts as acknowledged.
    if (await checkBlob(base, blob, false)) model.ackBlob(blob);
  }
  model.fresh = [];

  // Manifests by digest: acknowledged ones identical; cut-off ones absent or identical.
  for (const m of model.manifests.values()) {
    const res = await get(`${base}/v2/${m.repo}/manifests/${m.digest}`, { Accept: OCI_MANIFEST });
    assert.equal(res.status, 200, `acknowledged manifest ${m.repo}@${m.digest} answers ${res.status}`);
    assert.ok(Buffer.from(await res.arrayBuffer()).equals(m.body), `manifest ${m.digest} reads back identical`);
  }
  for (const [key, m] of model.maybeManifests) {
    const res = await get(`${base}/v2/${m.repo}/manifests/${m.digest}`, { Accept: OCI_MANIFEST });
    if (res.status === 404) {
      await res.body?.cancel();
      continue;
    }
    assert.equal(res.status, 200);
    assert.ok(Buffer.from(await res.arrayBuffer()).equals(m.body), `cut-off manifest ${m.digest} is absent or whole`);
    model.maybeManifests.delete(key);
    model.manifests.set(key, m);
  }

  // Tags: the last acknowledged push, or a later cut-off one.
  for (const [key, state] of model.tags) {
    const [repo, tag] = key.split(':') as [string, string];
    const res = await get(`${base}/v2/${repo}/manifests/${tag}`, { Accept: OCI_MANIFEST });
    if (res.status === 404) {
      await res.body?.cancel();
      assert.equal(state.acked, undefined, `tag ${key} vanished; it was acknowledged at ${state.acked}`);
      continue;
    }
    assert.equal(res.status, 200, `tag ${key} answers ${res.status}`);
    const body = Buffer.from(await res.arrayBuffer());
    const digest = sha256(body);
    assert.equal(res.headers.get('docker-content-digest'), digest);
    const allowed = [...(state.acked ? [state.acked] : []), ...state.unanswered];
    assert.ok(allowed.includes(digest), `tag ${key} points at ${digest}; allowed: ${allowed.join(', ')}`);
    // Whatever it points at now is what later pushes are measured against.
    state.acked = digest;
    state.unanswered = new Set();
  }

  // Upload sessions: each reports the acknowledged offset (or the end of the PATCH the kill cut
  // off), and takes the next chunk from there.
  for (const session of [...model.sessions.values()]) {
    const url = `${base}/v2/${session.repo}/blobs/uploads/${session.id}`;
    const status = await get(url);
    await status.body?.cancel();
    if (session.completing) {
      // The PUT ?digest= was cut off: done (blob checked above), lost with the crash, or not started.
      model.sessions.delete(session.id);
      if (status.status === 404) continue;
      assert.equal(status.status, 204, `session ${session.id} (PUT cut off) answers ${status.status}`);
      assert.ok(rangeMatches(status, session.acked), `session ${session.id}: Range ${status.headers.get('range')}, acknowledged ${session.acked}`);
      continue;
    }
    assert.equal(status.status, 204, `acknowledged upload session ${session.id} answers ${status.status} after the restart`);
    const candidates = [session.acked, ...(session.pendingEnd !== undefined ? [session.pendingEnd] : [])];
    const at = candidates.find((n) => rangeMatches(status, n));
    assert.ok(at !== undefined, `session ${session.id}: Range ${status.headers.get('range')}; acknowledged ${session.acked}, cut-off PATCH to ${session.pendingEnd ?? '-'}`);
    const cutOff = session.pendingEnd !== undefined;
    session.acked = at;
    session.pendingEnd = undefined;
    if (session.acked < session.data.length) {
      // Continue right away: the acknowledged offset must take the next chunk.
      const end = Math.min(session.data.length, session.acked + 4096);
      const patch = await fetch(url, {
        method: 'PATCH',
        headers: { 'Content-Type': 'application/octet-stream', 'Content-Range': `${session.acked}-${end - 1}` },
        body: session.data.subarray(session.acked, end),
        signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
      });
      const text = await patch.text();
      if (SCALE_OUT && cutOff && patch.status === 416 && rangeMatches(patch, session.acked)) {
        model.sessions.delete(session.id); // still claimed by the killed writer (see SCALE_OUT)
        continue;
      }
      assert.equal(patch.status, 202, `session ${session.id}: PATCH from the acknowledged offset ${session.acked} after the restart: ${patch.status} ${text}`);
      assert.ok(rangeMatches(patch, end));
      session.acked = end;
      model.stats.continuedAfterRestart++;
      if (cutOff) model.stats.continuedAfterCutOff++;
    }
  }

  // Nothing staged without a session: monolithic staging never survives a restart, and every
  // other staged upload answers as a session in one of the repositories.
  if (SCALE_OUT) return;
  const staged = await readdir(join(dataDir, 'uploads'));
  for (const name of stagedBeforeRestart) if (!staged.includes(name)) model.stats.swept++;
  for (const name of staged) {
    let found = false;
    for (const repo of REPOS) {
      const res = await get(`${base}/v2/${repo}/blobs/uploads/${name}`);
      await res.body?.cancel();
      if (res.status === 204) found = true;
    }
    assert.ok(found, `staged file uploads/${name} has no upload session`);
  }
}

let dataDir: string;
let server: RegistryProcess | undefined;

before(async () => {
  dataDir = await makeTempDir('registry-e2e-crash-');
});

after(async () => {
  await server?.kill('SIGKILL');
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

/** Blobs and manifests the registry acknowledged so far. */
function acknowledged(model: Model): number {
  const s = model.stats;
  return s.monolithic + s.chunked + s.postPut + s.manifests;
}

test('SIGKILL under load: acknowledged pushes survive, nothing partial, sessions resume, no orphans', { timeout: 180_000 }, async () => {
  const started = Date.now();
  const model = new Model();
  let port = 0;
  let rounds = 0;
  // Rounds go on until the test has done enough to mean something (see the checks at the
  // end), at least ROUNDS of them, within the time budget.
  const enough = () => {
    const s = model.stats;
    return s.monolithic + s.chunked + s.postPut >= 30 && s.manifests >= 8 && s.patches >= 20 && s.resumed >= 5 && s.continuedAfterRestart >= 5 && (SCALE_OUT || s.swept >= 1);
  };
  for (let round = 0; (round < ROUNDS || !enough()) && round < MAX_ROUNDS && Date.now() - started < TEST_BUDGET_MS; round++) {
    // Staged files now: those the restart sweeps away had no session (counted in verify).
    const stagedBeforeRestart = SCALE_OUT ? [] : await readdir(join(dataDir, 'uploads')).catch(() => []);
    // Every other restart reuses the port clients already know; a taken port falls back to a new one.
    try {
      server = await spawnRegistry(dataDir, round % 2 === 1 ? port : 0);
    } catch (err) {
      if (port === 0 || round % 2 === 0) throw err;
      server = await spawnRegistry(dataDir, 0);
    }
    port = server.port;
    await verify(model, server.url, dataDir, false, stagedBeforeRestart);
    assert.deepEqual(model.failures, [], 'failures during the previous round');

    const load = new Load(model, server.url);
    const workers = Array.from({ length: WORKERS }, (_, w) => load.worker(w));
    // Kill at a random moment, but only once this round acknowledged something: on a slow or
    // busy machine (S3, or other test files beside this one) the test still does real work.
    const ackedAtStart = acknowledged(model);
    await sleep(SCALE_OUT ? randomInt(1_500, 3_500) : randomInt(80, 600));
    for (let waited = 0; acknowledged(model) - ackedAtStart < 3 && waited < 5_000; waited += 50) await sleep(50);
    load.stopped = true;
    await server.kill('SIGKILL');
    model.stats.kills++;
    const settled = await Promise.race([Promise.all(workers).then(() => true), sleep(REQUEST_TIMEOUT_MS + 5_000, undefined, { ref: false }).then(() => false)]);
    assert.ok(settled, 'workers stopped after the kill');
    model.stats.cutOff += [...model.sessions.values()].filter((s) => s.pendingEnd !== undefined || s.completing).length;
    assert.deepEqual(model.failures, [], `failures during round ${round}`);
    rounds++;
  }

  // A last restart: everything, in full.
  const stagedBeforeRestart = SCALE_OUT ? [] : await readdir(join(dataDir, 'uploads'));
  server = await spawnRegistry(dataDir, 0);
  await verify(model, server.url, dataDir, true, stagedBeforeRestart);
  assert.deepEqual(model.failures, []);
  await server.kill('SIGTERM');
  server = undefined;

  const s = model.stats;
  // The test must have done real work to mean anything.
  assert.ok(rounds >= 8, `only ${rounds} rounds ran`);
  assert.ok(s.monolithic + s.chunked + s.postPut >= 30, `too few acknowledged blobs: ${JSON.stringify(s)}`);
  assert.ok(s.manifests >= 8, `too few manifests: ${JSON.stringify(s)}`);
  assert.ok(s.patches >= 20 && s.resumed >= 5 && s.continuedAfterRestart >= 5, `too few PATCHes or resumed sessions: ${JSON.stringify(s)}`);
  assert.ok(SCALE_OUT || s.swept >= 1, `no kill left staged bytes without a session, so the start-up sweep went untested: ${JSON.stringify(s)}`);
  console.log(`crash test: ${rounds} rounds in ${Date.now() - started} ms, ${model.blobs.size} blobs, ${model.manifests.size} manifests, ${model.tags.size} tags, ${model.sessions.size} open sessions; ${JSON.stringify(s)}`);
});
