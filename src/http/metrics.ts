// Request metrics, observed once per response in an onResponse hook (off the request path),
// and the GET /metrics endpoint. Routes are labelled by their pattern, never by the URL, so
// the number of series stays bounded whatever names clients use.
import { createServer, type Server } from 'node:http';
import type { Socket } from 'node:net';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Metrics } from '../metrics/metrics.js';

/** The label of a request: the /v2 resource pattern, else Fastify's route, else 'unmatched'. */
export function routeLabel(request: FastifyRequest): string {
  return request.routeLabel || request.routeOptions.url || 'unmatched';
}

/** Record every response, in an onResponse hook: after the response is sent, off its path. */
export function observeRequests(app: FastifyInstance, metrics: Metrics): void {
  // Bytes are what the connection carried since the previous response on it (requests on one
  // connection follow each other): chunked upload bodies have no Content-Length to read.
  const counted = new WeakMap<Socket, { read: number; written: number }>();
  // A callback hook, not an async one: no promise per request.
  app.addHook('onResponse', (request: FastifyRequest, reply: FastifyReply, done: () => void) => {
    let received = 0;
    let sent = 0;
    const socket = request.raw.socket as Socket | null;
    if (socket) {
      const before = counted.get(socket);
      const now = { read: socket.bytesRead, written: socket.bytesWritten };
      received = now.read - (before?.read ?? 0);
      sent = now.written - (before?.written ?? 0);
      counted.set(socket, now);
    }
    metrics.http.record(routeLabel(request), request.method, reply.statusCode, reply.elapsedTime / 1000, received, sent);
    done();
  });
}

async function answerScrape(metrics: Metrics): Promise<{ status: number; contentType: string; body: string }> {
  try {
    const { contentType, body } = await metrics.scrape();
    return { status: 200, contentType, body };
  } catch {
    return { status: 500, contentType: 'text/plain; charset=utf-8', body: 'metrics collection failed\n' };
  }
}

/** GET /metrics on the registry's own port. */
export function registerMetricsRoute(app: FastifyInstance, metrics: Metrics): void {
  app.get('/metrics', async (_request, reply) => {
    const { status, contentType, body } = await answerScrape(metrics);
    return reply.code(status).header('Content-Type', contentType).send(body);
  });
}

/** A plain HTTP server answering GET /metrics alone, for metrics on a port of their own. */
export function metricsServer(metrics: Metrics): Server {
  return createServer((req, res) => {
    if (req.method !== 'GET' || (req.url ?? '').split('?')[0] !== '/metrics') {
      res.writeHead(404, { 'Content-Type': 'text/plain; charset=utf-8' }).end('not found\n');
      return;
    }
    void answerScrape(metrics).then(({ status, contentType, body }) => res.writeHead(status, { 'Content-Type': contentType }).end(body));
  });
}
