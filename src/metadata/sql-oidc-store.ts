// OidcStore on the SQL database of SqlMetadataStore (SQLite, PostgreSQL).
import type { Kysely, Selectable } from 'kysely';
import { dateOrNull, toNumber, type CliSecretsTable, type Database, type OidcCliLoginsTable } from './schema.js';
import type { CliLoginRecord, CliSecretRecord, OidcFlowRecord, OidcStore } from './oidc-store.js';


function cliLoginOf(row: Selectable<OidcCliLoginsTable>): CliLoginRecord {
  return { id: row.id, pollHash: row.poll_hash, userCode: row.user_code, label: row.label, username: row.username, expiresAt: new Date(toNumber(row.expires_at)) };
}

function cliSecretOf(row: Selectable<CliSecretsTable>): CliSecretRecord {
  return {
    id: row.id,
    username: row.username,
    secretHash: row.secret_hash,
    label: row.label,
    createdAt: new Date(toNumber(row.created_at)),
    expiresAt: new Date(toNumber(row.expires_at)),
    lastUsedAt: dateOrNull(row.last_used_at),
    revokedAt: dateOrNull(row.revoked_at),
  };
}

export class SqlOidcStore implements OidcStore {
  constructor(private readonly db: Kysely<Database>) {}

  async createFlow(f: OidcFlowRecord): Promise<void> {
    await this.db
      .insertInto('oidc_flows')
      .values({ state: f.state, binding_hash: f.bindingHash, nonce: f.nonce, code_verifier: f.codeVerifier, cli_login: f.cliLogin, expires_at: f.expiresAt.getTime() })
      .execute();
  }

  async takeFlow(state: string): Promise<OidcFlowRecord | undefined> {
    // Deleted and read in one statement: of two uses of one callback, only one gets the flow.
    const row = await this.db.deleteFrom('oidc_flows').where('state', '=', state).returningAll().executeTakeFirst();
    if (!row || toNumber(row.expires_at) <= Date.now()) return undefined;
    return { state: row.state, bindingHash: row.binding_hash, nonce: row.nonce, codeVerifier: row.code_verifier, cliLogin: row.cli_login, expiresAt: new Date(toNumber(row.expires_at)) };
  }

  async createCliLogin(l: CliLoginRecord): Promise<void> {
    await this.db
      .insertInto('oidc_cli_logins')
      .values({ id: l.id, poll_hash: l.pollHash, user_code: l.userCode, label: l.label, username: l.username, expires_at: l.expiresAt.getTime() })
      .execute();
  }

  async getCliLogin(id: string): Promise<CliLoginRecord | undefined> {
    const row = await this.db.selectFrom('oidc_cli_logins').selectAll().where('id', '=', id).where('expires_at', '>', Date.now()).executeTakeFirst();
    return row ? cliLoginOf(row) : undefined;
  }

  async completeCliLogin(id: string, username: string): Promise<boolean> {
    const result = await this.db
      .updateTable('oidc_cli_logins')
      .set({ username })
      .where('id', '=', id)
      .where('username', 'is', null)
      .where('expires_at', '>', Date.now())
      .executeTakeFirst();
    return Number(result.numUpdatedRows) > 0;
  }

  async takeCompletedCliLogin(id: string): Promise<CliLoginRecord | undefined> {
    const row = await this.db
      .deleteFrom('oidc_cli_logins')
      .where('id', '=', id)
      .where('username', 'is not', null)
      .where('expires_at', '>', Date.now())
      .returningAll()
      .executeTakeFirst();
    return row ? cliLoginOf(row) : undefined;
  }

  async createCliSecret(s: CliSecretRecord): Promise<void> {
    await this.db
      .insertInto('cli_secrets')
      .values({
        id: s.id,
        username: s.username,
        secret_hash: s.secretHash,
        label: s.label,
        created_at: s.createdAt.getTime(),
        expires_at: s.expiresAt.getTime(),
        last_used_at: s.lastUsedAt?.getTime() ?? null,
        revoked_at: s.revokedAt?.getTime() ?? null,
      })
      .execute();
  }

  async findCliSecret(secretHash: string): Promise<CliSecretRecord | undefined> {
    const row = await this.db.selectFrom('cli_secrets').selectAll().where('secret_hash', '=', secretHash).executeTakeFirst();
    return row ? cliSecretOf(row) : undefined;
  }

  async listCliSecrets(username: string): Promise<CliSecretRecord[]> {
    const rows = await this.db.selectFrom('cli_secrets').selectAll().where('username', '=', username).orderBy('created_at', 'desc').orderBy('id').execute();
    return rows.map(cliSecretOf);
  }

  async revokeCliSecret(username: string, id: string, at: Date): Promise<boolean> {
    const result = await this.db
      .updateTable('cli_secrets')
      .set({ revoked_at: at.getTime() })
      .where('id', '=', id)
      .where('username', '=', username)
      .where('revoked_at', 'is', null)
      .executeTakeFirst();
    return Number(result.numUpdatedRows) > 0;
  }

  async touchCliSecret(id: string, at: Date): Promise<void> {
    await this.db.updateTable('cli_secrets').set({ last_used_at: at.getTime() }).where('id', '=', id).execute();
  }

  async deleteExpired(now: Date): Promise<number> {
    const flows = await this.db.deleteFrom('oidc_flows').where('expires_at', '<=', now.getTime()).executeTakeFirst();
    const logins = await this.db.deleteFrom('oidc_cli_logins').where('expires_at', '<=', now.getTime()).executeTakeFirst();
    return Number(flows.numDeletedRows) + Number(logins.numDeletedRows);
  }
}
