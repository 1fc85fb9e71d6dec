// Request metrics, observed once per response in an onResponse hook (off the request path),
// and the GET /metrics endpoint. Routes are labelled by their pattern, never by the URL, so
// the number of series stays bounded whatever names clients use.
import { createServer, type Server } from 'node:http';
import type { Socket } from 'node:net';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Counter, Histogram } from 'prom-client';
import type { Metrics } from '../metrics/metrics.js';

/** The label of a request: the /v2 resource pattern, else Fastify's route, else 'unmatched'. */
export function routeLabel(request: FastifyRequest): string {
  return request.routeLabel || request.routeOptions.url || 'unmatched';
}

interface Series {
  requests: Counter.Internal;
  duration: Histogram.Internal<string>;
  received: Counter.Internal;
  sent: Counter.Internal;
}

/** Observe every response; served by this Fastify instance or not, the hook is the same. */
export function observeRequests(app: FastifyInstance, metrics: Metrics): void {
  // prom-client finds a series by hashing its label object; one Map lookup on a joined key is cheaper.
  const series = new Map<string, Series>();
  const seriesOf = (route: string, method: string, status: number): Series => {
    const key = `${method} ${status} ${route}`;
    let s = series.get(key);
    if (!s) {
      const labels = { route, method, status: String(status) };
      s = {
        requests: metrics.http.requests.labels(labels),
        duration: metrics.http.duration.labels(labels),
        received: metrics.http.received.labels({ route, method }),
        sent: metrics.http.sent.labels({ route, method }),
      };
      series.set(key, s);
    }
    return s;
  };
  // Bytes are what the connection carried since the previous response on it (requests on one
  // connection follow each other): chunked upload bodies have no Content-Length to read.
  const counted = new WeakMap<Socket, { read: number; written: number }>();
  app.addHook('onResponse', async (request: FastifyRequest, reply: FastifyReply) => {
    const s = seriesOf(routeLabel(request), request.method, reply.statusCode);
    s.requests.inc();
    s.duration.observe(reply.elapsedTime / 1000);
    const socket = request.raw.socket as Socket | null;
    if (!socket) return;
    const before = counted.get(socket);
    const now = { read: socket.bytesRead, written: socket.bytesWritten };
    s.received.inc(now.read - (before?.read ?? 0));
    s.sent.inc(now.written - (before?.written ?? 0));
    counted.set(socket, now);
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
