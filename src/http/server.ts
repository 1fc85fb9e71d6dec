// HTTP bootstrap: Fastify with bodies left as streams (blobs are never buffered), one JSON
// log line per request with its id, the spec's error bodies, and the health endpoints.
import { randomUUID } from 'node:crypto';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { errorHandler, sendError } from './errors.js';
import { registerV2Routes } from './v2/routes.js';
import type { V2Context } from './v2/context.js';
import { RegistryError } from '../registry/errors.js';

export interface ServerOptions {
  logger: Logger;
  headersTimeoutMs: number;
  keepAliveTimeoutMs: number;
  /** PEM certificate and key: serve HTTPS instead of plain HTTP. */
  tls?: { cert: Buffer; key: Buffer };
  /** Checks the backends for /readyz; throws when one does not answer. */
  ready: () => Promise<void>;
}

export function buildServer(ctx: V2Context, options: ServerOptions): FastifyInstance {
  const app = Fastify({
    ...(options.tls ? { https: { cert: options.tls.cert, key: options.tls.key } } : {}),
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

  app.get('/healthz', async (_request, reply) => reply.code(200).send({ status: 'ok' }));
  app.get('/readyz', async (request, reply) => {
    try {
      await options.ready();
      return reply.code(200).send({ status: 'ready' });
    } catch (err) {
      request.log.warn({ err }, 'not ready');
      return reply.code(503).send({ status: 'unavailable' });
    }
  });

  registerV2Routes(app, ctx);
  return app;
}
