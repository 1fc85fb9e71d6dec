// Turns credentials into an identity: passwords of users (argon2id; bcrypt for users imported
// from htpasswd), secrets of robot accounts, and bearer tokens. Failed logins are throttled
// and audited; secrets are never logged.
import { createHash } from 'node:crypto';
import { hash as argonHash, verify as argonVerify } from '@node-rs/argon2';
import bcrypt from 'bcryptjs';
import { RegistryError } from '../registry/errors.js';
import type { AccessStore } from '../metadata/access-store.js';
import type { Auditor } from './audit.js';
import type { DirectoryAccounts } from './directory-accounts.js';
import { CLI_SECRET_PREFIX, type CliSecrets } from './cli-secrets.js';
import type { SecondFactor } from './second-factor.js';
import { DirectoryUnavailableError } from './ldap.js';
import type { Identity } from './model.js';
import type { LoginThrottle } from './throttle.js';
import type { TokenService, VerifiedToken } from './tokens.js';

export const ROBOT_PREFIX = 'robot$';

/** Where clients send a second-factor code (the management API, the token endpoint). */
export const OTP_HEADER = 'X-Registry-OTP';

export interface SecondFactorInput {
  /** A TOTP or recovery code. */
  otp?: string | undefined;
  /** The request enrols a second factor: an account that must have one may still log in for it. */
  enrolling?: boolean;
}

/** A successful password check is remembered briefly, so Basic auth on every request stays cheap. */
const VERIFIED_TTL_MS = 30_000;
const VERIFIED_MAX = 10_000;

export async function hashSecret(secret: string): Promise<string> {
  return argonHash(secret);
}

export function parseBasic(header: string | undefined): { username: string; password: string } | undefined {
  if (!header || !/^basic /i.test(header)) return undefined;
  const decoded = Buffer.from(header.slice(6).trim(), 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon <= 0) return undefined;
  return { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}

/** The second-factor code a client sent beside its credentials, if any. */
export function otpHeader(request: { headers: Record<string, string | string[] | undefined> }): string | undefined {
  const value = request.headers[OTP_HEADER.toLowerCase()];
  return typeof value === 'string' ? value : undefined;
}

/** The refusal to an account that must enrol a second factor before anything else. */
export function enrolFirst(): RegistryError {
  return new RegistryError('DENIED', 'this account must enrol a second factor first (POST /api/v1/me/mfa/totp)', { secondFactor: 'enrol' });
}

export function parseBearer(header: string | undefined): string | undefined {
  if (!header || !/^bearer /i.test(header)) return undefined;
  const token = header.slice(7).trim();
  return token === '' ? undefined : token;
}

export class Authenticator {
  private readonly verified = new Map<string, { identity: Identity; until: number }>();

  constructor(
    private readonly store: AccessStore,
    private readonly tokens: TokenService,
    private readonly throttle: LoginThrottle,
    private readonly audit: Auditor,
    /** Directory (LDAP) accounts, when a directory is configured, and how long a directory login is remembered. */
    private readonly directory?: { accounts: DirectoryAccounts; cacheTtlMs: number },
    /** Second factors of people (TOTP), when the registry offers them. */
    private readonly secondFactor?: SecondFactor,
    /** Personal CLI secrets of people who signed in through OpenID Connect, when it is configured. */
    private readonly cliSecrets?: CliSecrets,
  ) {}

  /**
   * Check a username (or robot name) and password, and the second factor of a person who has
   * one (`otp`: a TOTP or recovery code). Throws UNAUTHORIZED when they are wrong or the code
   * is missing, DENIED when the account must enrol a second factor first (unless `enrolling`),
   * TOOMANYREQUESTS when this address or account failed too often.
   */
  async password(username: string, password: string, source: string, factor: SecondFactorInput = {}): Promise<Identity> {
    // Throttled before the remembered checks: a refused account or address stays refused, and
    // a guess that matches a remembered password must not be told apart from a wrong one.
    const wait = await this.throttle.refusedFor(source, username);
    if (wait > 0) {
      throw new RegistryError('TOOMANYREQUESTS', 'too many failed logins; try again later', undefined, { headers: { 'Retry-After': String(wait) } });
    }
    const key = createHash('sha256').update(username).update('\0').update(password).digest('hex');
    const cached = this.verified.get(key);
    if (cached && cached.until > Date.now()) {
      await this.checkSecondFactor(cached.identity, source, factor);
      return cached.identity;
    }

    const checked = await this.check(username, password, source);
    if (!checked) {
      await this.audit.record({ actor: username.slice(0, 128), action: 'login.failed', source });
      await this.throttle.failed(source, username);
      throw new RegistryError('UNAUTHORIZED', 'invalid username or password');
    }
    const identity = checked.identity;
    // A CLI secret was issued after a login at the identity provider, which asks for its own
    // second factor; clients that take a secret (docker login) cannot send a code.
    if (!checked.cliSecret) await this.checkSecondFactor(identity, source, factor);
    if (this.verified.size >= VERIFIED_MAX) this.verified.clear();
    // A robot that expires sooner is not remembered past its expiry.
    const until = Math.min(Date.now() + (checked.rememberMs ?? VERIFIED_TTL_MS), checked.expiresAt?.getTime() ?? Infinity);
    if (until > Date.now()) this.verified.set(key, { identity, until });
    return identity;
  }

  /** After the password: a person with a second factor must give a code; one who must have it, enrol first. */
  private async checkSecondFactor(identity: Identity, source: string, factor: SecondFactorInput): Promise<void> {
    if (identity.kind !== 'user' || !this.secondFactor) return;
    if (!(await this.secondFactor.enrolled(identity.username))) {
      if (!factor.enrolling && (await this.secondFactor.required(identity))) {
        throw enrolFirst();
      }
      return;
    }
    if (factor.otp === undefined || factor.otp.trim() === '') {
      throw new RegistryError('UNAUTHORIZED', `this account has a second factor: send the code in the ${OTP_HEADER} header (clients that cannot, use a robot account)`, { secondFactor: 'totp' });
    }
    if (!(await this.secondFactor.verify(identity.username, factor.otp))) {
      await this.audit.record({ actor: identity.username, action: 'login.failed', source, detail: { reason: 'second factor' } });
      await this.throttle.failed(source, identity.username);
      throw new RegistryError('UNAUTHORIZED', 'invalid, used or expired second-factor code', { secondFactor: 'totp' });
    }
  }

  private async check(username: string, password: string, source: string): Promise<{ identity: Identity; expiresAt?: Date | null; rememberMs?: number; cliSecret?: boolean } | undefined> {
    if (this.cliSecrets && password.startsWith(CLI_SECRET_PREFIX)) {
      const owner = await this.cliSecrets.verify(username, password);
      // Never remembered: a revoked secret stops working at the next request.
      if (owner) return { identity: { kind: 'user', id: owner.id, username: owner.username, admin: owner.admin }, rememberMs: 0, cliSecret: true };
    }
    if (username.startsWith(ROBOT_PREFIX)) {
      const robot = await this.store.getRobot(username);
      if (!robot || robot.revoked || (robot.expiresAt && robot.expiresAt.getTime() <= Date.now())) return undefined;
      if (!(await safeVerify(robot.secretHash, password))) return undefined;
      await this.store.touchRobot(robot.name, new Date());
      return { identity: { kind: 'robot', id: robot.id, name: robot.name, namespace: robot.namespace, actions: robot.actions }, expiresAt: robot.expiresAt };
    }
    const user = await this.store.getUser(username);
    if (this.directory && (await this.directory.accounts.handles(user))) {
      const synced = await this.directory.accounts.login(username, password, source).catch((err: unknown) => {
        // Not the user's fault: no failed login is counted, and the client may try again.
        if (err instanceof DirectoryUnavailableError) throw new RegistryError('UNAVAILABLE', 'the directory cannot be reached; try again later');
        throw err;
      });
      if (!synced || synced.disabled) return undefined;
      return { identity: { kind: 'user', id: synced.id, username: synced.username, admin: synced.admin }, rememberMs: this.directory.cacheTtlMs };
    }
    if (!user || user.disabled) return undefined;
    if (!(await safeVerify(user.passwordHash, password))) return undefined;
    return { identity: { kind: 'user', id: user.id, username: user.username, admin: user.admin } };
  }

  /** A verified bearer token, or undefined (forged, expired, wrong audience, malformed). */
  async bearer(token: string): Promise<VerifiedToken | undefined> {
    return this.tokens.verify(token);
  }

  /** The current identity behind a refresh token: refused once the account is disabled or revoked. */
  async refresh(token: string): Promise<Identity | undefined> {
    const claimed = await this.tokens.verifyRefresh(token);
    if (!claimed || claimed.kind === 'anonymous') return undefined;
    if (claimed.kind === 'user') {
      const user = await this.store.getUser(claimed.username);
      if (!user || user.disabled || user.id !== claimed.id) return undefined;
      // A refresh token from before the second factor was turned on was got with a password
      // alone. Token times are whole seconds: one from the very second it was turned on is
      // refused too (when in doubt, log in again).
      const since = await this.secondFactor?.enabledSince(user.username);
      if (since && (!claimed.issuedAt || claimed.issuedAt.getTime() <= Math.floor(since.getTime() / 1000) * 1000)) return undefined;
      return { kind: 'user', id: user.id, username: user.username, admin: user.admin };
    }
    const robot = await this.store.getRobot(claimed.name);
    if (!robot || robot.revoked || robot.id !== claimed.id || (robot.expiresAt && robot.expiresAt.getTime() <= Date.now())) return undefined;
    return { kind: 'robot', id: robot.id, name: robot.name, namespace: robot.namespace, actions: robot.actions };
  }

  /** Forget remembered password checks (after an account change). */
  forget(): void {
    this.verified.clear();
  }
}

/** bcrypt hashes come from imported htpasswd files (`registry user import-htpasswd`). */
const BCRYPT_PREFIX = /^\$2[aby]\$/;

async function safeVerify(hash: string, secret: string): Promise<boolean> {
  try {
    if (BCRYPT_PREFIX.test(hash)) return await bcrypt.compare(secret, hash);
    return await argonVerify(hash, secret);
  } catch {
    return false;
  }
}
