// A client for the OCI Distribution API of another registry, the base of `registry mirror`,
// pull-through caching and replication. Everything that arrives is checked against its digest
// (manifests before they are returned, blobs while they stream); requests that fail with 429,
// 5xx or a broken connection are retried a bounded number of times with backoff. Errors and
// the request hook carry methods, paths and statuses only: never credentials or tokens.
import { createHash } from 'node:crypto';
import type { LookupFunction } from 'node:net';
import { pipeline, Readable, Transform, type TransformCallback } from 'node:stream';
import { Agent } from 'undici';
import { Authorizer, TokenError, type Credentials } from './auth.js';
import { registryBaseUrl, remoteRepositoryName } from './registry-url.js';

export type { Credentials } from './auth.js';

/** The manifest types a pull accepts (all the ones this registry stores). */
export const MANIFEST_ACCEPT = [
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.docker.distribution.manifest.v2+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
] as const;

const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  artifactType?: string;
  annotations?: Record<string, string>;
  platform?: { os: string; architecture: string; variant?: string };
}

export interface ClientOptions {
  /** Basic credentials: sent as such to a Basic registry, or to the token realm of a Bearer one. */
  credentials?: Credentials;
  /** Longest wait for response headers, and for the next bytes of a body (default 30 s). */
  timeoutMs?: number;
  /** Retries after 429, 5xx and connection errors (default 4; 0 disables them). */
  retries?: number;
  /** First backoff delay; doubled each retry, with jitter (default 250 ms). A Retry-After header wins, up to 30 s. */
  retryDelayMs?: number;
  /** Blobs larger than this are pushed in chunks of this size (default 32 MiB). */
  chunkSize?: number;
  /** Largest manifest accepted (default 4 MiB, as this registry's own limit). */
  manifestMaxBytes?: number;
  userAgent?: string;
  /** Told of every response (method, path without query, status): for logs and request counts. */
  onResponse?: (event: { method: string; path: string; status: number }) => void;
  /**
   * Asked before every request, and before following each redirect, token realm and upload
   * location included; throws to refuse the URL (SSRF guard for remotes users choose).
   * With it, redirects are followed here, hop by hop, rather than by fetch.
   */
  checkTarget?: (url: URL) => Promise<void>;
  /**
   * Resolves a host name when a connection is opened, in place of the system's resolver, and
   * throws to refuse it (TargetRefusedError, not retried). The connection then goes to the
   * address this returned, whatever the name resolves to a moment later (DNS rebinding).
   * Address literals are not looked up: checkTarget covers them. Call close() when done.
   */
  connectTo?: (hostname: string) => Promise<{ address: string; family: number }>;
}

export interface ManifestResponse {
  /** The digest of `bytes`, verified (against the reference or the registry's Docker-Content-Digest). */
  digest: string;
  mediaType: string;
  bytes: Buffer;
}

export interface BlobResponse {
  size: number;
  /** The bytes; errors with DigestMismatchError at the end when they do not hash to the digest. */
  stream: Readable;
}

/** How a blob got into the repository. */
export type BlobPushResult = 'exists' | 'mounted' | 'uploaded';

/** An error answer from the registry (after retries). `code` is the spec's error code when it sent one. */
export class DistributionError extends Error {
  constructor(
    readonly status: number,
    readonly method: string,
    readonly path: string,
    readonly code?: string,
    detail?: string,
  ) {
    super(`${method} ${path}: ${status}${code ? ` ${code}` : ''}${detail ? ` (${detail})` : ''}`);
  }
}

/** Bytes that do not hash to the digest they were asked for. Nothing built on them should be kept. */
export class DigestMismatchError extends Error {
  constructor(
    readonly expected: string,
    readonly actual: string,
    what: string,
  ) {
    super(`${what}: expected ${expected}, got bytes hashing to ${actual}`);
  }
}

interface RequestOptions {
  method: string;
  /** Path under the registry's base URL, or an absolute URL (upload locations). */
  target: string | URL;
  /** The token scopes the request needs. */
  scopes: string[];
  headers?: Record<string, string>;
  /** A fresh body for each attempt. */
  body?: () => Buffer | Readable | Promise<Buffer | Readable>;
  /** Statuses that are answers rather than errors (others throw DistributionError). */
  ok: number[];
  /** Retry 429/5xx/connection errors (default true). */
  retry?: boolean;
}

interface Sent {
  res: Response;
  /** Aborts the request when its body stalls; `touch` on each chunk, `done` at the end. */
  watchdog: Watchdog;
  path: string;
  /** The Authorization header sent, if any (to tell a stale token from a first challenge). */
  authorization?: string;
}

const RETRYABLE = new Set([408, 429, 500, 502, 503, 504]);
const REDIRECTS = new Set([301, 302, 303, 307, 308]);
const MAX_REDIRECTS = 5;
const MAX_RETRY_AFTER_MS = 30_000;
const MAX_PAGES = 10_000;

class Watchdog {
  private timer: NodeJS.Timeout | undefined;
  constructor(
    readonly controller: AbortController,
    private readonly ms: number,
  ) {
    this.touch();
  }
  touch(): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.controller.abort(new Error(`no answer for ${this.ms} ms`)), this.ms);
    this.timer.unref();
  }
  done(): void {
    clearTimeout(this.timer);
  }
}

/** A backoff pause; it keeps the process alive (a command waiting to retry must not just exit). */
function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function parseDigest(digest: string): { algorithm: 'sha256' | 'sha512'; hex: string } {
  const m = /^(sha256|sha512):([a-f0-9]+)$/.exec(digest);
  if (!m || m[2]!.length !== (m[1] === 'sha256' ? 64 : 128)) throw new Error(`not a digest this client can verify: ${digest.slice(0, 140)}`);
  return { algorithm: m[1] as 'sha256' | 'sha512', hex: m[2]! };
}

function digestOf(algorithm: 'sha256' | 'sha512', bytes: Buffer): string {
  return `${algorithm}:${createHash(algorithm).update(bytes).digest('hex')}`;
}

/** A stream that passes bytes through and fails at the end unless they hash to `digest` (and have `size`, when known). */
export function verifyingStream(digest: string, size?: number): Transform {
  const { algorithm } = parseDigest(digest);
  const hash = createHash(algorithm);
  let seen = 0;
  return new Transform({
    transform(chunk: Buffer, _enc, cb: TransformCallback) {
      hash.update(chunk);
      seen += chunk.length;
      if (size !== undefined && seen > size) cb(new DigestMismatchError(digest, `more than ${size} bytes`, 'blob is larger than its descriptor says'));
      else cb(null, chunk);
    },
    flush(cb: TransformCallback) {
      const actual = `${algorithm}:${hash.digest('hex')}`;
      if (actual !== digest) cb(new DigestMismatchError(digest, actual, 'blob digest mismatch'));
      else if (size !== undefined && seen !== size) cb(new DigestMismatchError(digest, `${seen} bytes`, `blob size mismatch (expected ${size} bytes)`));
      else cb();
    },
  });
}

/** The `rel="next"` target of a Link header, if any. */
export function nextLink(header: string | null): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(',')) {
    const m = /<([^>]*)>\s*;(.*)$/.exec(part.trim());
    if (m && /\brel="?next"?/i.test(m[2]!)) return m[1];
  }
  return undefined;
}

export class DistributionClient {
  /** The registry's base URL (scheme, host, port). */
  readonly base: URL;
  private readonly auth: Authorizer;
  private readonly timeoutMs: number;
  private readonly retries: number;
  private readonly retryDelayMs: number;
  private readonly chunkSize: number;
  private readonly manifestMaxBytes: number;
  private readonly userAgent: string;
  /** Connections whose host names connectTo resolves (undefined: fetch's own). */
  private readonly dispatcher: Agent | undefined;

  /** `registry` is `host[:port]` (http for loopback, https otherwise), a URL, or `docker.io`. */
  constructor(
    registry: string,
    private readonly options: ClientOptions = {},
  ) {
    this.base = registryBaseUrl(registry);
    this.timeoutMs = options.timeoutMs ?? 30_000;
    this.retries = Math.max(0, options.retries ?? 4);
    this.retryDelayMs = options.retryDelayMs ?? 250;
    this.chunkSize = Math.max(1, options.chunkSize ?? 32 * 1024 * 1024);
    this.manifestMaxBytes = options.manifestMaxBytes ?? 4 * 1024 * 1024;
    this.userAgent = options.userAgent ?? 'oci-registry-client';
    this.dispatcher = options.connectTo ? new Agent({ connect: { lookup: checkedLookup(options.connectTo) } }) : undefined;
    this.auth = new Authorizer(options.credentials, (url, headers) =>
      this.send({ method: 'GET', target: url, scopes: [], headers, ok: [200, 401, 403, 404], authenticate: false }).then((s) => {
        s.watchdog.done();
        return s.res;
      }),
    );
  }

  /**
   * Closes the connections this client keeps (with connectTo; otherwise fetch's shared pool is
   * used), cutting off what is still running: a body nobody reads must not keep it open.
   */
  async close(): Promise<void> {
    await this.dispatcher?.destroy();
  }

  /** The repository's name at this registry (Docker Hub's `library/` prefix added). */
  repository(name: string): string {
    return remoteRepositoryName(this.base, name);
  }

  /** GET /v2/: resolves when the registry answers as a Distribution registry (authenticating if asked). */
  async ping(): Promise<void> {
    const { res, watchdog } = await this.request({ method: 'GET', target: '/v2/', scopes: [], ok: [200] });
    await res.body?.cancel().catch(() => undefined);
    watchdog.done();
  }

  /** The manifest named by a tag or digest, with its bytes verified. Throws DistributionError 404 when unknown. */
  async getManifest(repository: string, reference: string, accept: readonly string[] = MANIFEST_ACCEPT): Promise<ManifestResponse> {
    const name = this.repository(repository);
    const sent = await this.request({
      method: 'GET',
      target: `/v2/${name}/manifests/${reference}`,
      scopes: [`repository:${name}:pull`],
      headers: { Accept: accept.join(', ') },
      ok: [200],
    });
    const bytes = await this.readLimited(sent, this.manifestMaxBytes);
    const mediaType = (sent.res.headers.get('content-type') ?? '').split(';')[0]!.trim() || mediaTypeOf(bytes);
    const claimed = sent.res.headers.get('docker-content-digest') ?? undefined;
    const expected = reference.includes(':') ? reference : claimed;
    const digest = digestOf(expected ? parseDigest(expected).algorithm : 'sha256', bytes);
    if (expected !== undefined && digest !== expected) throw new DigestMismatchError(expected, digest, `manifest ${name}:${reference}`);
    return { digest, mediaType, bytes };
  }

  /** The manifest's descriptor without its bytes, or undefined when the registry does not have it. */
  async headManifest(repository: string, reference: string): Promise<Descriptor | undefined> {
    const name = this.repository(repository);
    const { res, watchdog } = await this.request({
      method: 'HEAD',
      target: `/v2/${name}/manifests/${reference}`,
      scopes: [`repository:${name}:pull`],
      headers: { Accept: MANIFEST_ACCEPT.join(', ') },
      ok: [200, 404],
    });
    watchdog.done();
    if (res.status === 404) return undefined;
    const digest = res.headers.get('docker-content-digest') ?? (reference.includes(':') ? reference : undefined);
    if (!digest) {
      // Some registries leave the digest out of HEAD answers: the manifest itself tells.
      const got = await this.getManifest(repository, reference);
      return { mediaType: got.mediaType, digest: got.digest, size: got.bytes.length };
    }
    return {
      mediaType: (res.headers.get('content-type') ?? '').split(';')[0]!.trim(),
      digest,
      size: Number(res.headers.get('content-length') ?? 0),
    };
  }

  /** The blob's size, or undefined when the repository does not have it. */
  async headBlob(repository: string, digest: string): Promise<{ size: number } | undefined> {
    const name = this.repository(repository);
    const { res, watchdog } = await this.request({ method: 'HEAD', target: `/v2/${name}/blobs/${digest}`, scopes: [`repository:${name}:pull`], ok: [200, 404] });
    watchdog.done();
    if (res.status === 404) return undefined;
    return { size: Number(res.headers.get('content-length') ?? 0) };
  }

  /**
   * The blob as a stream (redirects to storage followed), verified while it streams: the stream
   * errors at its end when the bytes do not hash to `digest`, or when their count is not `size`.
   */
  async getBlob(repository: string, digest: string, size?: number): Promise<BlobResponse> {
    parseDigest(digest);
    const name = this.repository(repository);
    const sent = await this.request({ method: 'GET', target: `/v2/${name}/blobs/${digest}`, scopes: [`repository:${name}:pull`], ok: [200] });
    const length = Number(sent.res.headers.get('content-length') ?? size ?? NaN);
    if (size !== undefined && Number.isFinite(length) && length !== size) {
      sent.watchdog.controller.abort();
      throw new DigestMismatchError(digest, `${length} bytes`, `blob size mismatch (expected ${size} bytes)`);
    }
    const verified = verifyingStream(digest, size);
    pipeline(this.bodyStream(sent), verified, () => undefined);
    return { size: Number.isFinite(length) ? length : (size ?? -1), stream: verified };
  }

  /**
   * Put a blob into `repository` unless it is there already: a cross-repository mount from
   * `mountFrom` (a repository of this registry that has it) when given, otherwise an upload of
   * the bytes `open` returns, in one request or in chunks of `chunkSize` for large blobs.
   * `open` is called again for each attempt after a retryable failure.
   */
  async pushBlob(repository: string, blob: { digest: string; size: number }, open: () => Readable | Promise<Readable>, options: { mountFrom?: string } = {}): Promise<BlobPushResult> {
    parseDigest(blob.digest);
    const name = this.repository(repository);
    if (await this.headBlob(repository, blob.digest)) return 'exists';
    const from = options.mountFrom !== undefined ? this.repository(options.mountFrom) : undefined;
    const scopes = [`repository:${name}:pull,push`, ...(from !== undefined && from !== name ? [`repository:${from}:pull`] : [])];
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.uploadOnce(name, blob, open, scopes, from);
      } catch (err) {
        if (attempt >= this.retries || !retryable(err)) throw err;
        await sleep(this.backoff(attempt));
      }
    }
  }

  private async uploadOnce(name: string, blob: { digest: string; size: number }, open: () => Readable | Promise<Readable>, scopes: string[], from: string | undefined): Promise<BlobPushResult> {
    const query = from !== undefined && from !== name ? `?mount=${encodeURIComponent(blob.digest)}&from=${encodeURIComponent(from)}` : '';
    const started = await this.request({
      method: 'POST',
      target: `/v2/${name}/blobs/uploads/${query}`,
      scopes,
      headers: { 'Content-Length': '0' },
      ok: [201, 202],
      retry: false,
    });
    await this.discard(started);
    if (started.res.status === 201) return 'mounted';
    let location = this.location(started.res, started.path);
    const source = await open();
    try {
      if (blob.size <= this.chunkSize) {
        location.searchParams.set('digest', blob.digest);
        let consumed = false;
        const done = await this.request({
          method: 'PUT',
          target: location,
          scopes,
          headers: { 'Content-Type': 'application/octet-stream', 'Content-Length': String(blob.size) },
          // A stream is sent once: a token that expired meanwhile restarts the whole upload (pushBlob retries).
          body: () => {
            if (consumed) throw new ConnectionError('the upload has to start again');
            consumed = true;
            return source;
          },
          ok: [201],
          retry: false,
        });
        await this.discard(done);
        return 'uploaded';
      }
      let offset = 0;
      for await (const chunk of chunksOf(source, this.chunkSize)) {
        location = await this.patchChunk(location, chunk, offset, scopes);
        offset += chunk.length;
      }
      if (offset !== blob.size) throw new DigestMismatchError(blob.digest, `${offset} bytes`, `blob size mismatch (expected ${blob.size} bytes)`);
      location.searchParams.set('digest', blob.digest);
      const done = await this.request({ method: 'PUT', target: location, scopes, headers: { 'Content-Length': '0' }, ok: [201], retry: false });
      await this.discard(done);
      return 'uploaded';
    } finally {
      source.destroy();
    }
  }

  /**
   * One chunk of a chunked upload; the next upload location. After a failure the upload's
   * status tells whether the chunk landed (the answer was lost), must be sent again, or the
   * upload has to start over (the error is thrown: pushBlob restarts it).
   */
  private async patchChunk(location: URL, chunk: Buffer, offset: number, scopes: string[]): Promise<URL> {
    for (let attempt = 0; ; attempt++) {
      try {
        const patched = await this.request({
          method: 'PATCH',
          target: location,
          scopes,
          headers: { 'Content-Type': 'application/octet-stream', 'Content-Length': String(chunk.length), 'Content-Range': `${offset}-${offset + chunk.length - 1}` },
          body: () => chunk,
          ok: [202],
          retry: false,
        });
        await this.discard(patched);
        return this.location(patched.res, patched.path);
      } catch (err) {
        if (attempt >= this.retries || !retryable(err)) throw err;
        await sleep(this.backoff(attempt));
        const status = await this.request({ method: 'GET', target: location, scopes, ok: [204], retry: false }).catch(() => undefined);
        if (!status) throw err;
        await this.discard(status);
        const received = uploadedBytes(status.res.headers.get('range'));
        const next = status.res.headers.get('location') ? this.location(status.res, status.path) : location;
        if (received === offset + chunk.length) return next;
        if (received !== offset) throw err;
        location = next;
      }
    }
  }

  /** Push a manifest under a tag or its digest; returns its digest (checked against the registry's answer). */
  async pushManifest(repository: string, reference: string, bytes: Buffer, mediaType: string): Promise<string> {
    const name = this.repository(repository);
    const expected = reference.includes(':') ? reference : digestOf('sha256', bytes);
    const digest = reference.includes(':') ? digestOf(parseDigest(reference).algorithm, bytes) : expected;
    if (digest !== expected) throw new DigestMismatchError(expected, digest, 'manifest pushed by digest');
    const sent = await this.request({
      method: 'PUT',
      target: `/v2/${name}/manifests/${reference}`,
      scopes: [`repository:${name}:pull,push`],
      headers: { 'Content-Type': mediaType },
      body: () => bytes,
      ok: [201],
    });
    await this.discard(sent);
    const answered = sent.res.headers.get('docker-content-digest');
    if (answered && answered !== digest) throw new DigestMismatchError(digest, answered, 'the registry stored the manifest under another digest');
    return digest;
  }

  /** Every tag of the repository, following Link pagination. `pageSize` asks for pages of n. */
  async listTags(repository: string, pageSize?: number): Promise<string[]> {
    const name = this.repository(repository);
    return this.listPaged(`/v2/${name}/tags/list${pageSize !== undefined ? `?n=${pageSize}` : ''}`, [`repository:${name}:pull`], 'tags', `tags in ${name}`);
  }

  /** Every repository the catalog lists (`/v2/_catalog`, following Link pagination). */
  async listRepositories(pageSize?: number): Promise<string[]> {
    return this.listPaged(`/v2/_catalog${pageSize !== undefined ? `?n=${pageSize}` : ''}`, ['registry:catalog:*'], 'repositories', 'repositories');
  }

  /** The strings of `key` in each page of a listing, following `Link: <...>; rel="next"`. */
  private async listPaged(first: string, scopes: string[], key: 'tags' | 'repositories', what: string): Promise<string[]> {
    const items: string[] = [];
    let target: string | URL = first;
    for (let page = 0; page < MAX_PAGES; page++) {
      const sent = await this.request({ method: 'GET', target, scopes, headers: { Accept: 'application/json' }, ok: [200] });
      const body = JSON.parse((await this.readLimited(sent, 64 * 1024 * 1024)).toString('utf8')) as Record<string, unknown>;
      const list = body[key];
      if (Array.isArray(list)) for (const t of list) if (typeof t === 'string') items.push(t);
      const next = nextLink(sent.res.headers.get('link'));
      if (!next) return items;
      target = new URL(next, new URL(sent.path, this.base));
    }
    throw new Error(`more than ${MAX_PAGES} pages of ${what}`);
  }

  /**
   * The manifests that refer to `digest` (signatures, SBOMs, ...), from the referrers API or,
   * when the registry has none (404), from the referrers tag schema (`sha256-<hex>`).
   */
  async listReferrers(repository: string, digest: string, artifactType?: string): Promise<Descriptor[]> {
    const { algorithm, hex } = parseDigest(digest);
    const name = this.repository(repository);
    const query = artifactType !== undefined ? `?artifactType=${encodeURIComponent(artifactType)}` : '';
    const sent = await this.request({
      method: 'GET',
      target: `/v2/${name}/referrers/${digest}${query}`,
      scopes: [`repository:${name}:pull`],
      headers: { Accept: OCI_INDEX },
      ok: [200, 400, 404, 405],
    });
    let index: Buffer;
    if (sent.res.status === 200 && (sent.res.headers.get('content-type') ?? '').startsWith(OCI_INDEX)) {
      index = await this.readLimited(sent, this.manifestMaxBytes);
    } else {
      await this.discard(sent);
      const fallback = await this.getManifest(repository, `${algorithm}-${hex}`, [OCI_INDEX]).catch((err: unknown) => {
        if (err instanceof DistributionError && err.status === 404) return undefined;
        throw err;
      });
      if (!fallback) return [];
      index = fallback.bytes;
    }
    const parsed = JSON.parse(index.toString('utf8')) as { manifests?: unknown };
    const all = Array.isArray(parsed.manifests) ? (parsed.manifests as Descriptor[]) : [];
    return all.filter((d) => typeof d?.digest === 'string' && (artifactType === undefined || d.artifactType === artifactType));
  }

  // ---- transport ----

  /** A request that authenticates when challenged (once per request); send() retries. */
  private async request(o: RequestOptions): Promise<Sent> {
    for (let reauthenticated = false; ; reauthenticated = true) {
      let sent: Sent;
      try {
        sent = await this.send({ ...o, ok: [...o.ok, 401], authenticate: true });
      } catch (err) {
        if (err instanceof TokenError) throw new DistributionError(err.status, o.method, pathOf(o.target, this.base), err.status === 403 ? 'DENIED' : 'UNAUTHORIZED', err.message);
        throw err;
      }
      if (sent.res.status !== 401 || o.ok.includes(401)) return sent;
      const again = !reauthenticated && this.auth.unauthorized(sent.res.headers.get('www-authenticate'), sent.authorization, o.scopes);
      await this.discard(sent);
      if (!again) throw new DistributionError(401, o.method, sent.path, 'UNAUTHORIZED', this.options.credentials ? 'credentials refused' : 'credentials required');
    }
  }

  /** One HTTP exchange. Throws DistributionError for statuses outside `ok` (after retries for retryable ones). */
  private async send(o: RequestOptions & { authenticate: boolean }): Promise<Sent> {
    const url = typeof o.target === 'string' ? new URL(o.target, this.base) : o.target;
    const path = pathOf(url, this.base);
    for (let attempt = 0; ; attempt++) {
      const headers: Record<string, string> = { 'User-Agent': this.userAgent, ...o.headers };
      const authorization = o.authenticate ? await this.auth.header(o.scopes) : undefined;
      if (authorization) headers['Authorization'] = authorization;
      const controller = new AbortController();
      const watchdog = new Watchdog(controller, this.timeoutMs);
      let res: Response;
      try {
        res = await this.fetchFollowing(url, o, headers, controller.signal);
      } catch (err) {
        watchdog.done();
        if (err instanceof TargetRefusedError) throw err;
        const cause = controller.signal.aborted ? `timed out after ${this.timeoutMs} ms` : connectionProblem(err);
        const wrapped = new ConnectionError(`${o.method} ${path}: ${cause}`);
        if (o.retry === false || attempt >= this.retries) throw wrapped;
        await sleep(this.backoff(attempt));
        continue;
      }
      this.options.onResponse?.({ method: o.method, path, status: res.status });
      if (o.ok.includes(res.status)) return { res, watchdog, path, ...(authorization !== undefined ? { authorization } : {}) };
      const error = await this.errorOf(res, o.method, path);
      watchdog.done();
      if (o.retry !== false && RETRYABLE.has(res.status) && attempt < this.retries) {
        await sleep(this.backoff(attempt, res.headers.get('retry-after')));
        continue;
      }
      throw error;
    }
  }

  /** fetch, with redirects followed by fetch itself, or here when each hop must be checked first. */
  private async fetchFollowing(url: URL, o: RequestOptions, headers: Record<string, string>, signal: AbortSignal): Promise<Response> {
    const check = this.options.checkTarget;
    let method = o.method;
    let withBody = o.body !== undefined;
    for (let hops = 0; ; hops++) {
      if (check) {
        try {
          await check(url);
        } catch (err) {
          throw new TargetRefusedError(`${method} ${url.origin}${url.pathname}: ${err instanceof Error ? err.message : String(err)}`);
        }
      }
      const body = withBody && o.body ? await o.body() : undefined;
      let res: Response;
      try {
        res = await fetch(url, {
          method,
          headers,
          signal,
          redirect: check ? 'manual' : 'follow',
          ...(this.dispatcher ? { dispatcher: this.dispatcher } : {}),
          ...(body !== undefined ? { body: body as unknown as BodyInit, duplex: 'half' } : {}),
        } as RequestInit);
      } catch (err) {
        const refused = refusalIn(err);
        if (refused) throw new TargetRefusedError(`${method} ${url.origin}${url.pathname}: ${refused.message}`);
        throw err;
      }
      const location = res.headers.get('location');
      if (!check || !REDIRECTS.has(res.status) || location === null) return res;
      await res.body?.cancel().catch(() => undefined);
      if (hops >= MAX_REDIRECTS) throw new TargetRefusedError(`${o.method} ${url.origin}${url.pathname}: more than ${MAX_REDIRECTS} redirects`);
      const next = new URL(location, url);
      // As fetch does: credentials stay with their origin, and 303 (or 301/302 after a POST) becomes a GET.
      if (next.origin !== url.origin) delete headers['Authorization'];
      if (res.status === 303 || ((res.status === 301 || res.status === 302) && method === 'POST')) {
        method = method === 'HEAD' ? 'HEAD' : 'GET';
        withBody = false;
        delete headers['Content-Length'];
        delete headers['Content-Type'];
      }
      url = next;
    }
  }

  private backoff(attempt: number, retryAfter?: string | null): number {
    if (retryAfter) {
      const seconds = Number(retryAfter);
      const ms = Number.isFinite(seconds) ? seconds * 1000 : Date.parse(retryAfter) - Date.now();
      if (Number.isFinite(ms) && ms >= 0) return Math.min(ms, MAX_RETRY_AFTER_MS);
    }
    const base = this.retryDelayMs * 2 ** attempt;
    return Math.min(base / 2 + Math.random() * base, MAX_RETRY_AFTER_MS);
  }

  private async errorOf(res: Response, method: string, path: string): Promise<DistributionError> {
    let code: string | undefined;
    let detail: string | undefined;
    try {
      const text = await boundedText(res, 64 * 1024);
      const body = JSON.parse(text) as { errors?: { code?: unknown; message?: unknown }[] };
      const first = body.errors?.[0];
      if (typeof first?.code === 'string') code = first.code.slice(0, 64);
      if (typeof first?.message === 'string') detail = first.message.slice(0, 300);
    } catch {
      // Not the spec's JSON: the status says enough.
    }
    return new DistributionError(res.status, method, path, code, detail);
  }

  private location(res: Response, path: string): URL {
    const location = res.headers.get('location');
    if (!location) throw new DistributionError(res.status, 'POST', path, undefined, 'no Location in the answer');
    return new URL(location, this.base);
  }

  private async discard(sent: Sent): Promise<void> {
    await sent.res.body?.cancel().catch(() => undefined);
    sent.watchdog.done();
  }

  /** The response body as a Node stream, aborted when it stalls for longer than the timeout. */
  private bodyStream(sent: Sent): Readable {
    const { res, watchdog } = sent;
    if (!res.body) {
      watchdog.done();
      return Readable.from([]);
    }
    const stream = Readable.fromWeb(res.body as import('node:stream/web').ReadableStream<Uint8Array>);
    const pass = new Transform({
      transform(chunk: Buffer, _enc, cb) {
        watchdog.touch();
        cb(null, chunk);
      },
      flush(cb) {
        watchdog.done();
        cb();
      },
    });
    pass.on('close', () => watchdog.done());
    // pipeline, not pipe: an error of either side reaches whoever reads `pass`.
    pipeline(stream, pass, () => undefined);
    return pass;
  }

  private async readLimited(sent: Sent, limit: number): Promise<Buffer> {
    const parts: Buffer[] = [];
    let total = 0;
    for await (const chunk of this.bodyStream(sent)) {
      total += (chunk as Buffer).length;
      if (total > limit) {
        sent.watchdog.controller.abort();
        throw new Error(`${sent.path}: answer larger than ${limit} bytes`);
      }
      parts.push(chunk as Buffer);
    }
    return Buffer.concat(parts);
  }
}

/** A connection failed, was reset or timed out (after retries). */
export class ConnectionError extends Error {}

/** ClientOptions.checkTarget refused a URL the remote led to; never retried. */
export class TargetRefusedError extends Error {}

/** A lookup for net.connect that asks connectTo, and refuses the connection when it throws. */
function checkedLookup(connectTo: (hostname: string) => Promise<{ address: string; family: number }>): LookupFunction {
  return (hostname, options, callback) => {
    connectTo(hostname).then(
      ({ address, family }) => {
        if (options.all) (callback as unknown as (err: null, addresses: { address: string; family: number }[]) => void)(null, [{ address, family }]);
        else callback(null, address, family);
      },
      (err: unknown) => callback(new TargetRefusedError(err instanceof Error ? err.message : String(err)) as NodeJS.ErrnoException, '', 0),
    );
  };
}

/** The TargetRefusedError a connection failed with, found among the causes fetch wraps it in. */
function refusalIn(err: unknown): TargetRefusedError | undefined {
  for (let e = err, depth = 0; e instanceof Error && depth < 5; e = (e as { cause?: unknown }).cause, depth++) if (e instanceof TargetRefusedError) return e;
  return undefined;
}

function retryable(err: unknown): boolean {
  if (err instanceof ConnectionError) return true;
  return err instanceof DistributionError && RETRYABLE.has(err.status);
}

function connectionProblem(err: unknown): string {
  const cause = (err as { cause?: { code?: unknown; message?: unknown } }).cause;
  if (cause && typeof cause.code === 'string') return `connection failed (${cause.code})`;
  if (cause && typeof cause.message === 'string') return `connection failed (${cause.message.slice(0, 100)})`;
  return 'connection failed';
}

function pathOf(target: string | URL, base: URL): string {
  const url = typeof target === 'string' ? new URL(target, base) : target;
  // Upload locations may carry state in their query: paths only in messages.
  return url.origin === base.origin ? url.pathname : `${url.origin}${url.pathname}`;
}

function mediaTypeOf(bytes: Buffer): string {
  try {
    const m = (JSON.parse(bytes.toString('utf8')) as { mediaType?: unknown }).mediaType;
    return typeof m === 'string' ? m : '';
  } catch {
    return '';
  }
}

/** The start of a body (an error page can be anything); the rest is not read. */
async function boundedText(res: Response, max: number): Promise<string> {
  if (!res.body) return '';
  const reader = res.body.getReader();
  const parts: Uint8Array[] = [];
  let total = 0;
  try {
    while (total < max) {
      const { done, value } = await reader.read();
      if (done) break;
      parts.push(value);
      total += value.length;
    }
  } finally {
    await reader.cancel().catch(() => undefined);
  }
  return Buffer.concat(parts).subarray(0, max).toString('utf8');
}

/** Bytes an upload holds, from its status's `Range: 0-<last>` (`0-0` read as none: resending is safe). */
function uploadedBytes(range: string | null): number | undefined {
  const m = /^(?:bytes=)?0-(\d+)$/.exec(range?.trim() ?? '');
  if (!m) return undefined;
  const last = Number(m[1]);
  return last === 0 ? 0 : last + 1;
}

/** The stream's bytes in buffers of `size` (the last one shorter), holding at most one chunk. */
async function* chunksOf(source: Readable, size: number): AsyncGenerator<Buffer> {
  let parts: Buffer[] = [];
  let held = 0;
  for await (const data of source) {
    let buf = data as Buffer;
    while (held + buf.length >= size) {
      const take = size - held;
      parts.push(buf.subarray(0, take));
      yield Buffer.concat(parts);
      parts = [];
      held = 0;
      buf = buf.subarray(take);
    }
    if (buf.length) {
      parts.push(buf);
      held += buf.length;
    }
  }
  if (held) yield Buffer.concat(parts);
}
