// Crash test: `registry serve` runs as a child process while workers push (monolithic and
// chunked uploads, manifests, tags), delete manifests and tags, and pull, with online garbage
// collection running every few milliseconds; it is SIGKILLed at a random moment, restarted on
// the same data, at least 100 times, and everything it acknowledged must still hold:
// - every acknowledged image that was not deleted pulls back byte-identical: its manifest, its
//   config and every layer (a blob an undeleted manifest references is never collected);
// - a manifest or tag whose DELETE was acknowledged stays gone; a tag resolves to its last
//   acknowledged push, or to a later push the kill cut off;
// - no blob GET ever returns bytes that do not match the digest (no partial blob); a blob no
//   manifest references may be collected, but only once older than the review delay;
// - upload sessions that were acknowledged (202 + Range) report the acknowledged offset (or the
//   end of a PATCH the kill cut off, if that PATCH made it to disk) and can go on from there;
// - nothing is staged without a session after a start (the start-up sweep; on S3 once older
//   than uploads.orphanGraceMs);
// - at the end, `registry scrub` (the CLI) finds no problem, not even unrecorded bytes.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash, randomBytes, randomInt } from 'node:crypto';
import { readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { backendEnv, backendSettings, CLI, makeTempDir, RegistryLauncher, type RegistryProcess } from '../helpers/registry.js';
import { loadConfig, merge } from '../../src/config/load.js';
import { openBlobStore } from '../../src/storage/open.js';
import { uploadIdTime } from '../../src/registry/blobs.js';
import type { BlobStore } from '../../src/storage/blob-store.js';

/** The bar: 100 rounds on each backend, each required, none more. */
const ROUNDS = 100;
/**
 * No round starts after this; a round is about 2-5 s (a start, checks, a short load), depending
 * on the backend and the machine's load (scale-out, in CI next to another file: about 4.5 s).
 */
const TEST_BUDGET_MS = 500_000;
const WORKERS = 5;
/** Manifest deletes leave at least this many acknowledged images. */
const KEEP_IMAGES = 8;
const MAX_OPEN_SESSIONS = 10;
const REPOS = ['crash/alpha', 'crash/beta'];
/**
 * With TEST_BACKEND=scaleout (PostgreSQL + S3 + Redis) the staged uploads are in S3, and a
 * restarted node cannot tell a dead writer's claim from a live node's, so an upload a kill cut
 * off mid-PATCH stays claimed until the lease runs out.
 */
const SCALE_OUT = process.env['TEST_BACKEND'] === 'scaleout';
/**
 * Blob links younger than this are never collected; GC runs this often, in the server. Longer
 * on S3, where a push takes longer than half of 2 s on a busy machine: a manifest's layers are
 * picked among blobs acknowledged less than half of it ago.
 */
const REVIEW_DELAY_MS = SCALE_OUT ? 8_000 : 2_000;
const GC_INTERVAL_MS = 50;
/** On S3, orphans older than this are swept at start-up (uploads.orphanGraceMs). */
const ORPHAN_GRACE_MS = 1_000;
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

function sample<T>(items: readonly T[], n: number): T[] {
  return Array.from({ length: Math.min(n, items.length) }, () => pick(items)!);
}

/** What the registry acknowledged, and what it may or may not have kept (cut off by a kill). */
interface BlobRef {
  repo: string;
  digest: string;
  size: number;
  /** When the upload was sent: its link is younger than this, so GC keeps it until REVIEW_DELAY_MS later. */
  sentAt: number;
}

interface ImageRef {
  repo: string;
  digest: string;
  body: Buffer;
  /** Config and layers. */
  blobs: BlobRef[];
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
  /** Digest of the last acknowledged push of the tag (undefined: never pushed, or deleted). */
  acked?: string;
  /** Digests pushed to the tag after that, unanswered: the tag may point at any of them. */
  unanswered: Set<string>;
  /** A DELETE of the tag (or of the manifest it pointed at) was cut off: it may be gone. */
  mayBeGone: boolean;
}

const keyOf = (x: { repo: string; digest: string }) => `${x.repo}@${x.digest}`;

class Model {
  readonly blobs = new Map<string, BlobRef>();
  /** Blobs whose upload was cut off: absent, or whole. */
  readonly maybeBlobs = new Map<string, BlobRef>();
  /** Images acknowledged and not deleted. */
  readonly images = new Map<string, ImageRef>();
  /** Manifest PUTs cut off: absent, or whole. */
  readonly maybeImages = new Map<string, ImageRef>();
  /** Manifest DELETEs in flight, and those cut off (present and whole, or gone). */
  readonly deleting = new Map<string, ImageRef>();
  readonly maybeDeleted = new Map<string, ImageRef>();
  /** Manifests whose DELETE was acknowledged: they must stay gone. */
  readonly deleted = new Map<string, ImageRef>();
  readonly tags = new Map<string, TagState>(); // key repo:tag
  readonly sessions = new Map<string, Session>();
  /** Blobs and manifests a request in flight relies on: no manifest DELETE may take them away. */
  private readonly pins = new Map<string, number>();
  /** Acknowledged since the last verification (checked in full each round). */
  freshBlobs: BlobRef[] = [];
  freshImages: ImageRef[] = [];
  freshDeleted: ImageRef[] = [];
  readonly failures: string[] = [];
  stats = {
    monolithic: 0, chunked: 0, postPut: 0, manifests: 0, patches: 0, resumed: 0, blobReads: 0, pulls: 0,
    manifestDeletes: 0, tagDeletes: 0, deletesCutOff: 0, collected: 0, refusedCollected: 0,
    kills: 0, cutOff: 0, continuedAfterRestart: 0, continuedAfterCutOff: 0, swept: 0,
    /** Where the time goes: starts, checks after a start, load until the kill. */
    startMs: 0, verifyMs: 0, loadMs: 0,
  };

  ackBlob(b: BlobRef): void {
    const key = keyOf(b);
    this.maybeBlobs.delete(key);
    if (!this.blobs.has(key)) {
      this.blobs.set(key, b);
      this.freshBlobs.push(b);
    }
  }

  maybeBlob(b: BlobRef): void {
    if (!this.blobs.has(keyOf(b))) this.maybeBlobs.set(keyOf(b), b);
  }

  ackImage(m: ImageRef): void {
    this.maybeImages.delete(keyOf(m));
    this.images.set(keyOf(m), m);
    this.freshImages.push(m);
  }

  ackDeleted(m: ImageRef): void {
    this.deleting.delete(keyOf(m));
    this.maybeDeleted.delete(keyOf(m));
    this.deleted.set(keyOf(m), m);
    this.freshDeleted.push(m);
  }

  /** Blobs an acknowledged, undeleted manifest of their repository references: GC must keep them. */
  protectedBlobs(): Set<string> {
    const keys = new Set<string>();
    for (const m of this.images.values()) for (const b of m.blobs) keys.add(keyOf(b));
    return keys;
  }

  /** Whether GC may have deleted this blob by now: no manifest keeps it and its link is old enough. */
  mayBeCollected(b: BlobRef, protectedKeys = this.protectedBlobs()): boolean {
    return !protectedKeys.has(keyOf(b)) && Date.now() - b.sentAt > REVIEW_DELAY_MS;
  }

  /** Blobs a new manifest may reference: kept by a manifest, or too young to be collected. */
  usableBlobs(repo: string): BlobRef[] {
    const keys = this.protectedBlobs();
    return [...this.blobs.values()].filter((b) => b.repo === repo && (keys.has(keyOf(b)) || Date.now() - b.sentAt < REVIEW_DELAY_MS / 2));
  }

  pin(keys: string[]): () => void {
    for (const k of keys) this.pins.set(k, (this.pins.get(k) ?? 0) + 1);
    return () => {
      for (const k of keys) {
        const n = this.pins.get(k)! - 1;
        if (n === 0) this.pins.delete(k);
        else this.pins.set(k, n);
      }
    };
  }

  pinned(m: ImageRef): boolean {
    return this.pins.has(keyOf(m)) || m.blobs.some((b) => this.pins.has(keyOf(b)));
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
      if (r < 16) await this.monolithic();
      else if (r < 32) await this.chunked();
      else if (r < 40) await this.postThenPut();
      else if (r < 52) await this.resume();
      else if (r < 70) await this.manifest(w);
      else if (r < 78) await this.deleteManifest();
      else if (r < 84) await this.deleteTag(w);
      else if (r < 92) await this.readBlob();
      else await this.pull();
    }
  }

  private async monolithic(repo = pick(REPOS)!): Promise<void> {
    // Some large ones, so that kills land mid-body and leave staged bytes with no session.
    const data = randomBytes(randomInt(10) < 7 ? randomInt(1, 128 * 1024) : randomInt(512 * 1024, 2 * 1024 * 1024));
    const blob = { repo, digest: sha256(data), size: data.length, sentAt: Date.now() };
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
    const sentAt = Date.now();
    const start = await send(`${this.base}/v2/${repo}/blobs/uploads/`, { method: 'POST' });
    if (!start) return this.lost('POST (upload start)');
    if (!this.ok('POST (upload start)', start, 202)) return;
    const location = start.headers.get('location')!;
    const data = randomBytes(randomInt(1, 200 * 1024));
    const blob = { repo, digest: sha256(data), size: data.length, sentAt };
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
    // A bounded number of open sessions: each is checked and continued after every restart.
    if (this.model.sessions.size >= MAX_OPEN_SESSIONS && [...this.model.sessions.values()].some((s) => !s.busy && s.pendingEnd === undefined && !s.completing)) return this.resume();
    const repo = pick(REPOS)!;
    const res = await send(`${this.base}/v2/${repo}/blobs/uploads/`, { method: 'POST' });
    if (!res) return this.lost('POST (chunked start)');
    if (!this.ok('POST (chunked start)', res, 202)) return;
    const location = res.headers.get('location') ?? '';
    const id = location.split('/').pop()!;
    if (!location.startsWith(`/v2/${repo}/blobs/uploads/`) || !id) return this.model.fail(`chunked POST: bad Location ${location}`);
    const session: Session = { repo, id, data: randomBytes(randomInt(64 * 1024, 1024 * 1024)), acked: 0, busy: true };
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
      const blob = { repo: session.repo, digest: sha256(session.data), size: session.data.length, sentAt: Date.now() };
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

  /** A config blob, then an image manifest over usable blobs, pushed by tag (sometimes by digest). */
  private async manifest(w: number): Promise<void> {
    const repo = pick(REPOS)!;
    const usable = this.model.usableBlobs(repo);
    if (usable.length === 0) return this.monolithic(repo);
    const layers = sample(usable, randomInt(1, 4));
    const unpin = this.model.pin(layers.map(keyOf));
    try {
      const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: layers.map((l) => l.digest) }, nonce: randomBytes(8).toString('hex') }));
      const configBlob = { repo, digest: sha256(config), size: config.length, sentAt: Date.now() };
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
          layers: layers.map((l) => ({ mediaType: OCI_LAYER, digest: l.digest, size: l.size })),
        }),
      );
      const image: ImageRef = { repo, digest: sha256(body), body, blobs: [configBlob, ...layers] };
      const byDigest = randomInt(5) === 0;
      const tag = `w${w}-${randomInt(3)}`;
      this.model.maybeImages.set(keyOf(image), image);
      let state: TagState | undefined;
      if (!byDigest) {
        state = this.model.tags.get(`${repo}:${tag}`) ?? { unanswered: new Set(), mayBeGone: false };
        this.model.tags.set(`${repo}:${tag}`, state);
        state.unanswered.add(image.digest);
      }
      const put = await send(`${this.base}/v2/${repo}/manifests/${byDigest ? image.digest : tag}`, {
        method: 'PUT',
        headers: { 'Content-Type': OCI_MANIFEST },
        body,
      });
      if (!put) return this.lost('manifest PUT');
      if (put.status === 400 && image.blobs.some((b) => this.model.mayBeCollected(b))) {
        // A layer nothing kept past the review delay may be collected: the push is refused.
        const text = await put.text();
        if (!text.includes('MANIFEST_BLOB_UNKNOWN')) this.model.fail(`manifest PUT over a collected blob: 400 ${text}`);
        this.model.maybeImages.delete(keyOf(image));
        state?.unanswered.delete(image.digest);
        this.model.stats.refusedCollected++;
        return;
      }
      if (!this.ok('manifest PUT', put, 201)) return;
      if (put.headers.get('docker-content-digest') !== image.digest) this.model.fail('manifest PUT: wrong Docker-Content-Digest');
      this.model.ackImage(image);
      if (state) {
        state.acked = image.digest;
        state.unanswered = new Set();
        state.mayBeGone = false;
      }
      this.model.stats.manifests++;
    } finally {
      unpin();
    }
  }

  /** DELETE a manifest by digest that nothing in flight relies on; its tags go with it. */
  private async deleteManifest(): Promise<void> {
    // Some images always stay, so the last full check and the scrub have something to check.
    if (this.model.images.size <= KEEP_IMAGES) return this.readBlob();
    const image = pick([...this.model.images.values()].filter((m) => !this.model.pinned(m)));
    if (!image) return this.readBlob();
    this.model.images.delete(keyOf(image));
    this.model.deleting.set(keyOf(image), image);
    const res = await send(`${this.base}/v2/${image.repo}/manifests/${image.digest}`, { method: 'DELETE' });
    const pointing = [...this.model.tags].filter(([key, t]) => key.startsWith(`${image.repo}:`) && t.acked === image.digest).map(([, t]) => t);
    if (!res) {
      this.model.deleting.delete(keyOf(image));
      this.model.maybeDeleted.set(keyOf(image), image);
      for (const t of pointing) t.mayBeGone = true;
      this.model.stats.deletesCutOff++;
      return this.lost('manifest DELETE');
    }
    if (!this.ok(`DELETE manifest ${image.digest}`, res, 202)) {
      this.model.deleting.delete(keyOf(image));
      this.model.images.set(keyOf(image), image);
      return;
    }
    await res.body?.cancel();
    this.model.ackDeleted(image);
    for (const t of pointing) t.acked = undefined;
    this.model.stats.manifestDeletes++;
  }

  /** DELETE one of this worker's tags (only this worker pushes it); the manifest stays. */
  private async deleteTag(w: number): Promise<void> {
    const repo = pick(REPOS)!;
    const tag = `w${w}-${randomInt(3)}`;
    const state = this.model.tags.get(`${repo}:${tag}`);
    const image = state?.acked ? this.model.images.get(`${repo}@${state.acked}`) : undefined;
    if (!state || !image || state.unanswered.size || state.mayBeGone) return this.pull();
    const unpin = this.model.pin([keyOf(image)]);
    try {
      const res = await send(`${this.base}/v2/${repo}/manifests/${tag}`, { method: 'DELETE' });
      if (!res) {
        state.mayBeGone = true;
        this.model.stats.deletesCutOff++;
        return this.lost('tag DELETE');
      }
      if (!this.ok(`DELETE tag ${repo}:${tag}`, res, 202)) return;
      await res.body?.cancel();
      state.acked = undefined;
      this.model.stats.tagDeletes++;
    } finally {
      unpin();
    }
  }

  /** Read a blob while pushes, deletes and GC go on: whole and right, or gone only if GC may take it. */
  private async readBlob(): Promise<void> {
    const blob = pick([...this.model.blobs.values()]);
    if (!blob) return this.monolithic();
    const unpin = this.model.pin([keyOf(blob)]);
    try {
      const res = await send(`${this.base}/v2/${blob.repo}/blobs/${blob.digest}`, {});
      if (!res) return this.lost('blob GET');
      if (res.status === 404 && this.model.mayBeCollected(blob)) {
        await res.body?.cancel();
        return;
      }
      if (!this.ok(`GET acknowledged blob ${blob.digest}`, res, 200)) return;
      const body = await bodyOf(res);
      if (!body) return this.lost('blob GET body');
      if (sha256(body) !== blob.digest) this.model.fail(`GET ${blob.digest} returned ${body.length} bytes hashing to ${sha256(body)}`);
      this.model.stats.blobReads++;
    } finally {
      unpin();
    }
  }

  /** Pull an acknowledged image: manifest, config and layers, each byte-identical. */
  private async pull(): Promise<void> {
    const image = pick([...this.model.images.values()]);
    if (!image) return this.readBlob();
    const unpin = this.model.pin([keyOf(image), ...image.blobs.map(keyOf)]);
    try {
      const res = await send(`${this.base}/v2/${image.repo}/manifests/${image.digest}`, { headers: { Accept: OCI_MANIFEST } });
      if (!res) return this.lost('manifest GET');
      if (!this.ok(`GET manifest ${image.digest}`, res, 200)) return;
      const body = await bodyOf(res);
      if (!body) return this.lost('manifest GET body');
      if (!body.equals(image.body)) this.model.fail(`GET manifest ${image.digest}: not the bytes pushed`);
      for (const blob of image.blobs) {
        const blobRes = await send(`${this.base}/v2/${blob.repo}/blobs/${blob.digest}`, {});
        if (!blobRes) return this.lost('blob GET (pull)');
        if (!this.ok(`GET blob ${blob.digest} of image ${image.digest}`, blobRes, 200)) return;
        const bytes = await bodyOf(blobRes);
        if (!bytes) return this.lost('blob GET body (pull)');
        if (sha256(bytes) !== blob.digest) this.model.fail(`GET ${blob.digest} (pull) returned bytes hashing to ${sha256(bytes)}`);
      }
      this.model.stats.pulls++;
    } finally {
      unpin();
    }
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

/** Whether the blob is there; when it is, its bytes must be whole. */
async function blobPresent(base: string, blob: BlobRef, what: string): Promise<boolean> {
  const res = await get(`${base}/v2/${blob.repo}/blobs/${blob.digest}`);
  if (res.status === 404) {
    await res.body?.cancel();
    return false;
  }
  assert.equal(res.status, 200, `blob ${blob.repo}@${blob.digest} (${what}) answers ${res.status}`);
  const body = Buffer.from(await res.arrayBuffer());
  assert.equal(body.length, blob.size, `blob ${blob.digest} (${what}): ${body.length} bytes, expected ${blob.size}`);
  assert.equal(sha256(body), blob.digest, `blob ${blob.digest} (${what}): bytes do not match the digest`);
  return true;
}

/** The manifest by digest: its bytes when present (checked against the pushed ones), else undefined. */
async function manifestPresent(base: string, image: ImageRef): Promise<boolean> {
  const res = await get(`${base}/v2/${image.repo}/manifests/${image.digest}`, { Accept: OCI_MANIFEST });
  if (res.status === 404) {
    await res.body?.cancel();
    return false;
  }
  assert.equal(res.status, 200, `manifest ${keyOf(image)} answers ${res.status}`);
  assert.ok(Buffer.from(await res.arrayBuffer()).equals(image.body), `manifest ${keyOf(image)} reads back identical`);
  return true;
}

/** Pull an image that must be there: manifest, config and layers, byte-identical. */
async function pullImage(base: string, image: ImageRef): Promise<void> {
  assert.ok(await manifestPresent(base, image), `acknowledged, undeleted manifest ${keyOf(image)} is gone`);
  for (const blob of image.blobs) assert.ok(await blobPresent(base, blob, `of image ${image.digest}`), `blob ${blob.digest} of acknowledged image ${keyOf(image)} is gone`);
}

/** Staged upload ids in the store (the data dir's uploads/, or the S3 prefix's). */
type StagedLister = () => Promise<string[]>;

/** Everything the model says must hold, checked against a freshly restarted server. */
async function verify(model: Model, base: string, full: boolean, staged: StagedLister, stagedBeforeRestart: string[], startedAt: number): Promise<void> {
  // Cut-off manifest PUTs and DELETEs first: what they did decides which blobs must stay.
  await Promise.all([...model.maybeImages.values()].map(async (image) => {
    if (await manifestPresent(base, image)) model.ackImage(image);
    else model.maybeImages.delete(keyOf(image));
  }));
  await Promise.all([...model.maybeDeleted.values()].map(async (image) => {
    if (await manifestPresent(base, image)) {
      model.maybeDeleted.delete(keyOf(image));
      model.images.set(keyOf(image), image);
    } else model.ackDeleted(image);
  }));

  // Tags: the last acknowledged push, or a later cut-off one; gone only if deleted.
  // Each check below is independent of the others: they run concurrently, as clients would.
  await Promise.all([...model.tags].map(async ([key, state]) => {
    const [repo, tag] = key.split(':') as [string, string];
    const res = await get(`${base}/v2/${repo}/manifests/${tag}`, { Accept: OCI_MANIFEST });
    if (res.status === 404) {
      await res.body?.cancel();
      assert.ok(state.acked === undefined || state.mayBeGone, `tag ${key} vanished; it was acknowledged at ${state.acked}`);
      state.acked = undefined;
    } else {
      assert.equal(res.status, 200, `tag ${key} answers ${res.status}`);
      const body = Buffer.from(await res.arrayBuffer());
      const digest = sha256(body);
      assert.equal(res.headers.get('docker-content-digest'), digest);
      const allowed = [...(state.acked ? [state.acked] : []), ...state.unanswered];
      assert.ok(allowed.includes(digest), `tag ${key} points at ${digest}; allowed: ${allowed.join(', ')}`);
      // Whatever it points at now is what later pushes are measured against.
      state.acked = digest;
    }
    state.unanswered = new Set();
    state.mayBeGone = false;
  }));

  // Images: the new ones and a sample of the older ones (all at the end) pull back whole.
  const images = full ? [...model.images.values()] : [...model.freshImages.filter((m) => model.images.has(keyOf(m))), ...sample([...model.images.values()], 3)];
  await Promise.all(images.map((image) => pullImage(base, image)));
  model.freshImages = [];
  // Deleted manifests stay gone.
  const deleted = full ? [...model.deleted.values()] : [...model.freshDeleted, ...sample([...model.deleted.values()], 3)];
  await Promise.all(deleted.map(async (image) => assert.equal(await manifestPresent(base, image), false, `manifest ${keyOf(image)} is back after its DELETE was acknowledged`)));
  model.freshDeleted = [];

  // Blobs: whole, or collected (only if nothing keeps them and they are old enough).
  const protectedKeys = model.protectedBlobs();
  const blobs = full ? [...model.blobs.values()] : [...model.freshBlobs, ...sample([...model.blobs.values()], 5)];
  const present = await Promise.all([...new Set(blobs)].map(async (blob) => [blob, await blobPresent(base, blob, 'acknowledged')] as const));
  for (const [blob, there] of present) {
    if (there || !model.blobs.has(keyOf(blob))) continue;
    assert.ok(model.mayBeCollected(blob, protectedKeys), `acknowledged blob ${keyOf(blob)} is gone, ${Date.now() - blob.sentAt} ms after it was sent, ${protectedKeys.has(keyOf(blob)) ? 'referenced by a manifest' : 'unreferenced'}`);
    model.blobs.delete(keyOf(blob));
    model.stats.collected++;
  }
  model.freshBlobs = [];
  await Promise.all([...model.maybeBlobs.values()].map(async (blob) => {
    // Served whole: from now on it counts as acknowledged. Absent: the kill cut it off for good.
    if (await blobPresent(base, blob, 'cut off')) model.ackBlob(blob);
    else model.maybeBlobs.delete(keyOf(blob));
  }));
  model.freshBlobs = [];

  // Upload sessions: each reports the acknowledged offset (or the end of the PATCH the kill cut
  // off); those a kill cut off, and a few others (all at the end), take the next chunk from there.
  const goOn = new Set(full ? model.sessions.values() : sample([...model.sessions.values()].filter((s) => s.pendingEnd === undefined), 2));
  await Promise.all([...model.sessions.values()].map(async (session) => {
    const url = `${base}/v2/${session.repo}/blobs/uploads/${session.id}`;
    const status = await get(url);
    await status.body?.cancel();
    if (session.completing) {
      // The PUT ?digest= was cut off: done (blob checked above), lost with the crash, or not started.
      model.sessions.delete(session.id);
      if (status.status === 404) return;
      assert.equal(status.status, 204, `session ${session.id} (PUT cut off) answers ${status.status}`);
      assert.ok(rangeMatches(status, session.acked), `session ${session.id}: Range ${status.headers.get('range')}, acknowledged ${session.acked}`);
      return;
    }
    assert.equal(status.status, 204, `acknowledged upload session ${session.id} answers ${status.status} after the restart`);
    const candidates = [session.acked, ...(session.pendingEnd !== undefined ? [session.pendingEnd] : [])];
    const at = candidates.find((n) => rangeMatches(status, n));
    assert.ok(at !== undefined, `session ${session.id}: Range ${status.headers.get('range')}; acknowledged ${session.acked}, cut-off PATCH to ${session.pendingEnd ?? '-'}`);
    const cutOff = session.pendingEnd !== undefined;
    session.acked = at;
    session.pendingEnd = undefined;
    if (session.acked < session.data.length && (cutOff || goOn.has(session))) {
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
        return;
      }
      assert.equal(patch.status, 202, `session ${session.id}: PATCH from the acknowledged offset ${session.acked} after the restart: ${patch.status} ${text}`);
      assert.ok(rangeMatches(patch, end));
      session.acked = end;
      model.stats.continuedAfterRestart++;
      if (cutOff) model.stats.continuedAfterCutOff++;
    }
  }));

  // Nothing staged without a session: the start-up sweep removed what the kill left (on S3,
  // what was older than the grace when the server started).
  const now = await staged();
  for (const id of stagedBeforeRestart) if (!now.includes(id)) model.stats.swept++;
  await Promise.all(now.map(async (id) => {
    if (SCALE_OUT && uploadIdTime(id) > startedAt - ORPHAN_GRACE_MS) return; // maybe another node's push just starting
    const answers = await Promise.all(REPOS.map(async (repo) => {
      const res = await get(`${base}/v2/${repo}/blobs/uploads/${id}`);
      await res.body?.cancel();
      return res.status;
    }));
    assert.ok(answers.includes(204), `staged upload ${id} has no upload session after the start-up sweep`);
  }));
}

/** `registry scrub --json` as a process, on the same stores: its exit code and report. */
async function scrub(dataDir: string): Promise<{ code: number | null; report: string; errors: string }> {
  const child = spawn(process.execPath, [CLI, 'scrub', '--json', '--orphan-grace', '0', '--data-dir', dataDir], {
    env: { ...process.env, ...(await backendEnv(dataDir)) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let report = '';
  let errors = '';
  child.stdout.on('data', (d: Buffer) => (report += d.toString()));
  child.stderr.on('data', (d: Buffer) => (errors += d.toString()));
  const code = await new Promise<number | null>((res) => child.once('exit', res));
  return { code, report, errors };
}

let dataDir: string;
let launcher: RegistryLauncher | undefined;
let server: RegistryProcess | undefined;
let store: BlobStore | undefined;

before(async () => {
  dataDir = await makeTempDir('registry-e2e-crash-');
});

after(async () => {
  await server?.kill('SIGKILL');
  await launcher?.close();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

/** Blobs and manifests the registry acknowledged so far. */
function acknowledged(model: Model): number {
  const s = model.stats;
  return s.monolithic + s.chunked + s.postPut + s.manifests + s.manifestDeletes + s.tagDeletes;
}

test(`SIGKILL during pushes, deletes and GC, ${ROUNDS} times: acknowledged images survive whole, deletes stay, nothing partial or orphaned, scrub clean`, { timeout: 570_000 }, async () => {
  const started = Date.now();
  const model = new Model();
  launcher = new RegistryLauncher(dataDir, {
    REGISTRY_LOG_LEVEL: 'info',
    REGISTRY_GC_INTERVAL_MS: String(GC_INTERVAL_MS),
    REGISTRY_GC_REVIEW_DELAY_MS: String(REVIEW_DELAY_MS),
    // Every collection lists the store: the end checks that the bytes kills left unrecorded are gone.
    REGISTRY_GC_UNRECORDED_SCAN_INTERVAL_MS: '0',
    REGISTRY_UPLOADS_ORPHAN_GRACE_MS: String(ORPHAN_GRACE_MS),
    // Nothing else in the background: start-up and the kills are what this test is about.
    REGISTRY_SCAN_ENABLED: 'false',
  });
  store = SCALE_OUT ? await openBlobStore(loadConfig({ env: {}, overrides: merge(await backendSettings(dataDir), { storage: { filesystem: { root: dataDir } } }) })) : undefined;
  const staged: StagedLister = store ? () => store!.listUploads() : () => readdir(join(dataDir, 'uploads')).catch(() => []);
  let port = 0;
  let rounds = 0;
  const startTimes: number[] = [];
  for (let round = 0; round < ROUNDS && Date.now() - started < TEST_BUDGET_MS; round++) {
    // Staged uploads now: those the restart sweeps away had no session (counted in verify).
    const stagedBeforeRestart = await staged();
    // Every other restart reuses the port clients already know; a taken port falls back to a new one.
    const startedAt = Date.now();
    try {
      server = await launcher.start(round % 2 === 1 ? port : 0);
    } catch (err) {
      if (port === 0 || round % 2 === 0) throw err;
      server = await launcher.start(0);
    }
    startTimes.push(Date.now() - startedAt);
    model.stats.startMs += Date.now() - startedAt;
    port = server.port;
    const verifying = Date.now();
    await verify(model, server.url, false, staged, stagedBeforeRestart, startedAt);
    assert.deepEqual(model.failures, [], 'failures during the previous round');
    model.stats.verifyMs += Date.now() - verifying;
    const loading = Date.now();

    const load = new Load(model, server.url);
    const workers = Array.from({ length: WORKERS }, (_, w) => load.worker(w));
    // Kill at a random moment, but only once this round acknowledged something: on a slow or
    // busy machine the test still does real work.
    const ackedAtStart = acknowledged(model);
    await sleep(SCALE_OUT ? randomInt(50, 600) : randomInt(50, 500));
    for (let waited = 0; acknowledged(model) - ackedAtStart < 3 && waited < 5_000; waited += 25) await sleep(25);
    load.stopped = true;
    await server.kill('SIGKILL');
    model.stats.kills++;
    const settled = await Promise.race([Promise.all(workers).then(() => true), sleep(REQUEST_TIMEOUT_MS + 5_000, undefined, { ref: false }).then(() => false)]);
    assert.ok(settled, 'workers stopped after the kill');
    model.stats.loadMs += Date.now() - loading;
    model.stats.cutOff += [...model.sessions.values()].filter((s) => s.pendingEnd !== undefined || s.completing).length;
    assert.deepEqual(model.failures, [], `failures during round ${round}`);
    rounds++;
  }
  const roundsMs = Date.now() - started;

  // A last start, once every orphan is older than the grace (on S3) and every unrecorded blob
  // older than the review delay: everything, in full.
  await sleep(Math.max(ORPHAN_GRACE_MS, REVIEW_DELAY_MS) + 200);
  const stagedBeforeRestart = await staged();
  server = await launcher.start(0);
  await launcher.close();
  // No staged upload counts as another node's push just starting: each must have a session.
  await verify(model, server.url, true, staged, stagedBeforeRestart, Number.POSITIVE_INFINITY);
  assert.deepEqual(model.failures, []);
  // A few collections more (every GC_INTERVAL_MS): bytes the kills left unrecorded are gone.
  await sleep(20 * GC_INTERVAL_MS);
  await server.kill('SIGTERM');
  server = undefined;

  // The stores the kills left behind: scrub finds nothing wrong, not even unrecorded bytes.
  const result = await scrub(dataDir);
  assert.equal(result.code, 0, `registry scrub exit code ${result.code}: ${result.report} ${result.errors.slice(-2000)}`);
  const report = JSON.parse(result.report) as { blobsChecked: number; manifestsChecked: number; badBlobs: unknown[]; brokenManifests: unknown[]; orphanBlobs: unknown[] };
  assert.deepEqual({ badBlobs: report.badBlobs, brokenManifests: report.brokenManifests, orphanBlobs: report.orphanBlobs }, { badBlobs: [], brokenManifests: [], orphanBlobs: [] });

  const s = model.stats;
  const summary = `${rounds} rounds in ${roundsMs} ms (${Date.now() - started} ms with the last checks and scrub), starts ${Math.min(...startTimes)}-${Math.max(...startTimes)} ms (median ${startTimes.sort((a, b) => a - b)[startTimes.length >> 1]}), ${model.blobs.size} blobs, ${model.images.size} images, ${model.deleted.size} deleted, ${model.tags.size} tags, ${model.sessions.size} open sessions; scrub checked ${report.blobsChecked} blobs and ${report.manifestsChecked} manifests; ${JSON.stringify(s)}`;
  console.log(`crash test (${SCALE_OUT ? 'scale-out' : 'embedded'}): ${summary}`);
  // The bar, and enough of each kind of work for the checks to mean something.
  assert.ok(rounds >= ROUNDS, `only ${rounds} rounds ran within the budget: ${summary}`);
  assert.ok(s.monolithic + s.chunked + s.postPut >= 100, `too few acknowledged blobs: ${summary}`);
  assert.ok(s.manifests >= 30 && s.pulls >= 20, `too few manifests or pulls: ${summary}`);
  // Workers check KEEP_IMAGES before they delete, concurrently: each may take one more.
  assert.ok(report.manifestsChecked >= KEEP_IMAGES - WORKERS && report.blobsChecked >= 2 * (KEEP_IMAGES - WORKERS), `too little left for the last checks and the scrub to mean something: ${summary}`);
  assert.ok(s.manifestDeletes >= 20 && s.tagDeletes >= 1, `too few deletes: ${summary}`);
  assert.ok(s.collected >= 10, `GC collected too few blobs for its crash safety to be tested: ${summary}`);
  assert.ok(s.patches >= 50 && s.resumed >= 20 && s.continuedAfterRestart >= 20, `too few PATCHes or resumed sessions: ${summary}`);
  assert.ok(s.swept >= 5, `too few kills left staged bytes without a session, so the start-up sweep went untested: ${summary}`);
});
