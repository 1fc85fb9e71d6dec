// The pull-through cache: repositories under a proxied namespace are filled from an upstream
// registry when clients pull. Manifests are fetched by tag (re-checked with a HEAD after the
// tag's TTL) or by digest; blobs stream to the client while they are written into the blob
// store, and become cached content only once their digest verifies. One upstream fetch serves
// every concurrent request for the same tag or blob on this node.
import { PassThrough, type Readable, type Writable } from 'node:stream';
import type { Logger } from 'pino';
import { DigestMismatchError, DistributionClient, DistributionError, TargetRefusedError, type Descriptor } from '../distribution-client/index.js';
import type { MetadataStore } from '../metadata/store.js';
import type { BlobInfo, BlobService } from '../registry/blobs.js';
import type { ManifestService } from '../registry/manifests.js';
import { parseReference } from '../registry/manifests.js';
import { parseDigest } from '../registry/digest.js';
import { RegistryError } from '../registry/errors.js';
import { registryBaseUrl } from '../distribution-client/registry-url.js';
import { TargetPolicy, type Resolver } from '../events/targets.js';

export interface UpstreamConfig {
  /** The local namespace the upstream's repositories appear under. */
  namespace: string;
  url: string;
  username?: string;
  password?: string;
  tagTtlSeconds: number;
  timeoutMs: number;
}

export interface ProxyCacheOptions {
  allowPush: boolean;
  logger?: Logger;
  /** Retries of failed upstream requests (default 2). */
  retries?: number;
  /** How host names resolve (default: the system's); tests inject one. */
  resolver?: Resolver;
}

/** A blob the cache answers with: stored here, or coming from the upstream (`stream` on a GET). */
export type ProxiedBlob = { kind: 'stored'; blob: BlobInfo } | { kind: 'upstream'; digest: string; size: number; stream?: Readable };

interface Upstream {
  config: UpstreamConfig;
  client: DistributionClient;
}

interface Target {
  upstream: Upstream;
  /** The repository's name at the upstream (the local name without the namespace). */
  remote: string;
}

interface BlobFetch {
  repository: string;
  /** Settles when the blob is stored (or the fetch failed). */
  stored: Promise<void>;
}

/** Tags whose last check time is remembered; the oldest are forgotten first (then checked again). */
const MAX_TRACKED_TAGS = 10_000;

export class ProxyCache {
  private readonly upstreams = new Map<string, Upstream>();
  /** When each `repository:tag` was last compared with the upstream (this node only). */
  private readonly checked = new Map<string, number>();
  private readonly tagChecks = new Map<string, Promise<void>>();
  private readonly manifestFetches = new Map<string, Promise<void>>();
  private readonly blobFetches = new Map<string, BlobFetch>();

  constructor(
    upstreams: UpstreamConfig[],
    private readonly metadata: MetadataStore,
    private readonly manifests: ManifestService,
    private readonly blobs: BlobService,
    private readonly options: ProxyCacheOptions,
  ) {
    for (const config of upstreams) {
      const credentials = config.username !== undefined ? { username: config.username, password: config.password ?? '' } : undefined;
      // The upstream's redirects (to blob storage) and token realm are followed hop by hop:
      // they may lead to its own host or to public addresses, not to internal services.
      const targets = TargetPolicy.forUpstream(registryBaseUrl(config.url), options.resolver);
      const client = new DistributionClient(config.url, {
        checkTarget: async (url) => void targets.check(url.href),
        connectTo: (host) => targets.addressOf(host),
        ...(credentials ? { credentials } : {}),
        timeoutMs: config.timeoutMs,
        retries: options.retries ?? 2,
        userAgent: 'oci-registry-proxy',
      });
      this.upstreams.set(config.namespace, { config, client });
    }
  }

  /** Whether the repository is filled from an upstream. */
  covers(repository: string): boolean {
    return this.target(repository) !== undefined;
  }

  /** Pushes into a proxied namespace are refused unless proxy.allowPush. */
  checkPush(repository: string): void {
    const target = this.target(repository);
    if (target && !this.options.allowPush) {
      throw new RegistryError('DENIED', `${repository} is a pull-through cache of ${target.upstream.config.url}; pushes are refused`, { repository });
    }
  }

  /**
   * Before a manifest GET or HEAD: make the local copy current. A tag missing here or checked
   * longer than its TTL ago is compared with the upstream (HEAD) and fetched when it moved; a
   * digest missing here is fetched. When the upstream cannot be reached the cached copy is
   * served; with none, the client gets UNAVAILABLE naming the upstream.
   */
  async refreshManifest(repository: string, reference: string): Promise<void> {
    const target = this.target(repository);
    if (!target) return;
    const ref = parseReference(reference);
    if (ref.kind === 'digest') {
      if (await this.metadata.getManifest(repository, ref.digest)) return;
      await shared(this.manifestFetches, `${repository}@${ref.digest}`, () => this.fetchManifest(target, repository, ref.digest));
      return;
    }
    const key = `${repository}:${ref.tag}`;
    const ttlMs = target.upstream.config.tagTtlSeconds * 1000;
    const checkedAt = this.checked.get(key);
    if (checkedAt !== undefined && Date.now() - checkedAt < ttlMs && (await this.metadata.getManifestByTag(repository, ref.tag))) return;
    await shared(this.tagChecks, key, () => this.checkTag(target, repository, ref.tag, key));
  }

  /**
   * The blob for a GET (`fetch`) or HEAD: stored here, or else from the upstream. A GET of a blob
   * not stored streams it from the upstream while storing it; concurrent GETs of that blob wait
   * for the one fetch and are then answered from the store.
   */
  async blob(repository: string, digestValue: string, fetch: boolean): Promise<ProxiedBlob> {
    const target = this.target(repository);
    if (!target) return { kind: 'stored', blob: await this.blobs.stat(repository, digestValue) };
    const digest = parseDigest(digestValue).value;
    const local = await this.storedBlob(repository, digest);
    if (local) return { kind: 'stored', blob: local };
    const running = fetch ? this.blobFetches.get(digest) : undefined;
    if (running) {
      await running.stored.catch(() => {
        throw new RegistryError('UNAVAILABLE', `the blob could not be fetched from upstream ${target.upstream.config.url}`, { digest, upstream: target.upstream.config.url });
      });
      const after = (await this.storedBlob(repository, digest)) ?? (await this.blobs.mount(repository, digest, running.repository));
      if (after) return { kind: 'stored', blob: after };
    }
    if (!fetch) {
      const head = await this.upstreamCall(target, () => target.upstream.client.headBlob(target.remote, digest));
      if (!head) throw notFound(target, 'BLOB_UNKNOWN', { digest });
      return { kind: 'upstream', digest, size: head.size };
    }
    return this.fetchBlob(target, repository, digest);
  }

  /**
   * Have the blob stored here (a scan reads a cached image's layers, which clients may never
   * have pulled). Nothing to do outside proxied namespaces or when it is stored already.
   */
  async cacheBlob(repository: string, digest: string): Promise<void> {
    if (!this.covers(repository)) return;
    const got = await this.blob(repository, digest, true);
    if (got.kind === 'stored') return;
    // Nobody reads this copy: drain it, which lets the store's side of the tee finish.
    if (got.stream) for await (const _chunk of got.stream) void _chunk;
    if (!(await this.storedBlob(repository, digest))) {
      throw new RegistryError('UNAVAILABLE', `the blob could not be cached from upstream`, { digest, repository });
    }
  }

  private target(repository: string): Target | undefined {
    const slash = repository.indexOf('/');
    if (slash === -1) return undefined;
    const upstream = this.upstreams.get(repository.slice(0, slash));
    return upstream ? { upstream, remote: repository.slice(slash + 1) } : undefined;
  }

  private async storedBlob(repository: string, digest: string): Promise<BlobInfo | undefined> {
    return this.blobs.stat(repository, digest).catch((err: unknown) => {
      if (err instanceof RegistryError && err.code === 'BLOB_UNKNOWN') return undefined;
      throw err;
    });
  }

  private async checkTag(target: Target, repository: string, tag: string, key: string): Promise<void> {
    const local = await this.metadata.getManifestByTag(repository, tag);
    let remote: Descriptor | undefined;
    try {
      remote = await this.upstreamCall(target, () => target.upstream.client.headManifest(target.remote, tag));
    } catch (err) {
      if (!local) throw err;
      this.options.logger?.warn({ err, repository, tag, upstream: target.upstream.config.url }, 'upstream unreachable; serving the cached tag');
      return;
    }
    // A tag gone from the upstream stays served from the cache until it is deleted here.
    if (!remote && !local) throw notFound(target, 'MANIFEST_UNKNOWN', { tag });
    if (remote && remote.digest !== local?.digest) {
      try {
        await this.fetchManifest(target, repository, remote.digest, tag);
      } catch (err) {
        if (!local) throw err;
        this.options.logger?.warn({ err, repository, tag, upstream: target.upstream.config.url }, 'could not fetch the moved tag; serving the cached one');
        return;
      }
    }
    this.checked.delete(key);
    this.checked.set(key, Date.now());
    if (this.checked.size > MAX_TRACKED_TAGS) this.checked.delete(this.checked.keys().next().value!);
  }

  /** Store the manifest `digest` (fetched unless already here), tagging it when `tag` is given. */
  private async fetchManifest(target: Target, repository: string, digest: string, tag?: string): Promise<void> {
    const have = await this.metadata.getManifest(repository, digest);
    const got = have
      ? { bytes: have.content, mediaType: have.mediaType }
      : await this.upstreamCall(target, () => target.upstream.client.getManifest(target.remote, digest));
    if (!got) throw notFound(target, 'MANIFEST_UNKNOWN', { digest });
    await this.manifests.putCached(repository, digest, got.bytes, got.mediaType, tag);
  }

  /**
   * Lets the fetches in flight finish writing (a shutdown must not cut a commit short), then
   * closes the connections to the upstreams.
   */
  async close(): Promise<void> {
    await Promise.allSettled([...this.manifestFetches.values(), ...[...this.blobFetches.values()].map((fetch) => fetch.stored)]);
    await Promise.all([...this.upstreams.values()].map((u) => u.client.close()));
  }

  private async fetchBlob(target: Target, repository: string, digest: string): Promise<ProxiedBlob> {
    let stored!: Promise<void>;
    const forget = () => {
      if (this.blobFetches.get(digest) === entry) this.blobFetches.delete(digest);
    };
    const started = this.upstreamCall(target, () => target.upstream.client.getBlob(target.remote, digest)).then((res) => {
      if (!res) throw notFound(target, 'BLOB_UNKNOWN', { digest });
      const toStore = new PassThrough();
      const toClient = new PassThrough();
      // Errors reach the store's writer and the HTTP layer through their own handling.
      toStore.on('error', () => undefined);
      toClient.on('error', () => undefined);
      const commit = this.blobs.putMonolithic(repository, digest, { body: toStore, ...(res.size >= 0 ? { length: res.size } : {}) });
      stored = commit.then(() => undefined);
      // The fetch is forgotten before its client is cut off: a retry starts a fetch of its own.
      commit.then(forget, (err: unknown) => {
        forget();
        res.stream.destroy();
        toClient.destroy(err instanceof Error ? err : new Error(String(err)));
        this.options.logger?.warn({ err, repository, digest, upstream: target.upstream.config.url }, 'blob not cached');
      });
      void tee(res.stream, toStore, toClient);
      return { size: res.size, stream: toClient };
    });
    const entry: BlobFetch = { repository, stored: started.then(() => stored) };
    this.blobFetches.set(digest, entry);
    entry.stored.then(forget, forget);
    const { size, stream } = await started;
    return { kind: 'upstream', digest, size, stream };
  }

  /** Runs an upstream request; 404s come back as undefined, other failures as UNAVAILABLE naming the upstream. */
  private async upstreamCall<T>(target: Target, call: () => Promise<T>): Promise<T | undefined> {
    try {
      return await call();
    } catch (err) {
      if (err instanceof DistributionError && err.status === 404) return undefined;
      const reason =
        err instanceof DistributionError
          ? `answered ${err.status}`
          : err instanceof DigestMismatchError
            ? 'sent content that does not match its digest'
            : err instanceof TargetRefusedError
              ? `led to a refused target: ${err.message}`
              : 'could not be reached';
      throw new RegistryError('UNAVAILABLE', `upstream ${target.upstream.config.url} ${reason}`, { upstream: target.upstream.config.url });
    }
  }
}

function notFound(target: Target, code: 'MANIFEST_UNKNOWN' | 'BLOB_UNKNOWN', detail: Record<string, string>): RegistryError {
  return new RegistryError(code, `not found at upstream ${target.upstream.config.url}`, { ...detail, upstream: target.upstream.config.url });
}

/** Runs `work` once for concurrent callers with the same key. */
function shared(running: Map<string, Promise<void>>, key: string, work: () => Promise<void>): Promise<void> {
  const existing = running.get(key);
  if (existing) return existing;
  const promise = work().finally(() => running.delete(key));
  running.set(key, promise);
  return promise;
}

/**
 * Copy `source` into the store and to the client at the pace of the slower one. The client's
 * last chunk is held back until the source ended (its digest verified), so a client never gets
 * a complete body of bytes that failed verification. A client that goes away stops nothing.
 * On a failure only the store is told; its writer's failure then cuts the client off.
 */
async function tee(source: Readable, store: Writable, client: Writable): Promise<void> {
  let held: Buffer | undefined;
  const open = (w: Writable) => !w.destroyed && !w.writableEnded;
  try {
    for await (const chunk of source) {
      if (!open(store)) throw new Error('the cache write stopped');
      const waits: Promise<void>[] = [];
      if (!store.write(chunk)) waits.push(drained(store));
      if (held && open(client) && !client.write(held)) waits.push(drained(client));
      held = chunk as Buffer;
      await Promise.all(waits);
    }
    store.end();
    if (open(client)) client.end(held);
  } catch (err) {
    // The store's writer fails on this; the client is cut off once the failed write is cleaned up.
    store.destroy(err instanceof Error ? err : new Error(String(err)));
  }
}

function drained(stream: Writable): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      stream.off('drain', done);
      stream.off('close', done);
      resolve();
    };
    stream.on('drain', done);
    stream.on('close', done);
  });
}
