// The token endpoint of the Docker token flow: GET with Basic credentials (or none, for
// anonymous pulls of public namespaces), and POST with the OAuth2 form (password and
// refresh_token grants) as docker and containerd send it. The token grants the intersection
// of the scopes asked for and what the identity may do.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { RegistryError } from '../registry/errors.js';
import { requestBody } from './request-body.js';
import { otpHeader, parseBasic, type Authenticator } from '../auth/authenticate.js';
import type { AccessPolicy } from '../auth/policy.js';
import type { TokenService } from '../auth/tokens.js';
import type { Auditor } from '../auth/audit.js';
import { actorName, type Identity } from '../auth/model.js';
import { formatScope, parseScopes, type AccessEntry } from '../auth/scopes.js';

export interface TokenEndpointOptions {
  authenticator: Authenticator;
  policy: AccessPolicy;
  tokens: TokenService;
  auditor: Auditor;
  service: string;
}

const FORM_LIMIT = 64 * 1024;

async function readForm(request: FastifyRequest): Promise<URLSearchParams> {
  const parts: Buffer[] = [];
  let total = 0;
  for await (const chunk of requestBody(request, 'UNSUPPORTED')) {
    total += (chunk as Buffer).length;
    if (total > FORM_LIMIT) throw new RegistryError('SIZE_INVALID', 'form too large', undefined, { status: 413, headers: { Connection: 'close' } });
    parts.push(chunk as Buffer);
  }
  return new URLSearchParams(Buffer.concat(parts).toString('utf8'));
}

function values(query: unknown, name: string): string[] {
  const v = (query as Record<string, string | string[] | undefined>)[name];
  return v === undefined ? [] : Array.isArray(v) ? v : [v];
}

export function registerTokenEndpoint(app: FastifyInstance, options: TokenEndpointOptions): void {
  /** Grant each requested scope as far as the identity may. */
  const grant = async (identity: Identity, scopes: string[]): Promise<AccessEntry[]> => {
    const granted: AccessEntry[] = [];
    for (const entry of parseScopes(scopes)) {
      if (entry.type === 'registry') {
        // Everyone may ask for the catalog; it lists only what the caller may pull.
        if (entry.actions.includes('*')) granted.push(entry);
        continue;
      }
      const allowed = await options.policy.allowedActions(identity, entry.name);
      const actions = entry.actions.filter((a) => allowed.has(a as 'pull'));
      granted.push({ ...entry, actions });
    }
    return granted;
  };

  const checkService = (service: string | undefined) => {
    if (service !== undefined && service !== options.service) {
      throw new RegistryError('UNSUPPORTED', `unknown service ${service.slice(0, 100)}`, undefined, { status: 400 });
    }
  };

  const answer = async (reply: FastifyReply, identity: Identity, scopes: string[], refresh: boolean, source: string) => {
    const access = await grant(identity, scopes);
    const issued = await options.tokens.issue(identity, access);
    const body: Record<string, unknown> = {
      token: issued.token,
      access_token: issued.token,
      expires_in: issued.expiresIn,
      issued_at: issued.issuedAt.toISOString(),
      // What was granted (OAuth2: the scope of the token, when it differs from the one asked).
      scope: access.filter((a) => a.actions.length > 0).map(formatScope).join(' '),
    };
    if (refresh && identity.kind !== 'anonymous') body['refresh_token'] = await options.tokens.issueRefresh(identity);
    if (identity.kind !== 'anonymous') {
      await options.auditor.record({ actor: actorName(identity), action: 'login', source, detail: { scopes: access.map((a) => `${a.type}:${a.name}:${a.actions.join(',')}`) } });
    }
    reply.code(200).header('Cache-Control', 'no-store').header('Content-Type', 'application/json; charset=utf-8').send(JSON.stringify(body));
    return reply;
  };

  app.get('/token', async (request, reply) => {
    const q = request.query as Record<string, string | undefined>;
    checkService(q['service']);
    const basic = parseBasic(request.headers.authorization);
    const otp = otpHeader(request);
    const identity: Identity = basic ? await options.authenticator.password(basic.username, basic.password, request.ip, { otp }) : { kind: 'anonymous' };
    return answer(reply, identity, values(request.query, 'scope'), q['offline_token'] === 'true', request.ip);
  });

  app.post('/token', async (request, reply) => {
    const form = await readForm(request);
    checkService(form.get('service') ?? undefined);
    const scopes = form.getAll('scope').flatMap((s) => s.split(' ')).filter((s) => s !== '');
    const grantType = form.get('grant_type');
    let identity: Identity;
    if (grantType === 'password') {
      identity = await options.authenticator.password(form.get('username') ?? '', form.get('password') ?? '', request.ip, { otp: form.get('otp') ?? otpHeader(request) });
    } else if (grantType === 'refresh_token') {
      const refreshed = await options.authenticator.refresh(form.get('refresh_token') ?? '');
      if (!refreshed) throw new RegistryError('UNAUTHORIZED', 'invalid or expired refresh token');
      identity = refreshed;
    } else {
      throw new RegistryError('UNSUPPORTED', 'grant_type must be password or refresh_token', undefined, { status: 400 });
    }
    const offline = form.get('access_type') === 'offline' || grantType === 'refresh_token';
    return answer(reply, identity, scopes, offline, request.ip);
  });
}
