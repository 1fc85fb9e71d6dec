// Accounts, namespaces, memberships, robots and the audit log: the access-control half of the
// metadata, beside MetadataStore and on the same database.
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

export interface NewUser {
  username: string;
  passwordHash: string;
  admin: boolean;
}

export interface NewRobot {
  name: string;
  namespace: string | null;
  secretHash: string;
  actions: RobotRecord['actions'];
  expiresAt: Date | null;
  createdBy: string;
}

export interface AccessStore {
  /** Throws when the username is taken. */
  createUser(user: NewUser): Promise<UserRecord>;
  getUser(username: string): Promise<UserRecord | undefined>;
  listUsers(): Promise<UserRecord[]>;
  updateUser(username: string, change: Partial<Pick<UserRecord, 'passwordHash' | 'admin' | 'disabled'>>): Promise<boolean>;
  deleteUser(username: string): Promise<boolean>;
  countAdmins(): Promise<number>;

  /** Creates the namespace unless it exists; returns it either way. */
  ensureNamespace(name: string, visibility: Visibility): Promise<NamespaceRecord>;
  getNamespace(name: string): Promise<NamespaceRecord | undefined>;
  listNamespaces(): Promise<NamespaceRecord[]>;
  setNamespaceVisibility(name: string, visibility: Visibility): Promise<boolean>;
  deleteNamespace(name: string): Promise<boolean>;

  setMember(namespace: string, username: string, role: Role): Promise<void>;
  removeMember(namespace: string, username: string): Promise<boolean>;
  listMembers(namespace: string): Promise<MemberRecord[]>;
  /** The user's role in each namespace they belong to. */
  rolesOf(username: string): Promise<MemberRecord[]>;

  /** Throws when the name is taken. */
  createRobot(robot: NewRobot): Promise<RobotRecord>;
  getRobot(name: string): Promise<RobotRecord | undefined>;
  listRobots(namespace: string | null): Promise<RobotRecord[]>;
  revokeRobot(name: string): Promise<boolean>;
  touchRobot(name: string, at: Date): Promise<void>;

  appendAudit(event: NewAuditEvent): Promise<void>;
  /** Several events in one transaction (pull records are batched this way). */
  appendAuditBatch(events: NewAuditEvent[]): Promise<void>;
  queryAudit(query: AuditQuery): Promise<AuditEvent[]>;

  /** A value shared by every node (e.g. the token signing key), set once by whoever comes first. */
  getOrSetSetting(key: string, make: () => string): Promise<string>;
  /** The setting's value, or undefined when it was never set. */
  getSetting(key: string): Promise<string | undefined>;
}
