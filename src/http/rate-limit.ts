// Rate limits at the HTTP edge: the per-address budget before anything else is done with a
// request, the per-identity one right after authentication (the /v2 guard, the management API). Refusals
// are the spec's TOOMANYREQUESTS with Retry-After. Health and metrics are never limited.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { RegistryError } from '../registry/errors.js';
import type { LimitKind, RateLimiter } from '../auth/rate-limit.js';
import { actorName, type Identity } from '../auth/model.js';
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

/** Charge a request to the budget of its identity; throws TOOMANYREQUESTS past it (anonymous: nothing to charge). */
export type IdentityLimit = (request: FastifyRequest, identity: Identity) => Promise<void>;

export function identityLimit(limiter: RateLimiter, onRefused: (kind: LimitKind) => void): IdentityLimit {
  return async (request, identity) => {
    if (identity.kind === 'anonymous') return;
    const wait = await limiter.identity(`${identity.kind}:${actorName(identity)}`, request.ip);
    if (wait > 0) {
      onRefused('identity');
      throw tooManyRequests('identity', wait, limiter.windowMs);
    }
  };
}

/** The /v2 guard, then the budget of the identity it found. */
export function rateLimitedGuard(guard: Guard, limit: IdentityLimit): Guard {
  return async (request, requirement) => {
    const access = await guard(request, requirement);
    await limit(request, access.identity);
    return access;
  };
}
