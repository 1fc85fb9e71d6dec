// IdentityStore on the SQL database of SqlMetadataStore (SQLite, PostgreSQL).
import { sql, type Kysely } from 'kysely';
import { toNumber, type Database } from './schema.js';
import type { ExternalAccount, IdentityStore, TotpRecord } from './identity-store.js';

export class SqlIdentityStore implements IdentityStore {
  constructor(private readonly db: Kysely<Database>) {}

  async getExternalAccount(username: string): Promise<ExternalAccount | undefined> {
    const row = await this.db.selectFrom('external_users').selectAll().where('username', '=', username).executeTakeFirst();
    return row ? { username: row.username, provider: row.provider, subject: row.subject, syncedAt: new Date(toNumber(row.synced_at)) } : undefined;
  }

  async linkExternalAccount(username: string, provider: string, subject: string): Promise<void> {
    const values = { provider, subject, synced_at: Date.now() };
    await this.db
      .insertInto('external_users')
      .values({ username, ...values })
      .onConflict((oc) => oc.column('username').doUpdateSet(values))
      .execute();
  }

  async getTotp(username: string): Promise<TotpRecord | undefined> {
    const row = await this.db.selectFrom('mfa_totp').selectAll().where('username', '=', username).executeTakeFirst();
    return row ? { username: row.username, secret: row.secret, confirmed: row.confirmed !== 0, lastStep: toNumber(row.last_step), since: new Date(toNumber(row.created_at)) } : undefined;
  }

  async setTotp(username: string, secret: string): Promise<void> {
    const values = { secret, confirmed: 0, last_step: 0, created_at: Date.now() };
    await this.db
      .insertInto('mfa_totp')
      .values({ username, ...values })
      .onConflict((oc) => oc.column('username').doUpdateSet(values).where('mfa_totp.confirmed', '=', 0))
      .execute();
  }

  async useTotpStep(username: string, step: number, confirm = false): Promise<boolean> {
    const result = await this.db
      .updateTable('mfa_totp')
      .set({ last_step: step, ...(confirm ? { confirmed: 1, created_at: Date.now() } : {}) })
      .where('username', '=', username)
      .where('last_step', '<', step)
      .where('confirmed', '=', confirm ? 0 : 1)
      .executeTakeFirst();
    return Number(result.numUpdatedRows) > 0;
  }

  async deleteTotp(username: string): Promise<boolean> {
    return this.db.transaction().execute(async (trx) => {
      await trx.deleteFrom('mfa_recovery_codes').where('username', '=', username).execute();
      const result = await trx.deleteFrom('mfa_totp').where('username', '=', username).executeTakeFirst();
      return Number(result.numDeletedRows) > 0;
    });
  }

  async setRecoveryCodes(username: string, hashes: string[]): Promise<void> {
    await this.db.transaction().execute(async (trx) => {
      await trx.deleteFrom('mfa_recovery_codes').where('username', '=', username).execute();
      if (hashes.length > 0) await trx.insertInto('mfa_recovery_codes').values(hashes.map((code_hash) => ({ username, code_hash, used_at: null }))).execute();
    });
  }

  async useRecoveryCode(username: string, hash: string): Promise<boolean> {
    const result = await this.db
      .updateTable('mfa_recovery_codes')
      .set({ used_at: Date.now() })
      .where('username', '=', username)
      .where('code_hash', '=', hash)
      .where('used_at', 'is', null)
      .executeTakeFirst();
    return Number(result.numUpdatedRows) > 0;
  }

  async recoveryCodesLeft(username: string): Promise<number> {
    const row = await this.db
      .selectFrom('mfa_recovery_codes')
      .select(sql<number | string>`count(*)`.as('n'))
      .where('username', '=', username)
      .where('used_at', 'is', null)
      .executeTakeFirstOrThrow();
    return toNumber(row.n);
  }
}
