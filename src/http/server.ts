// HTTP bootstrap: Fastify with bodies left as streams (blobs are never buffered), one JSON
// log line per request with its id, the spec's error bodies, health, metrics and rate limits.
import { randomUUID } from 'node:crypto';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { clientErrorHandler, errorHandler, sendError } from './errors.js';
import { registerV2Routes } from './v2/routes.js';
import type { V2Context } from './v2/context.js';
import { RegistryError } from '../registry/errors.js';
import { registerHealth, type ReadinessCheck } from './health.js';
import type { Metrics } from '../metrics/metrics.js';
import { observeRequests, registerMetricsRoute } from './metrics.js';
import { limitRequests } from './rate-limit.js';
import type { LimitKind, RateLimiter } from '../auth/rate-limit.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** The route pattern metrics use when the handler knows a finer one than Fastify's (/v2). */
    routeLabel: string;
  }
}

export interface ServerOptions {
  logger: Logger;
  headersTimeoutMs: number;
  /** A request body that sends nothing this long is answered 408 (see request-body.ts). */
  bodyIdleTimeoutMs: number;
  keepAliveTimeoutMs: number;
  /** PEM certificate and key: serve HTTPS instead of plain HTTP. */
  tls?: { cert: Buffer; key: Buffer };
  /** The backends /readyz asks, by name; each throws when its backend does not answer. */
  ready: Record<string, ReadinessCheck>;
  readyTimeoutMs: number;
  /** Observe requests; `serve` false when /metrics has a port of its own. */
  metrics?: { metrics: Metrics; serve: boolean };
  /** Refuse requests past the per-address budget (the per-identity one is in the guard). */
  rateLimit?: { limiter: RateLimiter; onRefused: (kind: LimitKind) => void };
}

/** Often enough that a slow client is cut off close to its timeout, rarely enough to cost nothing. */
function checkingInterval(headersTimeoutMs: number): number {
  return Math.max(50, Math.min(1_000, Math.floor(headersTimeoutMs / 4)));
}

export function buildServer(ctx: V2Context, options: ServerOptions): FastifyInstance {
  const app = Fastify({
    // Node looks for connections past headersTimeout only this often (30 s by default).
    ...(options.tls
      ? { https: { cert: options.tls.cert, key: options.tls.key, connectionsCheckingInterval: checkingInterval(options.headersTimeoutMs) } }
      : { http: { connectionsCheckingInterval: checkingInterval(options.headersTimeoutMs) } }),
    clientErrorHandler,
    loggerInstance: options.logger as unknown as FastifyBaseLogger,
    // One log line per request, written by the onResponse hook below.
    logController: new LogController({ disableRequestLogging: true }),
    exposeHeadRoutes: false,
    return503OnClosing: false,
    forceCloseConnections: 'idle',
    keepAliveTimeout: options.keepAliveTimeoutMs,
    requestTimeout: 0,
    genReqId: (req) => {
      const given = req.headers['x-request-id'];
      return typeof given === 'string' && /^[A-Za-z0-9._-]{1,64}$/.test(given) ? given : randomUUID();
    },
    routerOptions: { maxParamLength: 2048, ignoreDuplicateSlashes: false },
    // Errors Fastify raises before routing (a malformed URL, an over-long path) get the
    // spec's error body too, not Fastify's own.
    frameworkErrors: (err, request, reply) => errorHandler(err, request, reply),
  });
  app.server.headersTimeout = options.headersTimeoutMs;
  app.decorateRequest('routeLabel', '');
  app.decorateRequest('bodyIdleTimeoutMs', options.bodyIdleTimeoutMs);

  // Every body stays an unread stream; handlers decide how to consume it.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', (_request, _payload, done) => done(null, undefined));

  app.setErrorHandler(errorHandler);
  app.setNotFoundHandler((_request, reply) => sendError(reply, new RegistryError('NAME_UNKNOWN', 'not found', undefined, { status: 404 })));

  app.addHook('onRequest', async (request, reply) => {
    reply.header('X-Request-Id', request.id);
  });
  // Node closes idle keep-alive connections once, as the server starts closing; a connection
  // whose response was still being sent then would be held open until the grace period ends.
  // Close each such connection as soon as its response is done.
  let closing = false;
  app.addHook('preClose', async () => {
    closing = true;
  });
  app.addHook('onResponse', async (request, reply) => {
    if (closing) setImmediate(() => app.server.closeIdleConnections());
    request.log.info(
      {
        method: request.method,
        url: request.url,
        status: reply.statusCode,
        ms: Math.round(reply.elapsedTime * 10) / 10,
        bytesIn: Number(request.headers['content-length'] ?? 0) || undefined,
        bytesOut: Number(reply.getHeader('content-length') ?? 0) || undefined,
        remote: request.ip,
      },
      'request',
    );
  });

  registerHealth(app, { checks: options.ready, timeoutMs: options.readyTimeoutMs, closing: () => closing });
  if (options.metrics) {
    observeRequests(app, options.metrics.metrics);
    if (options.metrics.serve) registerMetricsRoute(app, options.metrics.metrics);
  }
  if (options.rateLimit) limitRequests(app, options.rateLimit.limiter, options.rateLimit.onRefused);

  registerV2Routes(app, ctx);
  return app;
}
