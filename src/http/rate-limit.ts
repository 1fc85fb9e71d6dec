// Rate limits at the HTTP edge: the per-address budget before anything else is done with a
// request, the per-identity one right after the /v2 guard has found who is asking. Refusals
// are the spec's TOOMANYREQUESTS with Retry-After. Health and metrics are never limited.
import type { FastifyInstance } from 'fastify';
import { RegistryError } from '../registry/errors.js';
import type { LimitKind, RateLimiter } from '../auth/rate-limit.js';
import { actorName } from '../auth/model.js';
import type { Guard } from './guard.js';

const UNLIMITED_ROUTES = new Set(['/healthz', '/readyz', '/metrics']);

function tooManyRequests(kind: LimitKind, retryAfterSeconds: number, windowMs: number): RegistryError {
  return new RegistryError('TOOMANYREQUESTS', `request budget of this ${kind} used up; retry in ${retryAfterSeconds} s`, { limit: kind, windowMs }, {
    headers: { 'Retry-After': String(retryAfterSeconds) },
  });
}

export function limitRequests(app: FastifyInstance, limiter: RateLimiter, onRefused: (kind: LimitKind) => void): void {
  app.addHook('onRequest', async (request) => {
    if (UNLIMITED_ROUTES.has(request.routeOptions.url ?? '')) return;
    const wait = await limiter.address(request.ip);
    if (wait > 0) {
      onRefused('address');
      throw tooManyRequests('address', wait, limiter.windowMs);
    }
  });
}

/** The guard, then the budget of the identity it found (anonymous requests have only the address budget). */
export function rateLimitedGuard(guard: Guard, limiter: RateLimiter, onRefused: (kind: LimitKind) => void): Guard {
  return async (request, requirement) => {
    const access = await guard(request, requirement);
    if (access.identity.kind === 'anonymous') return access;
    const wait = await limiter.identity(`${access.identity.kind}:${actorName(access.identity)}`, request.ip);
    if (wait > 0) {
      onRefused('identity');
      throw tooManyRequests('identity', wait, limiter.windowMs);
    }
    return access;
  };
}
