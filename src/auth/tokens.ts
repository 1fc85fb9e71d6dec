// Signed bearer tokens (ES256 JWTs, via jose) for the Docker token flow. The signing key is
// generated once and kept in the shared settings, so every node of a cluster signs and
// verifies with the same key.
import { randomUUID } from 'node:crypto';
import { SignJWT, exportJWK, generateKeyPair, importJWK, jwtVerify, type CryptoKey, type JWK } from 'jose';

type KeyLike = CryptoKey | Uint8Array;
import type { AccessStore } from '../metadata/access-store.js';
import { ROBOT_ACTIONS, type Identity } from './model.js';
import type { AccessEntry } from './scopes.js';

const ALGORITHM = 'ES256';
const KEY_SETTING = 'auth.token.signing-key';
/** How far ahead of our clock another node's `iat` may be; a later one is forged, not skewed. */
const ISSUED_AT_SKEW_SECONDS = 60;

export interface TokenOptions {
  issuer: string;
  service: string;
  ttlSeconds: number;
  refreshTtlSeconds: number;
}

export interface VerifiedToken {
  identity: Identity;
  access: AccessEntry[];
}

/** Who a token speaks for, as carried in its claims. */
interface IdentityClaims {
  sub: string;
  kind: Identity['kind'];
  uid?: string;
  adm?: boolean;
  ns?: string | null;
  /** A robot's actions: the catalog of a robot's token lists what they let it pull. */
  act?: unknown;
}

function claimsOf(identity: Identity): IdentityClaims {
  switch (identity.kind) {
    case 'anonymous':
      return { sub: '', kind: 'anonymous' };
    case 'user':
      return { sub: identity.username, kind: 'user', uid: identity.id, adm: identity.admin };
    case 'robot':
      return { sub: identity.name, kind: 'robot', uid: identity.id, ns: identity.namespace, act: identity.actions };
  }
}

export class TokenService {
  private constructor(
    private readonly privateKey: KeyLike,
    private readonly publicKey: KeyLike,
    private readonly kid: string,
    private readonly options: TokenOptions,
  ) {}

  static async open(access: AccessStore, options: TokenOptions): Promise<TokenService> {
    const { privateKey } = await generateKeyPair(ALGORITHM, { extractable: true });
    const candidate = { ...(await exportJWK(privateKey)), kid: randomUUID(), alg: ALGORITHM };
    return TokenService.fromStored(await access.getOrSetSetting(KEY_SETTING, () => JSON.stringify(candidate)), options);
  }

  private static async fromStored(stored: string, options: TokenOptions): Promise<TokenService> {
    const jwk = JSON.parse(stored) as JWK & { kid: string };
    const { d: _private, ...publicJwk } = jwk;
    const priv = (await importJWK(jwk, ALGORITHM)) as KeyLike;
    const pub = (await importJWK(publicJwk, ALGORITHM)) as KeyLike;
    return new TokenService(priv, pub, jwk.kid, options);
  }

  /**
   * Check the stored signing key without creating one (`registry doctor`): its key id, or
   * undefined when none exists yet. Throws when it cannot sign a token that then verifies.
   */
  static async checkStoredKey(access: AccessStore, options: TokenOptions): Promise<string | undefined> {
    const stored = await access.getSetting(KEY_SETTING);
    if (stored === undefined) return undefined;
    const service = await TokenService.fromStored(stored, options);
    const { token } = await service.issue({ kind: 'anonymous' }, []);
    if (!(await service.verify(token))) throw new Error('a token signed with the stored key does not verify');
    return service.kid;
  }

  get ttlSeconds(): number {
    return this.options.ttlSeconds;
  }

  /** An access token granting `access` to `identity`. */
  async issue(identity: Identity, access: AccessEntry[]): Promise<{ token: string; issuedAt: Date; expiresIn: number }> {
    const now = Math.floor(Date.now() / 1000);
    const { sub, ...claims } = claimsOf(identity);
    const token = await new SignJWT({ ...claims, access })
      .setProtectedHeader({ alg: ALGORITHM, kid: this.kid, typ: 'JWT' })
      .setIssuer(this.options.issuer)
      .setAudience(this.options.service)
      .setSubject(sub)
      .setIssuedAt(now)
      .setNotBefore(now - 5)
      .setExpirationTime(now + this.options.ttlSeconds)
      .setJti(randomUUID())
      .sign(this.privateKey);
    return { token, issuedAt: new Date(now * 1000), expiresIn: this.options.ttlSeconds };
  }

  /** A refresh token (OAuth2 offline access): only good at the token endpoint. */
  async issueRefresh(identity: Identity): Promise<string> {
    const now = Math.floor(Date.now() / 1000);
    const { sub, ...claims } = claimsOf(identity);
    return new SignJWT({ ...claims, use: 'refresh' })
      .setProtectedHeader({ alg: ALGORITHM, kid: this.kid, typ: 'JWT' })
      .setIssuer(this.options.issuer)
      .setAudience(`${this.options.service}#refresh`)
      .setSubject(sub)
      .setIssuedAt(now)
      .setExpirationTime(now + this.options.refreshTtlSeconds)
      .setJti(randomUUID())
      .sign(this.privateKey);
  }

  /** Verify an access token; undefined when it is forged, expired, for another service or malformed. */
  async verify(token: string): Promise<VerifiedToken | undefined> {
    try {
      const { payload } = await jwtVerify(token, this.publicKey, {
        algorithms: [ALGORITHM],
        issuer: this.options.issuer,
        audience: this.options.service,
        requiredClaims: ['exp', 'sub', 'iat'],
      });
      if (payload['use'] === 'refresh' || issuedInFuture(payload.iat)) return undefined;
      const access = Array.isArray(payload['access']) ? (payload['access'] as AccessEntry[]) : [];
      return { identity: identityOf(payload as unknown as IdentityClaims), access };
    } catch {
      return undefined;
    }
  }

  /** Verify a refresh token; the identity it names (still to be checked against the store). */
  /** The identity a refresh token names, and when it was issued. */
  async verifyRefresh(token: string): Promise<(Identity & { issuedAt?: Date }) | undefined> {
    try {
      const { payload } = await jwtVerify(token, this.publicKey, {
        algorithms: [ALGORITHM],
        issuer: this.options.issuer,
        audience: `${this.options.service}#refresh`,
        requiredClaims: ['exp', 'sub', 'iat'],
      });
      if (payload['use'] !== 'refresh' || issuedInFuture(payload.iat)) return undefined;
      const identity = identityOf(payload as unknown as IdentityClaims);
      return typeof payload.iat === 'number' ? { ...identity, issuedAt: new Date(payload.iat * 1000) } : identity;
    } catch {
      return undefined;
    }
  }
}

/** jose checks `nbf` and `exp` but not an `iat` ahead of our clock. */
function issuedInFuture(iat: number | undefined): boolean {
  return iat === undefined || iat > Math.floor(Date.now() / 1000) + ISSUED_AT_SKEW_SECONDS;
}

function identityOf(c: IdentityClaims): Identity {
  if (c.kind === 'user') return { kind: 'user', id: c.uid ?? '', username: c.sub, admin: c.adm === true };
  if (c.kind === 'robot') {
    const actions = Array.isArray(c.act) ? ROBOT_ACTIONS.filter((a) => (c.act as unknown[]).includes(a)) : [];
    return { kind: 'robot', id: c.uid ?? '', name: c.sub, namespace: c.ns ?? null, actions };
  }
  return { kind: 'anonymous' };
}
