// Web UI login sessions: a password login (throttled and audited like every other) yields an
// opaque random session id, sent to the browser in an HttpOnly, SameSite=Strict cookie, and a
// CSRF token the UI sends back in a header with every state-changing request. Only the id's
// SHA-256 is stored, in the metadata database, so every node knows every session.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { RegistryError } from '../registry/errors.js';
import type { AccessStore } from '../metadata/access-store.js';
import type { SessionRecord, SessionStore } from '../metadata/session-store.js';
import type { Auditor } from './audit.js';
import type { Authenticator } from './authenticate.js';
import type { Identity } from './model.js';
import type { SecondFactor } from './second-factor.js';

export const SESSION_COOKIE = 'registry_session';
export const CSRF_HEADER = 'x-csrf-token';

export type UserIdentity = Extract<Identity, { kind: 'user' }>;

export interface ActiveSession {
  record: SessionRecord;
  identity: UserIdentity;
  /** The account must have a second factor and has none: the session may only enrol one. */
  mustEnrol: boolean;
}

export interface SessionOptions {
  ttlSeconds: number;
}

function hashId(id: string): string {
  return createHash('sha256').update(id).digest('hex');
}

/** The value of one cookie in a Cookie header (the first, when it is given twice). */
export function cookieValue(header: string | undefined, name: string): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

/** Whether the CSRF token a request carries is the session's (compared in constant time). */
export function csrfMatches(session: SessionRecord, given: string | string[] | undefined): boolean {
  if (typeof given !== 'string') return false;
  const a = Buffer.from(given);
  const b = Buffer.from(session.csrfToken);
  return a.length === b.length && timingSafeEqual(a, b);
}

export class SessionService {
  constructor(
    private readonly store: SessionStore,
    private readonly access: AccessStore,
    private readonly authenticator: Authenticator,
    private readonly auditor: Auditor,
    private readonly options: SessionOptions,
    private readonly secondFactor?: SecondFactor,
  ) {}

  get ttlSeconds(): number {
    return this.options.ttlSeconds;
  }

  /**
   * Check the password (and `otp`, the second-factor code, for accounts that have one) and open
   * a session; the id is returned once and never stored. An account that must enrol a second
   * factor first gets a session that may only do that (`mustEnrol`).
   */
  async login(username: string, password: string, source: string, otp?: string): Promise<{ id: string; session: ActiveSession }> {
    const identity = await this.authenticator.password(username, password, source, { ...(otp !== undefined ? { otp } : {}), enrolling: true });
    if (identity.kind !== 'user') throw new RegistryError('DENIED', 'robot accounts cannot log in to the web UI');
    return this.open(identity, source, 'web UI');
  }

  /** Open a session for a person whose login was checked already (`via`: how, for the audit log). */
  async open(identity: UserIdentity, source: string, via: string): Promise<{ id: string; session: ActiveSession }> {
    const id = randomBytes(32).toString('base64url');
    const now = new Date();
    const record: SessionRecord = {
      idHash: hashId(id),
      userId: identity.id,
      username: identity.username,
      csrfToken: randomBytes(32).toString('base64url'),
      source,
      createdAt: now,
      expiresAt: new Date(now.getTime() + this.options.ttlSeconds * 1000),
    };
    await this.store.createSession(record);
    await this.auditor.record({ actor: identity.username, action: 'login', source, detail: { via } });
    return { id, session: { record, identity, mustEnrol: await this.mustEnrol(identity) } };
  }

  /** The session behind a cookie value, while it is unexpired and its user still enabled. */
  async resolve(id: string): Promise<ActiveSession | undefined> {
    if (!/^[A-Za-z0-9_-]{43}$/.test(id)) return undefined;
    const record = await this.store.getSession(hashId(id));
    if (!record) return undefined;
    const user = await this.access.getUser(record.username);
    if (!user || user.disabled || user.id !== record.userId) {
      await this.store.deleteSession(record.idHash);
      return undefined;
    }
    const identity: UserIdentity = { kind: 'user', id: user.id, username: user.username, admin: user.admin };
    // Checked on every request: the account may have become an owner, or its factor been reset.
    return { record, identity, mustEnrol: await this.mustEnrol(identity) };
  }

  private async mustEnrol(identity: UserIdentity): Promise<boolean> {
    return (await this.secondFactor?.mustEnrol(identity)) ?? false;
  }

  async logout(session: ActiveSession, source: string): Promise<void> {
    await this.store.deleteSession(session.record.idHash);
    await this.auditor.record({ actor: session.identity.username, action: 'logout', source, detail: { via: 'web UI' } });
  }

  async purgeExpired(): Promise<number> {
    return this.store.deleteExpiredSessions(new Date());
  }
}
