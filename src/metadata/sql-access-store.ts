// AccessStore on the same SQL database (and Kysely instance) as SqlMetadataStore: queries are
// written once for SQLite and PostgreSQL. Booleans are integer 0/1; timestamps are epoch ms
// and bigint columns come back from pg as strings, hence toNumber().
import { randomUUID } from 'node:crypto';
import type { Insertable, Kysely, Selectable } from 'kysely';
import type {
  AuditEvent,
  AuditQuery,
  MemberRecord,
  NamespaceRecord,
  NewAuditEvent,
  RobotRecord,
  Role,
  UserRecord,
  Visibility,
} from '../auth/model.js';
import type { AccessStore, NewRobot, NewUser } from './access-store.js';
import type { SqlDialect } from './migrations/index.js';
import { relaxedTransaction } from './relaxed-commit.js';
import { dateOrNull, toNumber, type AuditTable, type Database, type NamespacesTable, type RobotsTable, type UsersTable } from './schema.js';

const flag = (value: boolean): number => (value ? 1 : 0);

function toUser(row: Selectable<UsersTable>): UserRecord {
  return {
    id: row.id,
    username: row.username,
    passwordHash: row.password_hash,
    admin: row.admin !== 0,
    disabled: row.disabled !== 0,
    createdAt: new Date(toNumber(row.created_at)),
  };
}

function toNamespace(row: Selectable<NamespacesTable>): NamespaceRecord {
  return { name: row.name, visibility: row.visibility as Visibility, createdAt: new Date(toNumber(row.created_at)) };
}

function toRobot(row: Selectable<RobotsTable>): RobotRecord {
  return {
    id: row.id,
    name: row.name,
    namespace: row.namespace,
    secretHash: row.secret_hash,
    actions: JSON.parse(row.actions) as RobotRecord['actions'],
    expiresAt: dateOrNull(row.expires_at),
    revoked: row.revoked !== 0,
    lastUsedAt: dateOrNull(row.last_used_at),
    createdBy: row.created_by,
    createdAt: new Date(toNumber(row.created_at)),
  };
}

export function toAuditEvent(row: Selectable<AuditTable>): AuditEvent {
  return {
    id: toNumber(row.id),
    at: new Date(toNumber(row.at)),
    actor: row.actor,
    action: row.action,
    source: row.source,
    repository: row.repository,
    reference: row.reference,
    digest: row.digest,
    detail: row.detail === null ? null : (JSON.parse(row.detail) as Record<string, unknown>),
  };
}

/**
 * Cut to at most `max` characters (code points, as varchar(n) counts them). Audit fields can
 * carry what a client sent (a failed login's username); PostgreSQL would refuse an over-long
 * value where SQLite keeps it, so both keep the same prefix instead.
 */
function clip(value: string, max: number): string {
  if (value.length <= max) return value;
  return Array.from(value).slice(0, max).join('');
}
const clipOrNull = (value: string | null, max: number): string | null => (value === null ? null : clip(value, max));

/** 8 bound parameters a row: well below every dialect's limit per statement. */
const AUDIT_ROWS_PER_INSERT = 100;

function auditRow(event: NewAuditEvent, now: number): Insertable<AuditTable> {
  return {
    at: event.at?.getTime() ?? now,
    actor: clip(event.actor, 255),
    action: clip(event.action, 64),
    source: clipOrNull(event.source ?? null, 255),
    repository: clipOrNull(event.repository ?? null, 255),
    reference: clipOrNull(event.reference ?? null, 255),
    digest: clipOrNull(event.digest ?? null, 200),
    detail: event.detail === null || event.detail === undefined ? null : JSON.stringify(event.detail),
  };
}

export class SqlAccessStore implements AccessStore {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly dialect: SqlDialect,
  ) {}

  // --- users

  async createUser(user: NewUser): Promise<UserRecord> {
    const record: UserRecord = {
      id: randomUUID(),
      username: user.username,
      passwordHash: user.passwordHash,
      admin: user.admin,
      disabled: false,
      createdAt: new Date(),
    };
    // ON CONFLICT DO NOTHING rather than check-then-insert: two nodes racing for one name
    // cannot both succeed, and neither sees a driver-specific unique-violation error.
    const result = await this.db
      .insertInto('users')
      .values({
        id: record.id,
        username: record.username,
        password_hash: record.passwordHash,
        admin: flag(record.admin),
        disabled: flag(record.disabled),
        created_at: record.createdAt.getTime(),
      })
      .onConflict((oc) => oc.column('username').doNothing())
      .executeTakeFirst();
    if (Number(result.numInsertedOrUpdatedRows ?? 0n) !== 1) throw new Error(`user ${user.username} exists`);
    return record;
  }

  async getUser(username: string): Promise<UserRecord | undefined> {
    const row = await this.db.selectFrom('users').selectAll().where('username', '=', username).executeTakeFirst();
    return row ? toUser(row) : undefined;
  }

  async listUsers(): Promise<UserRecord[]> {
    return (await this.db.selectFrom('users').selectAll().orderBy('username').execute()).map(toUser);
  }

  async updateUser(username: string, change: Partial<Pick<UserRecord, 'passwordHash' | 'admin' | 'disabled'>>): Promise<boolean> {
    const set: { password_hash?: string; admin?: number; disabled?: number } = {};
    if (change.passwordHash !== undefined) set.password_hash = change.passwordHash;
    if (change.admin !== undefined) set.admin = flag(change.admin);
    if (change.disabled !== undefined) set.disabled = flag(change.disabled);
    if (Object.keys(set).length === 0) return (await this.getUser(username)) !== undefined;
    const result = await this.db.updateTable('users').set(set).where('username', '=', username).executeTakeFirst();
    return Number(result.numUpdatedRows) > 0;
  }

  async deleteUser(username: string): Promise<boolean> {
    // members.user_id cascades: the user's memberships go with it.
    const result = await this.db.deleteFrom('users').where('username', '=', username).executeTakeFirst();
    return Number(result.numDeletedRows) > 0;
  }

  /** Admins able to log in: disabled admins are not counted, so the last usable one is kept. */
  async countAdmins(): Promise<number> {
    const row = await this.db
      .selectFrom('users')
      .select((eb) => eb.fn.countAll<number | string>().as('n'))
      .where('admin', '=', 1)
      .where('disabled', '=', 0)
      .executeTakeFirstOrThrow();
    return toNumber(row.n);
  }

  // --- namespaces

  async ensureNamespace(name: string, visibility: Visibility): Promise<NamespaceRecord> {
    await this.db
      .insertInto('namespaces')
      .values({ name, visibility, created_at: Date.now() })
      .onConflict((oc) => oc.column('name').doNothing())
      .execute();
    const found = await this.getNamespace(name);
    // Only if it was deleted again in between.
    if (!found) throw new Error(`namespace ${name} vanished while being created`);
    return found;
  }

  async getNamespace(name: string): Promise<NamespaceRecord | undefined> {
    const row = await this.db.selectFrom('namespaces').selectAll().where('name', '=', name).executeTakeFirst();
    return row ? toNamespace(row) : undefined;
  }

  async listNamespaces(): Promise<NamespaceRecord[]> {
    return (await this.db.selectFrom('namespaces').selectAll().orderBy('name').execute()).map(toNamespace);
  }

  async setNamespaceVisibility(name: string, visibility: Visibility): Promise<boolean> {
    const result = await this.db.updateTable('namespaces').set({ visibility }).where('name', '=', name).executeTakeFirst();
    return Number(result.numUpdatedRows) > 0;
  }

  /** Removes its memberships (cascade) and its robots, so a namespace made again later under the same name inherits neither. */
  async deleteNamespace(name: string): Promise<boolean> {
    return this.db.transaction().execute(async (trx) => {
      const result = await trx.deleteFrom('namespaces').where('name', '=', name).executeTakeFirst();
      await trx.deleteFrom('robots').where('namespace', '=', name).execute();
      return Number(result.numDeletedRows) > 0;
    });
  }

  // --- members

  /** Adds the user to the namespace or changes their role. Both must exist (else throws). */
  async setMember(namespace: string, username: string, role: Role): Promise<void> {
    const user = await this.db.selectFrom('users').select('id').where('username', '=', username).executeTakeFirst();
    if (!user) throw new Error(`user ${username} not found`);
    if (!(await this.getNamespace(namespace))) throw new Error(`namespace ${namespace} not found`);
    // Should either vanish in between, the foreign keys refuse the row.
    await this.db
      .insertInto('members')
      .values({ namespace, user_id: user.id, role })
      .onConflict((oc) => oc.columns(['namespace', 'user_id']).doUpdateSet({ role }))
      .execute();
  }

  async removeMember(namespace: string, username: string): Promise<boolean> {
    const result = await this.db
      .deleteFrom('members')
      .where('namespace', '=', namespace)
      .where('user_id', 'in', (eb) => eb.selectFrom('users').select('id').where('username', '=', username))
      .executeTakeFirst();
    return Number(result.numDeletedRows) > 0;
  }

  async listMembers(namespace: string): Promise<MemberRecord[]> {
    const rows = await this.db
      .selectFrom('members')
      .innerJoin('users', 'users.id', 'members.user_id')
      .select(['members.namespace', 'users.username', 'members.role'])
      .where('members.namespace', '=', namespace)
      .orderBy('users.username')
      .execute();
    return rows.map((r) => ({ namespace: r.namespace, username: r.username, role: r.role as Role }));
  }

  async rolesOf(username: string): Promise<MemberRecord[]> {
    const rows = await this.db
      .selectFrom('members')
      .innerJoin('users', 'users.id', 'members.user_id')
      .select(['members.namespace', 'users.username', 'members.role'])
      .where('users.username', '=', username)
      .orderBy('members.namespace')
      .execute();
    return rows.map((r) => ({ namespace: r.namespace, username: r.username, role: r.role as Role }));
  }

  // --- robots

  async createRobot(robot: NewRobot): Promise<RobotRecord> {
    const record: RobotRecord = {
      id: randomUUID(),
      name: robot.name,
      namespace: robot.namespace,
      secretHash: robot.secretHash,
      actions: [...robot.actions],
      expiresAt: robot.expiresAt,
      revoked: false,
      lastUsedAt: null,
      createdBy: robot.createdBy,
      createdAt: new Date(),
    };
    const result = await this.db
      .insertInto('robots')
      .values({
        id: record.id,
        name: record.name,
        namespace: record.namespace,
        secret_hash: record.secretHash,
        actions: JSON.stringify(record.actions),
        expires_at: record.expiresAt === null ? null : record.expiresAt.getTime(),
        revoked: 0,
        last_used_at: null,
        created_by: record.createdBy,
        created_at: record.createdAt.getTime(),
      })
      .onConflict((oc) => oc.column('name').doNothing())
      .executeTakeFirst();
    if (Number(result.numInsertedOrUpdatedRows ?? 0n) !== 1) throw new Error(`robot ${robot.name} exists`);
    return record;
  }

  async getRobot(name: string): Promise<RobotRecord | undefined> {
    const row = await this.db.selectFrom('robots').selectAll().where('name', '=', name).executeTakeFirst();
    return row ? toRobot(row) : undefined;
  }

  /** The namespace's robots, or with null the system-wide ones (those without a namespace). */
  async listRobots(namespace: string | null): Promise<RobotRecord[]> {
    let q = this.db.selectFrom('robots').selectAll().orderBy('name');
    q = namespace === null ? q.where('namespace', 'is', null) : q.where('namespace', '=', namespace);
    return (await q.execute()).map(toRobot);
  }

  /** True when the robot exists (revoked now, or already). */
  async revokeRobot(name: string): Promise<boolean> {
    const result = await this.db.updateTable('robots').set({ revoked: 1 }).where('name', '=', name).executeTakeFirst();
    return Number(result.numUpdatedRows) > 0;
  }

  /** Records a use; never moves last_used_at backwards (nodes may report out of order). */
  async touchRobot(name: string, at: Date): Promise<void> {
    const ms = at.getTime();
    await this.db
      .updateTable('robots')
      .set({ last_used_at: ms })
      .where('name', '=', name)
      .where((eb) => eb.or([eb('last_used_at', 'is', null), eb('last_used_at', '<', ms)]))
      .execute();
  }

  // --- audit

  /** Sinks every new audit event is queued for (audit forwarding); none by default. */
  private auditSinks: readonly string[] = [];

  forwardAuditTo(sinks: readonly string[]): void {
    this.auditSinks = sinks;
  }

  async appendAudit(event: NewAuditEvent): Promise<void> {
    await this.insertAudit([event], true);
  }

  /**
   * All or none, in one transaction; rows keep the order given (ascending ids). Batches hold
   * pulls (Auditor.later): their commit need not wait for the disk (relaxed-commit.ts).
   */
  async appendAuditBatch(events: NewAuditEvent[]): Promise<void> {
    await this.insertAudit(events, false);
  }

  /** `durable`: the commit waits for the disk (every event but batched pulls). */
  private async insertAudit(events: NewAuditEvent[], durable: boolean): Promise<void> {
    if (events.length === 0) return;
    const now = Date.now();
    const rows = events.map((e) => auditRow(e, now));
    const sinks = this.auditSinks;
    const write = async (db: Kysely<Database>) => {
      for (let i = 0; i < rows.length; i += AUDIT_ROWS_PER_INSERT) {
        const insert = db.insertInto('audit').values(rows.slice(i, i + AUDIT_ROWS_PER_INSERT));
        if (sinks.length === 0) {
          await insert.execute();
          continue;
        }
        const ids = (await insert.returning('id').execute()).map((r) => toNumber(r.id));
        const queued = ids.flatMap((id) => sinks.map((sink) => ({ sink, event_id: id })));
        for (let j = 0; j < queued.length; j += AUDIT_ROWS_PER_INSERT) await db.insertInto('audit_outbox').values(queued.slice(j, j + AUDIT_ROWS_PER_INSERT)).execute();
      }
    };
    if (!durable) await relaxedTransaction(this.db, this.dialect, write);
    else if (rows.length === 1 && sinks.length === 0) await write(this.db);
    else await this.db.transaction().execute(write);
  }

  /** Newest first (id descending). `since` is inclusive, `until` exclusive. */
  async queryAudit(query: AuditQuery): Promise<AuditEvent[]> {
    const limit = Math.floor(query.limit);
    if (!(limit > 0)) return [];
    let q = this.db.selectFrom('audit').selectAll().orderBy('id', 'desc').limit(limit);
    if (query.actor !== undefined) q = q.where('actor', '=', query.actor);
    if (query.action !== undefined) q = q.where('action', '=', query.action);
    if (query.repository !== undefined) q = q.where('repository', '=', query.repository);
    if (query.since !== undefined) q = q.where('at', '>=', query.since.getTime());
    if (query.until !== undefined) q = q.where('at', '<', query.until.getTime());
    if (query.before !== undefined) q = q.where('id', '<', query.before);
    return (await q.execute()).map(toAuditEvent);
  }

  // --- settings

  async getOrSetSetting(key: string, make: () => string): Promise<string> {
    const existing = await this.getSetting(key);
    if (existing !== undefined) return existing;
    // Whoever inserts first wins; everyone else reads that value back.
    await this.db.insertInto('settings').values({ key, value: make() }).onConflict((oc) => oc.column('key').doNothing()).execute();
    const value = await this.getSetting(key);
    if (value === undefined) throw new Error(`setting ${key} could not be stored`);
    return value;
  }

  async getSetting(key: string): Promise<string | undefined> {
    const row = await this.db.selectFrom('settings').select('value').where('key', '=', key).executeTakeFirst();
    return row?.value;
  }
}
