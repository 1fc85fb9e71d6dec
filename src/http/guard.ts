// Authentication and authorisation of /v2 requests. Each request names what it needs (a
// repository and actions, the catalog, or just a login); the guard finds who is asking (bearer
// token, HTTP Basic, or nobody) and either lets it through or answers as the Docker token spec
// says: 401 with a Bearer challenge naming the scope, or 403 DENIED to an authenticated Basic
// user who lacks the right.
import { isIPv6 } from 'node:net';
import type { FastifyRequest } from 'fastify';
import { RegistryError } from '../registry/errors.js';
import type { Authenticator } from '../auth/authenticate.js';
import { parseBasic, parseBearer } from '../auth/authenticate.js';
import type { AccessPolicy } from '../auth/policy.js';
import type { Identity, RepositoryAction } from '../auth/model.js';
import { grantedActions, type AccessEntry } from '../auth/scopes.js';
import type { SessionService } from '../auth/sessions.js';
import { isSafeMethod, sessionIdOf } from './session-cookie.js';

export type Requirement =
  | { kind: 'login' }
  | { kind: 'catalog' }
  | { kind: 'repository'; name: string; actions: RepositoryAction[] };

/** What the request may do, for handlers that decide more (mount sources, catalog entries). */
export interface RequestAccess {
  identity: Identity;
  allows(repository: string, action: RepositoryAction): Promise<boolean>;
  pullable(repositories: string[]): Promise<string[]>;
}

export type Guard = (request: FastifyRequest, requirement: Requirement) => Promise<RequestAccess>;

/** With access control off, everyone may do everything. */
export const openGuard: Guard = async () => ({
  identity: { kind: 'anonymous' },
  allows: async () => true,
  pullable: async (repositories) => repositories,
});

export interface GuardOptions {
  authenticator: Authenticator;
  policy: AccessPolicy;
  service: string;
  realm?: string;
  basic: boolean;
  /** The web UI's sessions: its cookie is accepted for reads (GET, HEAD) only. */
  sessions?: SessionService;
}

/** A Host header that is a host name or address and an optional port, nothing else. */
const PLAIN_HOST = /^(?:[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.?|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?$/;

/**
 * The host the client addressed, for URLs we hand back (the token realm, event payloads). A
 * Host header that is anything more (quotes, spaces, a path, credentials) would let a request
 * write into our headers: the address the connection came in on is used instead.
 */
export function requestHost(request: FastifyRequest): string {
  if (PLAIN_HOST.test(request.host)) return request.host;
  const { localAddress, localPort } = request.raw.socket;
  return isIPv6(localAddress ?? '') ? `[${localAddress}]:${localPort}` : `${localAddress}:${localPort}`;
}

export function realmOf(request: FastifyRequest, configured: string | undefined): string {
  return configured ?? `${request.protocol}://${requestHost(request)}/token`;
}

export function tokenGuard(options: GuardOptions): Guard {
  const challenge = (request: FastifyRequest, scope?: string, error?: string, message?: string): RegistryError => {
    const parts = [`realm="${realmOf(request, options.realm)}"`, `service="${options.service}"`];
    if (scope) parts.push(`scope="${scope}"`);
    if (error) parts.push(`error="${error}"`);
    return new RegistryError('UNAUTHORIZED', message, scope ? { scope } : undefined, { headers: { 'WWW-Authenticate': `Bearer ${parts.join(',')}` } });
  };

  return async (request, requirement) => {
    const header = request.headers.authorization;
    let identity: Identity = { kind: 'anonymous' };
    let tokenAccess: AccessEntry[] | undefined;
    let via: 'bearer' | 'basic' | 'session' | 'none' = 'none';
    const bearer = parseBearer(header);
    const basic = bearer ? undefined : parseBasic(header);
    if (bearer) {
      const verified = await options.authenticator.bearer(bearer);
      if (!verified) throw challenge(request, scopeOf(requirement), 'invalid_token');
      identity = verified.identity;
      tokenAccess = verified.access;
      via = 'bearer';
    } else if (basic) {
      if (!options.basic) throw challenge(request, scopeOf(requirement));
      try {
        identity = await options.authenticator.password(basic.username, basic.password, request.ip);
      } catch (err) {
        // Wrong credentials: a 401, and like every 401 it says how to authenticate.
        if (err instanceof RegistryError && err.code === 'UNAUTHORIZED') throw challenge(request, scopeOf(requirement), undefined, err.message);
        throw err;
      }
      via = 'basic';
    } else if (header === undefined && options.sessions && isSafeMethod(request.method) && sessionIdOf(request) !== undefined) {
      const session = await options.sessions.resolve(sessionIdOf(request)!);
      // A session that may only enrol a second factor reads nothing more than an anonymous client.
      if (session && !session.mustEnrol) {
        identity = session.identity;
        via = 'session';
      }
    }

    const allows = async (repository: string, action: RepositoryAction): Promise<boolean> => {
      // A token carries exactly what the token endpoint granted when it was issued.
      if (tokenAccess) return grantedActions(tokenAccess, 'repository', repository).has(action);
      return (await options.policy.allowedActions(identity, repository)).has(action);
    };
    const access: RequestAccess = { identity, allows, pullable: (repos) => options.policy.pullable(identity, repos) };

    if (requirement.kind === 'login') {
      if (via === 'none') throw challenge(request);
      return access;
    }
    if (requirement.kind === 'catalog') {
      if (via === 'none') throw challenge(request, 'registry:catalog:*');
      if (tokenAccess && !grantedActions(tokenAccess, 'registry', 'catalog').has('*')) throw challenge(request, 'registry:catalog:*', 'insufficient_scope');
      return access;
    }
    for (const action of requirement.actions) {
      if (await allows(requirement.name, action)) continue;
      if (via === 'basic' || via === 'session') {
        throw new RegistryError('DENIED', `${action} access to ${requirement.name} is not granted`, { repository: requirement.name, action });
      }
      throw challenge(request, scopeOf(requirement), via === 'bearer' ? 'insufficient_scope' : undefined);
    }
    if (requirement.actions.includes('push')) await options.policy.prepareNamespaceForPush(identity, requirement.name);
    return access;
  };
}

function scopeOf(requirement: Requirement): string | undefined {
  if (requirement.kind === 'catalog') return 'registry:catalog:*';
  if (requirement.kind === 'repository') return `repository:${requirement.name}:${requirement.actions.join(',')}`;
  return undefined;
}
