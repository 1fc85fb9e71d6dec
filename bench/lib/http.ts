// A small HTTP/1.1 client over node:http for the benchmark: request bodies are streamed from
// iterables with backpressure (never buffered), response bodies are either discarded (counted)
// or collected when small. Every request has a timeout.
import http, { type IncomingHttpHeaders } from 'node:http';
import { createHash } from 'node:crypto';
import { PatternData, MiB, sha256 } from './data.js';

export interface Response {
  status: number;
  headers: IncomingHttpHeaders;
  /** Collected body (empty when discarded). */
  body: Buffer;
  /** Body bytes received. */
  bytes: number;
}

export interface RequestOptions {
  headers?: Record<string, string | number>;
  /** A small body, or a sequence of chunks streamed with backpressure. */
  body?: Buffer | string | Iterable<Buffer>;
  /** Count the response body without keeping it. */
  discard?: boolean;
  timeoutMs?: number;
  /** Called with every request body chunk as it is written (e.g. to hash it). */
  onChunk?: (chunk: Buffer) => void;
}

/** Wait until the request can take more body (or is gone), leaving no listener behind. */
function drainOrClose(req: http.ClientRequest): Promise<void> {
  return new Promise((resolveWait) => {
    const done = () => {
      req.off('drain', done);
      req.off('close', done);
      resolveWait();
    };
    req.on('drain', done);
    req.on('close', done);
  });
}

export class Client {
  readonly agent: http.Agent;
  readonly base: URL;

  constructor(baseUrl: string, maxSockets = 64) {
    this.base = new URL(baseUrl);
    this.agent = new http.Agent({ keepAlive: true, maxSockets, maxFreeSockets: maxSockets });
  }

  close(): void {
    this.agent.destroy();
  }

  request(method: string, path: string, options: RequestOptions = {}): Promise<Response> {
    const { headers = {}, body, discard = false, timeoutMs = 120_000, onChunk } = options;
    return new Promise<Response>((resolvePromise, reject) => {
      let settled = false;
      const fail = (err: Error) => {
        if (settled) return;
        settled = true;
        req.destroy();
        reject(err);
      };
      const req = http.request(
        { host: this.base.hostname, port: this.base.port, method, path, headers, agent: this.agent },
        (res) => {
          const parts: Buffer[] = [];
          let bytes = 0;
          res.on('data', (chunk: Buffer) => {
            bytes += chunk.length;
            if (!discard) parts.push(chunk);
          });
          res.once('end', () => {
            if (settled) return;
            settled = true;
            clearTimeout(timer);
            resolvePromise({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(parts), bytes });
          });
          res.once('error', fail);
          res.once('aborted', () => fail(new Error(`${method} ${path}: response aborted`)));
        },
      );
      const timer = setTimeout(() => fail(new Error(`${method} ${path}: timed out after ${timeoutMs} ms`)), timeoutMs);
      req.once('error', (err) => {
        clearTimeout(timer);
        fail(err);
      });
      if (body === undefined || typeof body === 'string' || Buffer.isBuffer(body)) {
        if (body !== undefined && onChunk) onChunk(Buffer.from(body));
        req.end(body);
        return;
      }
      void (async () => {
        try {
          for (const chunk of body) {
            if (settled || req.destroyed) return;
            onChunk?.(chunk);
            if (!req.write(chunk)) await drainOrClose(req);
          }
          req.end();
        } catch (err) {
          fail(err as Error);
        }
      })();
    });
  }
}

export function expectStatus(res: Response, expected: number | number[], what: string): void {
  const ok = Array.isArray(expected) ? expected : [expected];
  if (!ok.includes(res.status)) {
    throw new Error(`${what}: expected HTTP ${ok.join('/')}, got ${res.status}: ${res.body.toString('utf8').slice(0, 300)}`);
  }
}

function withQuery(location: string, query: string): string {
  return location + (location.includes('?') ? '&' : '?') + query;
}

/** Path part of a Location header (absolute or relative). */
function locationPath(res: Response, base: URL): string {
  const location = res.headers.location;
  if (!location) throw new Error(`no Location header in HTTP ${res.status} response`);
  const url = new URL(location, base);
  return url.pathname + url.search;
}

export async function startUpload(client: Client, repo: string): Promise<string> {
  const res = await client.request('POST', `/v2/${repo}/blobs/uploads/`, { headers: { 'Content-Length': 0 } });
  expectStatus(res, 202, `POST upload ${repo}`);
  return locationPath(res, client.base);
}

/**
 * A monolithic upload as docker and containerd do it: POST to open a session, then one
 * PUT ?digest= with the whole blob streamed. (Distribution 2.8 ignores a body on the POST.)
 */
export async function pushMonolithic(client: Client, repo: string, data: PatternData, timeoutMs = 600_000): Promise<void> {
  const digest = data.digest();
  const location = await startUpload(client, repo);
  const res = await client.request('PUT', withQuery(location, `digest=${digest}`), {
    headers: { 'Content-Type': 'application/octet-stream', 'Content-Length': data.size },
    body: data.range(),
    timeoutMs,
  });
  expectStatus(res, 201, `monolithic push of ${data.size} bytes`);
  if (res.headers['docker-content-digest'] !== digest) throw new Error(`monolithic push: registry answered digest ${res.headers['docker-content-digest']}`);
}

/**
 * POST, then PATCH chunks of `chunkSize` with Content-Range, hashing as the bytes go out,
 * then PUT ?digest=. No precomputed digest needed. Returns the digest.
 */
export async function pushChunked(client: Client, repo: string, data: PatternData, chunkSize = 16 * MiB, timeoutMs = 600_000): Promise<string> {
  let location = await startUpload(client, repo);
  const hash = createHash('sha256');
  for (let start = 0; start < data.size; start += chunkSize) {
    const end = Math.min(data.size, start + chunkSize);
    const res = await client.request('PATCH', location, {
      headers: { 'Content-Type': 'application/octet-stream', 'Content-Length': end - start, 'Content-Range': `${start}-${end - 1}` },
      body: data.range(start, end),
      onChunk: (c) => hash.update(c),
      timeoutMs,
    });
    expectStatus(res, 202, `PATCH ${start}-${end - 1}`);
    location = locationPath(res, client.base);
  }
  const digest = `sha256:${hash.digest('hex')}`;
  const res = await client.request('PUT', withQuery(location, `digest=${digest}`), { headers: { 'Content-Length': 0 }, timeoutMs });
  expectStatus(res, 201, 'PUT to close a chunked upload');
  return digest;
}

/** The usual client flow for a small blob: HEAD, POST, PUT ?digest= with the body. */
export async function pushSmallBlob(client: Client, repo: string, content: Buffer): Promise<{ digest: string; size: number }> {
  const digest = sha256(content);
  const head = await client.request('HEAD', `/v2/${repo}/blobs/${digest}`);
  if (head.status !== 200) {
    expectStatus(head, 404, `HEAD blob in ${repo}`);
    const location = await startUpload(client, repo);
    const res = await client.request('PUT', withQuery(location, `digest=${digest}`), {
      headers: { 'Content-Type': 'application/octet-stream', 'Content-Length': content.length },
      body: content,
    });
    expectStatus(res, 201, `PUT blob in ${repo}`);
  }
  return { digest, size: content.length };
}

export const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
export const OCI_CONFIG = 'application/vnd.oci.image.config.v1+json';
export const OCI_LAYER_GZIP = 'application/vnd.oci.image.layer.v1.tar+gzip';

/** Push config + layers (small, in memory) and a manifest under `tag`; returns the manifest digest. */
export async function pushImage(client: Client, repo: string, tag: string, layers: Buffer[]): Promise<string> {
  const pushedLayers = [];
  for (const layer of layers) pushedLayers.push(await pushSmallBlob(client, repo, layer));
  const config = Buffer.from(
    JSON.stringify({
      architecture: 'amd64',
      os: 'linux',
      config: {},
      rootfs: { type: 'layers', diff_ids: pushedLayers.map((l) => l.digest) },
    }),
  );
  const pushedConfig = await pushSmallBlob(client, repo, config);
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      config: { mediaType: OCI_CONFIG, digest: pushedConfig.digest, size: pushedConfig.size },
      layers: pushedLayers.map((l) => ({ mediaType: OCI_LAYER_GZIP, digest: l.digest, size: l.size })),
    }),
  );
  const res = await client.request('PUT', `/v2/${repo}/manifests/${tag}`, {
    headers: { 'Content-Type': OCI_MANIFEST, 'Content-Length': manifest.length },
    body: manifest,
  });
  expectStatus(res, 201, `PUT manifest ${repo}:${tag}`);
  return sha256(manifest);
}
