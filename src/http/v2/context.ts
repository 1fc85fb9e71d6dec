// What every /v2 handler gets: the domain services and the settings it needs.
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { BlobService } from '../../registry/blobs.js';
import type { ManifestService } from '../../registry/manifests.js';
import type { Guard, RequestAccess } from '../guard.js';
import type { Auditor } from '../../auth/audit.js';
import type { ProxyCache } from '../../proxy/cache.js';

export interface V2Context {
  blobs: BlobService;
  manifests: ManifestService;
  manifestMaxBytes: number;
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
