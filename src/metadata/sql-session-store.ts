// SessionStore on the SQL database of SqlMetadataStore (SQLite, PostgreSQL).
import type { Kysely } from 'kysely';
import { toNumber, type Database } from './schema.js';
import type { SessionRecord, SessionStore } from './session-store.js';

export class SqlSessionStore implements SessionStore {
  constructor(private readonly db: Kysely<Database>) {}

  async createSession(s: SessionRecord): Promise<void> {
    await this.db
      .insertInto('sessions')
      .values({
        id_hash: s.idHash,
        user_id: s.userId,
        username: s.username,
        csrf_token: s.csrfToken,
        source: s.source.slice(0, 64),
        created_at: s.createdAt.getTime(),
        expires_at: s.expiresAt.getTime(),
      })
      .execute();
  }

  async getSession(idHash: string): Promise<SessionRecord | undefined> {
    const row = await this.db.selectFrom('sessions').selectAll().where('id_hash', '=', idHash).where('expires_at', '>', Date.now()).executeTakeFirst();
    if (!row) return undefined;
    return {
      idHash: row.id_hash,
      userId: row.user_id,
      username: row.username,
      csrfToken: row.csrf_token,
      source: row.source,
      createdAt: new Date(toNumber(row.created_at)),
      expiresAt: new Date(toNumber(row.expires_at)),
    };
  }

  async deleteSession(idHash: string): Promise<boolean> {
    const result = await this.db.deleteFrom('sessions').where('id_hash', '=', idHash).executeTakeFirst();
    return Number(result.numDeletedRows) > 0;
  }

  async deleteExpiredSessions(now: Date): Promise<number> {
    const result = await this.db.deleteFrom('sessions').where('expires_at', '<=', now.getTime()).executeTakeFirst();
    return Number(result.numDeletedRows);
  }
}
