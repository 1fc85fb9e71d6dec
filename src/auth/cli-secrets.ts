// Personal CLI secrets: Docker clients cannot do OpenID Connect, so a person who signed in
// through the provider gets a long random secret (prefix `rcs_`) to use as the password of
// `docker login`, skopeo or Basic auth. Only its SHA-256 is stored; each use is checked
// against the store (never remembered), so a revoked or expired secret, or one of a disabled
// account, stops working at once on every node.
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import type { AccessStore } from '../metadata/access-store.js';
import type { CliSecretRecord, OidcStore } from '../metadata/oidc-store.js';
import type { Auditor } from './audit.js';
import type { UserRecord } from './model.js';

export const CLI_SECRET_PREFIX = 'rcs_';

const DAY_MS = 24 * 3600_000;

export function hashCliSecret(secret: string): string {
  return createHash('sha256').update(secret).digest('hex');
}

export interface CliSecretOptions {
  ttlDays: number;
}

export class CliSecrets {
  constructor(
    private readonly store: OidcStore,
    private readonly access: AccessStore,
    private readonly auditor: Auditor,
    private readonly options: CliSecretOptions,
  ) {}

  /** A new secret for the user; the secret itself is returned this once. */
  async issue(username: string, label: string, source: string): Promise<{ secret: string; record: CliSecretRecord }> {
    const secret = `${CLI_SECRET_PREFIX}${randomBytes(32).toString('base64url')}`;
    const now = new Date();
    const record: CliSecretRecord = {
      id: randomUUID(),
      username,
      secretHash: hashCliSecret(secret),
      label: label.slice(0, 255),
      createdAt: now,
      expiresAt: new Date(now.getTime() + this.options.ttlDays * DAY_MS),
      lastUsedAt: null,
      revokedAt: null,
    };
    await this.store.createCliSecret(record);
    await this.auditor.record({ actor: username, action: 'cli-secret.create', source, detail: { username, id: record.id, label: record.label, expiresAt: record.expiresAt.toISOString() } });
    return { secret, record };
  }

  /** The account a secret belongs to, when it is the user's, unrevoked, unexpired, and the account enabled. */
  async verify(username: string, secret: string): Promise<UserRecord | undefined> {
    if (!secret.startsWith(CLI_SECRET_PREFIX)) return undefined;
    const record = await this.store.findCliSecret(hashCliSecret(secret));
    const now = new Date();
    if (!record || record.username !== username || record.revokedAt !== null || record.expiresAt <= now) return undefined;
    const user = await this.access.getUser(username);
    if (!user || user.disabled) return undefined;
    await this.store.touchCliSecret(record.id, now);
    return user;
  }

  async list(username: string): Promise<CliSecretRecord[]> {
    return this.store.listCliSecrets(username);
  }

  /** Revoke one of the user's secrets; false when there is no such live secret. */
  async revoke(username: string, id: string, actor: string, source: string): Promise<boolean> {
    const revoked = await this.store.revokeCliSecret(username, id, new Date());
    if (revoked) await this.auditor.record({ actor, action: 'cli-secret.revoke', source, detail: { username, id } });
    return revoked;
  }
}

/** What leaves the server: never the hash. */
export function cliSecretView(record: CliSecretRecord) {
  const now = Date.now();
  return {
    id: record.id,
    label: record.label,
    createdAt: record.createdAt.toISOString(),
    expiresAt: record.expiresAt.toISOString(),
    expired: record.expiresAt.getTime() <= now,
    revoked: record.revokedAt !== null,
    revokedAt: record.revokedAt?.toISOString() ?? null,
    lastUsedAt: record.lastUsedAt?.toISOString() ?? null,
  };
}
