// Liveness and readiness for load balancers and orchestrators: /healthz answers while the
// process serves; /readyz also asks each backend, each within a short timeout, and says which
// one failed. Neither needs credentials nor reveals more than a dependency's name.
import type { FastifyInstance } from 'fastify';

/** A backend readiness depends on: resolves when it answers. */
export type ReadinessCheck = () => Promise<void>;

export interface HealthOptions {
  checks: Record<string, ReadinessCheck>;
  timeoutMs: number;
  /** True once shutdown has begun: no longer ready, whatever the backends say. */
  closing: () => boolean;
}

/** undefined when the check passed in time, else why not. */
async function run(check: ReadinessCheck, timeoutMs: number): Promise<string | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<string>((resolve) => {
    timer = setTimeout(() => resolve(`no answer within ${timeoutMs} ms`), timeoutMs);
  });
  try {
    return await Promise.race([check().then(() => undefined), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

export function registerHealth(app: FastifyInstance, options: HealthOptions): void {
  app.get('/healthz', async (_request, reply) => reply.code(200).send({ status: 'ok' }));
  app.get('/readyz', async (request, reply) => {
    if (options.closing()) return reply.code(503).send({ status: 'shutting down' });
    const names = Object.keys(options.checks);
    const results = await Promise.all(
      names.map((name) =>
        run(options.checks[name]!, options.timeoutMs).catch((err: unknown) => {
          // The reason goes to the log only: driver messages name hosts and paths.
          request.log.warn({ err, dependency: name }, 'readiness check failed');
          return 'failed';
        }),
      ),
    );
    const checks: Record<string, string> = {};
    const failing: string[] = [];
    names.forEach((name, i) => {
      checks[name] = results[i] ?? 'ok';
      if (results[i] !== undefined) failing.push(name);
    });
    if (failing.length > 0) request.log.warn({ checks }, 'not ready');
    if (failing.length > 0) return reply.code(503).send({ status: 'unavailable', failing, checks });
    return reply.code(200).send({ status: 'ready', checks });
  });
}
