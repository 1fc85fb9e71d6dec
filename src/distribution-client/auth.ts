// Authentication against another registry: the challenge in WWW-Authenticate, Basic credentials,
// and the Docker token flow (a bearer token per scope from the realm the challenge names,
// anonymous when no credentials are given). Tokens are cached per scope until they expire.

export interface Credentials {
  username: string;
  password: string;
}

export interface Challenge {
  scheme: 'basic' | 'bearer';
  realm?: string;
  service?: string;
  scope?: string;
}

/**
 * The first Basic or Bearer challenge of a WWW-Authenticate header, e.g.
 * `Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/alpine:pull"`.
 */
export function parseChallenge(header: string | null | undefined): Challenge | undefined {
  if (!header) return undefined;
  const match = /^\s*(basic|bearer)\b\s*(.*)$/i.exec(header);
  if (!match) return undefined;
  const scheme = match[1]!.toLowerCase() as Challenge['scheme'];
  const params: Record<string, string> = {};
  // key=value or key="quoted, value", separated by commas.
  const param = /([a-zA-Z_]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^,\s]*))\s*,?/g;
  for (let m = param.exec(match[2]!); m !== null; m = param.exec(match[2]!)) {
    params[m[1]!.toLowerCase()] = m[2] !== undefined ? m[2].replace(/\\(.)/g, '$1') : (m[3] ?? '');
  }
  return {
    scheme,
    ...(params['realm'] !== undefined ? { realm: params['realm'] } : {}),
    ...(params['service'] !== undefined ? { service: params['service'] } : {}),
    ...(params['scope'] !== undefined ? { scope: params['scope'] } : {}),
  };
}

export function basicAuthorization(c: Credentials): string {
  return `Basic ${Buffer.from(`${c.username}:${c.password}`).toString('base64')}`;
}

interface CachedToken {
  token: string;
  expiresAt: number;
}

/** Tokens are refreshed this long before the registry would consider them expired. */
const EXPIRY_MARGIN_MS = 10_000;
/** The spec's default lifetime when the token response gives none. */
const DEFAULT_TOKEN_SECONDS = 60;

export type TokenFetch = (url: URL, headers: Record<string, string>) => Promise<Response>;

/** Holds what the client learnt about the registry's authentication and the tokens it got. */
export class Authorizer {
  private challenge: Challenge | undefined;
  private readonly tokens = new Map<string, CachedToken>();

  constructor(
    private readonly credentials: Credentials | undefined,
    private readonly fetchToken: TokenFetch,
  ) {}

  /** The Authorization header for a request needing `scopes`, when the registry asked for one. */
  async header(scopes: string[]): Promise<string | undefined> {
    const challenge = this.challenge;
    if (!challenge) return undefined;
    if (challenge.scheme === 'basic') return this.credentials ? basicAuthorization(this.credentials) : undefined;
    const key = scopes.join(' ');
    const cached = this.tokens.get(key);
    if (cached && cached.expiresAt > Date.now()) return `Bearer ${cached.token}`;
    const token = await this.requestToken(challenge, scopes);
    this.tokens.set(key, token);
    return `Bearer ${token.token}`;
  }

  /**
   * Learn from a 401. Returns true when a retry with new credentials can succeed (a first
   * challenge, or a cached token the registry no longer accepts).
   */
  unauthorized(header: string | null, sentAuthorization: string | undefined, scopes: string[]): boolean {
    const challenge = parseChallenge(header);
    if (!challenge) return false;
    const first = this.challenge === undefined || this.challenge.scheme !== challenge.scheme || this.challenge.realm !== challenge.realm;
    this.challenge = challenge;
    if (first) return challenge.scheme === 'bearer' || this.credentials !== undefined;
    if (challenge.scheme === 'bearer' && sentAuthorization?.startsWith('Bearer ')) {
      const key = scopes.join(' ');
      const cached = this.tokens.get(key);
      // Retry once with a fresh token when the one sent was a cached one.
      if (cached && sentAuthorization === `Bearer ${cached.token}`) {
        this.tokens.delete(key);
        return true;
      }
    }
    return false;
  }

  private async requestToken(challenge: Challenge, scopes: string[]): Promise<CachedToken> {
    if (!challenge.realm) throw new Error('the registry asked for a bearer token but named no realm');
    const url = new URL(challenge.realm);
    if (challenge.service) url.searchParams.set('service', challenge.service);
    for (const scope of scopes) url.searchParams.append('scope', scope);
    const headers: Record<string, string> = { Accept: 'application/json' };
    if (this.credentials) headers['Authorization'] = basicAuthorization(this.credentials);
    const res = await this.fetchToken(url, headers);
    if (!res.ok) {
      await res.body?.cancel().catch(() => undefined);
      // The realm without its query: the scopes are harmless, but keep messages short.
      throw new TokenError(res.status, `${url.origin}${url.pathname}`);
    }
    const body = (await res.json().catch(() => undefined)) as { token?: unknown; access_token?: unknown; expires_in?: unknown } | undefined;
    const token = typeof body?.token === 'string' ? body.token : typeof body?.access_token === 'string' ? body.access_token : undefined;
    if (!token) throw new Error(`the token endpoint ${url.origin}${url.pathname} answered without a token`);
    const seconds = typeof body?.expires_in === 'number' && body.expires_in > 0 ? body.expires_in : DEFAULT_TOKEN_SECONDS;
    return { token, expiresAt: Date.now() + seconds * 1000 - EXPIRY_MARGIN_MS };
  }
}

/** The token endpoint refused (bad credentials, or no access at all). */
export class TokenError extends Error {
  constructor(
    readonly status: number,
    realm: string,
  ) {
    super(`the token endpoint ${realm} refused with ${status}${status === 401 ? ' (bad or missing credentials)' : ''}`);
  }
}
