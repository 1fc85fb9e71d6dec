// What every /v2 handler gets: the domain services and the settings it needs.
import { Transform, type Readable } from 'node:stream';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { RegistryError, type ErrorCode } from '../../registry/errors.js';
import type { BlobService } from '../../registry/blobs.js';
import type { ManifestService } from '../../registry/manifests.js';
import type { Guard, RequestAccess } from '../guard.js';
import type { Auditor } from '../../auth/audit.js';
import type { ProxyCache } from '../../proxy/cache.js';

export interface V2Context {
  blobs: BlobService;
  manifests: ManifestService;
  manifestMaxBytes: number;
  /** A request body that sends nothing for this long is cut off with 408 (http.bodyIdleTimeoutMs). */
  bodyIdleTimeoutMs: number;
  /** Who may do what; `openGuard` when access control is off. */
  guard: Guard;
  auditor?: Auditor;
  /** The pull-through cache, when upstreams are configured. */
  proxy?: ProxyCache;
}

export type V2Handler = (
  ctx: V2Context,
  request: FastifyRequest,
  reply: FastifyReply,
  params: Record<string, string>,
  access: RequestAccess,
) => Promise<void>;

export function query(request: FastifyRequest): Record<string, string | string[] | undefined> {
  return request.query as Record<string, string | string[] | undefined>;
}

/** First value of a query parameter given once or several times. */
export function queryValue(request: FastifyRequest, name: string): string | undefined {
  const v = query(request)[name];
  return Array.isArray(v) ? v[0] : v;
}

export function contentLength(request: FastifyRequest): number | undefined {
  const header = request.headers['content-length'];
  if (header === undefined) return undefined;
  const n = Number(header);
  return Number.isSafeInteger(n) && n >= 0 ? n : undefined;
}

/** Whether the request carries a body to read (a length above zero, or chunked encoding). */
export function hasBody(request: FastifyRequest): boolean {
  const length = contentLength(request);
  if (length !== undefined) return length > 0;
  return request.headers['transfer-encoding'] !== undefined;
}

/**
 * The request body, failing with 408 (`code`, and Connection: close) when the client sends
 * nothing for `idleMs`. The connection stays up until that answer is written; a wait on our
 * side (the store reading slowly, so the body is held back) is not the client's idleness.
 */
export function idleLimitedBody(request: FastifyRequest, idleMs: number, code: ErrorCode): Readable {
  const source = request.raw;
  const guard = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      timer.refresh();
      done(null, chunk);
    },
  });
  const timer = setTimeout(function expire() {
    if (guard.writableNeedDrain || source.isPaused()) {
      timer.refresh();
      return;
    }
    source.unpipe(guard);
    guard.destroy(new RegistryError(code, `the request body sent nothing for ${idleMs} ms`, { idleMs }, { status: 408, headers: { Connection: 'close' } }));
  }, idleMs);
  // Its errors reach whoever reads the body; a body nobody reads must not crash the process.
  guard.on('error', () => undefined);
  const stop = () => clearTimeout(timer);
  source.once('end', stop);
  guard.once('close', stop);
  source.once('error', (err) => guard.destroy(err));
  source.once('close', () => {
    if (!source.readableEnded) guard.destroy(Object.assign(new Error('aborted'), { code: 'ECONNRESET' }));
  });
  source.pipe(guard);
  return guard;
}
