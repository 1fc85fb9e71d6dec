// Small client-side helpers for HTTP-level tests: digests, pushing blobs and manifests the
// way a registry client does, building image manifests, and checking the spec's error bodies.
import assert from 'node:assert/strict';
import { createHash, randomBytes as cryptoRandomBytes } from 'node:crypto';
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import type { Descriptor } from '../../src/distribution-client/index.js';

export const MediaType = {
  OciManifest: 'application/vnd.oci.image.manifest.v1+json',
  OciIndex: 'application/vnd.oci.image.index.v1+json',
  OciConfig: 'application/vnd.oci.image.config.v1+json',
  OciLayer: 'application/vnd.oci.image.layer.v1.tar+gzip',
  OciEmpty: 'application/vnd.oci.empty.v1+json',
  DockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  DockerManifestList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  DockerConfig: 'application/vnd.docker.container.image.v1+json',
  DockerLayer: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
} as const;

/** Error codes the OCI Distribution Spec defines, plus the few this registry adds (see src/registry/errors.ts). */
export const KNOWN_ERROR_CODES = new Set([
  'BLOB_UNKNOWN',
  'BLOB_UPLOAD_INVALID',
  'BLOB_UPLOAD_UNKNOWN',
  'DIGEST_INVALID',
  'MANIFEST_BLOB_UNKNOWN',
  'MANIFEST_INVALID',
  'MANIFEST_UNKNOWN',
  'NAME_INVALID',
  'NAME_UNKNOWN',
  'SIZE_INVALID',
  'TAG_INVALID',
  'UNAUTHORIZED',
  'DENIED',
  'UNSUPPORTED',
  'TOOMANYREQUESTS',
  'RANGE_INVALID',
  'UNAVAILABLE',
  'UNKNOWN',
]);

/** The 2-byte empty JSON blob of OCI artifacts. */
export const EMPTY_JSON = Buffer.from('{}');

/** An OCI descriptor as clients see it (the Distribution client's type). */
export type { Descriptor };

export interface ErrorEntry {
  code: string;
  message?: string;
  detail?: unknown;
}

export interface ErrorBody {
  errors: ErrorEntry[];
}

export function sha256(data: Uint8Array | string): string {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}

export function sha512(data: Uint8Array | string): string {
  return `sha512:${createHash('sha512').update(data).digest('hex')}`;
}

/** Random bytes, typed so fetch accepts them as a body. */
export function randomBytes(n: number): Buffer<ArrayBuffer> {
  return cryptoRandomBytes(n) as Buffer<ArrayBuffer>;
}

export function descriptorOf(mediaType: string, data: Uint8Array | string, extra: Partial<Descriptor> = {}): Descriptor {
  return { mediaType, digest: sha256(data), size: Buffer.byteLength(data), ...extra };
}

export const EMPTY_DESCRIPTOR: Descriptor = descriptorOf(MediaType.OciEmpty, EMPTY_JSON);

/** Resolve a Location header (relative or absolute) against the registry URL. */
export function locationOf(res: Response, base: string): URL {
  const location = res.headers.get('location');
  assert.ok(location, `expected a Location header (status ${res.status})`);
  return new URL(location, base);
}

/** Fail when a response body looks like it carries a stack trace or server paths. */
export function assertNoStackTrace(text: string): void {
  assert.doesNotMatch(text, /\n\s+at\s/, 'error body contains a stack trace');
  assert.doesNotMatch(text, /\bat [^\s]+ \(/, 'error body contains a stack frame');
  assert.doesNotMatch(text, /\.(?:ts|js):\d+/, 'error body names a source file');
  assert.doesNotMatch(text, /node_modules|\/tmp\/|ENOENT|ENOTDIR|EACCES/, 'error body leaks server internals');
}

/** Parse and check an error body of the spec's shape; the first error must carry `code`. */
export function checkErrorBody(text: string, code: string): ErrorBody {
  assertNoStackTrace(text);
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    assert.fail(`error body is not JSON: ${text.slice(0, 200)}`);
  }
  assert.ok(typeof body === 'object' && body !== null && Array.isArray((body as ErrorBody).errors), `not an error body: ${text.slice(0, 200)}`);
  const errors = (body as ErrorBody).errors;
  assert.ok(errors.length > 0, 'errors list is empty');
  for (const e of errors) {
    assert.equal(typeof e.code, 'string');
    assert.match(e.code, /^[A-Z_]+$/);
    assert.ok(KNOWN_ERROR_CODES.has(e.code), `unknown error code ${e.code}`);
    if (e.message !== undefined) assert.equal(typeof e.message, 'string');
  }
  assert.equal(errors[0]!.code, code, `expected error code ${code}, got ${text.slice(0, 300)}`);
  return body as ErrorBody;
}

/** Assert a response is the spec's JSON error with this status and (first) code. */
export async function expectError(res: Response, status: number, code: string): Promise<ErrorBody> {
  const text = await res.text();
  assert.equal(res.status, status, `expected ${status} ${code}, got ${res.status}: ${text.slice(0, 300)}`);
  assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
  return checkErrorBody(text, code);
}

/** Assert a status, showing the body when it is not the expected one. */
export async function expectStatus(res: Response, status: number): Promise<Buffer> {
  const body = Buffer.from(await res.arrayBuffer());
  assert.equal(res.status, status, `expected ${status}, got ${res.status}: ${body.toString('utf8').slice(0, 300)}`);
  return body;
}

/** Push a blob in one request (POST ?digest=); returns its descriptor. `headers` may carry credentials. */
export async function pushBlob(
  base: string,
  repo: string,
  data: Uint8Array | string,
  mediaType = 'application/octet-stream',
  headers: Record<string, string> = {},
): Promise<Descriptor> {
  const bytes = Buffer.from(data);
  const digest = sha256(bytes);
  const res = await fetch(`${base}/v2/${repo}/blobs/uploads/?digest=${digest}`, {
    method: 'POST',
    headers: { ...headers, 'Content-Type': 'application/octet-stream' },
    body: bytes,
  });
  await expectStatus(res, 201);
  assert.equal(res.headers.get('docker-content-digest'), digest);
  return { mediaType, digest, size: bytes.length };
}

/** Start an upload session; returns the absolute upload URL. */
export async function startUpload(base: string, repo: string): Promise<URL> {
  const res = await fetch(`${base}/v2/${repo}/blobs/uploads/`, { method: 'POST', headers: { 'Content-Length': '0' } });
  await expectStatus(res, 202);
  return locationOf(res, base);
}

/** The URL with `digest` added to its query, keeping any query the registry put there. */
export function withDigest(url: URL, digest: string): URL {
  const u = new URL(url);
  u.searchParams.set('digest', digest);
  return u;
}

export function manifestBytes(manifest: object | Uint8Array | string): Buffer<ArrayBuffer> {
  if (typeof manifest === 'string') return Buffer.from(manifest);
  if (manifest instanceof Uint8Array) return Buffer.from(manifest.buffer, manifest.byteOffset, manifest.byteLength) as Buffer<ArrayBuffer>;
  return Buffer.from(JSON.stringify(manifest));
}

/** PUT a manifest and return the raw response (no assertion). `extraHeaders` may carry credentials. */
export async function putManifest(
  base: string,
  repo: string,
  reference: string,
  manifest: object | Uint8Array | string,
  contentType?: string,
  extraHeaders: Record<string, string> = {},
): Promise<Response> {
  const bytes = manifestBytes(manifest);
  let type = contentType;
  if (type === undefined && typeof manifest === 'object' && !(manifest instanceof Uint8Array)) {
    type = (manifest as { mediaType?: string }).mediaType;
  }
  const headers: Record<string, string> = { ...extraHeaders };
  if (type !== undefined) headers['Content-Type'] = type;
  return fetch(`${base}/v2/${repo}/manifests/${reference}`, { method: 'PUT', headers, body: bytes });
}

export interface PushedManifest {
  digest: string;
  bytes: Buffer<ArrayBuffer>;
  response: Response;
}

/** PUT a manifest and assert 201 with the right digest. */
export async function pushManifest(
  base: string,
  repo: string,
  reference: string,
  manifest: object | Uint8Array | string,
  contentType?: string,
  headers: Record<string, string> = {},
): Promise<PushedManifest> {
  const bytes = manifestBytes(manifest);
  const res = await putManifest(base, repo, reference, bytes, contentType ?? (manifest as { mediaType?: string }).mediaType, headers);
  await expectStatus(res, 201);
  const digest = sha256(bytes);
  assert.equal(res.headers.get('docker-content-digest'), digest);
  return { digest, bytes, response: res };
}

export interface ImageManifest {
  schemaVersion: 2;
  mediaType: string;
  config: Descriptor;
  layers: Descriptor[];
  artifactType?: string;
  subject?: Descriptor;
  annotations?: Record<string, string>;
}

export interface PushedImage extends PushedManifest {
  manifest: ImageManifest;
  config: Descriptor;
  layers: Descriptor[];
}

export interface ImageOptions {
  /** Number of random layers (default 1). */
  layers?: number;
  /** Tag or digest reference; defaults to the manifest's digest. */
  reference?: string;
  /** Docker schema 2 instead of OCI. */
  docker?: boolean;
  annotations?: Record<string, string>;
  subject?: Descriptor;
  /** Extra request headers (e.g. Authorization) for every request of the push. */
  headers?: Record<string, string>;
}

/** Upload a small config and random layers, then push an image manifest referencing them. */
export async function pushImage(base: string, repo: string, options: ImageOptions = {}): Promise<PushedImage> {
  const docker = options.docker ?? false;
  const configBytes = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] }, nonce: randomBytes(8).toString('hex') }));
  const headers = options.headers ?? {};
  const config = await pushBlob(base, repo, configBytes, docker ? MediaType.DockerConfig : MediaType.OciConfig, headers);
  const layers: Descriptor[] = [];
  for (let i = 0; i < (options.layers ?? 1); i++) {
    layers.push(await pushBlob(base, repo, randomBytes(256 + i), docker ? MediaType.DockerLayer : MediaType.OciLayer, headers));
  }
  const manifest: ImageManifest = {
    schemaVersion: 2,
    mediaType: docker ? MediaType.DockerManifest : MediaType.OciManifest,
    config,
    layers,
    ...(options.subject ? { subject: options.subject } : {}),
    ...(options.annotations ? { annotations: options.annotations } : {}),
  };
  const bytes = manifestBytes(manifest);
  const pushed = await pushManifest(base, repo, options.reference ?? sha256(bytes), bytes, manifest.mediaType, headers);
  return { ...pushed, manifest, config, layers };
}

export interface PushedIndex extends PushedManifest {
  /** The platform images it lists (amd64, arm64). */
  images: PushedImage[];
}

/** Push two small images (linux/amd64, linux/arm64) and an OCI index over them under `reference`. */
export async function pushIndex(base: string, repo: string, reference: string, headers: Record<string, string> = {}): Promise<PushedIndex> {
  const images = [await pushImage(base, repo, { headers }), await pushImage(base, repo, { headers })];
  const index = {
    schemaVersion: 2,
    mediaType: MediaType.OciIndex,
    manifests: images.map((image, i) => ({ mediaType: MediaType.OciManifest, digest: image.digest, size: image.bytes.length, platform: { architecture: i === 0 ? 'amd64' : 'arm64', os: 'linux' } })),
  };
  return { ...(await pushManifest(base, repo, reference, index, MediaType.OciIndex, headers)), images };
}

export interface RawResponse {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

/**
 * Send a request with the path exactly as given (fetch would normalise `..` and friends) and
 * only the headers given (fetch always adds Accept and others).
 */
export function rawRequest(base: string, method: string, path: string, headers: Record<string, string> = {}, body?: Buffer): Promise<RawResponse> {
  const url = new URL(base);
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      { host: url.hostname, port: url.port, method, path, headers: { ...headers, ...(body ? { 'Content-Length': String(body.length) } : {}) }, timeout: 10_000 },
      (res) => {
        const parts: Buffer[] = [];
        res.on('data', (c: Buffer) => parts.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(parts) }));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`${method} ${path} timed out`)));
    req.on('error', reject);
    req.end(body);
  });
}

/** The absolute URL of a `Link: <...>; rel="next"` header, or undefined when there is none. */
export function nextLink(res: Response | RawResponse, base: string): URL | undefined {
  const link = res instanceof Response ? res.headers.get('link') : (res.headers['link'] as string | undefined);
  if (!link) return undefined;
  const m = /^<([^>]+)>;\s*rel="next"$/.exec(link.trim());
  assert.ok(m, `malformed Link header: ${link}`);
  return new URL(m[1]!, base);
}
