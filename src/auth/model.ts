// Who may do what: identities, namespace roles and the actions of the Docker token spec.

/** Actions on a repository, as scopes name them (`repository:<name>:pull,push,delete`). */
export type RepositoryAction = 'pull' | 'push' | 'delete';
export const REPOSITORY_ACTIONS: readonly RepositoryAction[] = ['pull', 'push', 'delete'];

/**
 * What a robot account may be given: the repository actions, and `scan`, the scanner's role
 * (it may pull images a namespace's pull policy would refuse, given pull access too).
 */
export type RobotAction = RepositoryAction | 'scan';
export const ROBOT_ACTIONS: readonly RobotAction[] = [...REPOSITORY_ACTIONS, 'scan'];

export function isRepositoryAction(action: string): action is RepositoryAction {
  return (REPOSITORY_ACTIONS as readonly string[]).includes(action);
}

/** Roles in a namespace, from most to least powerful. */
export type Role = 'owner' | 'maintainer' | 'developer' | 'reader';
export const ROLES: readonly Role[] = ['owner', 'maintainer', 'developer', 'reader'];

export const ROLE_ACTIONS: Record<Role, readonly RepositoryAction[]> = {
  owner: ['pull', 'push', 'delete'],
  maintainer: ['pull', 'push', 'delete'],
  developer: ['pull', 'push'],
  reader: ['pull'],
};

export type Visibility = 'public' | 'private';

export interface UserRecord {
  id: string;
  username: string;
  /** argon2id hash; never leaves the server. */
  passwordHash: string;
  admin: boolean;
  disabled: boolean;
  createdAt: Date;
}

export interface NamespaceRecord {
  name: string;
  visibility: Visibility;
  createdAt: Date;
}

export interface MemberRecord {
  namespace: string;
  username: string;
  role: Role;
}

/** A robot account / access token: a secret with chosen actions, for CI. */
export interface RobotRecord {
  id: string;
  /** Login name, e.g. `robot$ci` (namespace robots: `robot$<namespace>+<name>`). */
  name: string;
  /** The namespace it acts in, or null for a system-wide robot (created by an admin). */
  namespace: string | null;
  secretHash: string;
  actions: RobotAction[];
  expiresAt: Date | null;
  revoked: boolean;
  lastUsedAt: Date | null;
  createdBy: string;
  createdAt: Date;
}

/** Someone making a request. */
export type Identity =
  | { kind: 'anonymous' }
  | { kind: 'user'; id: string; username: string; admin: boolean }
  | { kind: 'robot'; id: string; name: string; namespace: string | null; actions: RobotAction[] };

export function actorName(identity: Identity): string {
  switch (identity.kind) {
    case 'anonymous':
      return 'anonymous';
    case 'user':
      return identity.username;
    case 'robot':
      return identity.name;
  }
}

export interface AuditEvent {
  id: number;
  at: Date;
  /** Username, robot name or `anonymous`. */
  actor: string;
  /** e.g. login, login.failed, push, pull, delete, user.create, member.set, robot.create. */
  action: string;
  /** Client address. */
  source: string | null;
  repository: string | null;
  reference: string | null;
  digest: string | null;
  /** Anything else worth keeping (never secrets). */
  detail: Record<string, unknown> | null;
}

export type NewAuditEvent = Omit<AuditEvent, 'id' | 'at'> & { at?: Date };

export interface AuditQuery {
  actor?: string;
  action?: string;
  repository?: string;
  since?: Date;
  until?: Date;
  /** Return events with an id below this one (newest first paging). */
  before?: number;
  limit: number;
}
