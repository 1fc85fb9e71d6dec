// Accounts from a directory (LDAP): created on first login, and at every login their admin
// flag and the namespace roles the rules give are set again from the user's groups. Local
// accounts keep working beside them: a directory login never takes over a local account.
import type { AccessStore } from '../metadata/access-store.js';
import type { IdentityStore } from '../metadata/identity-store.js';
import type { Auditor } from './audit.js';
import { ROLES, type Role, type UserRecord } from './model.js';
import { normalizeDn, type DirectoryUser } from './ldap.js';
import { isValidUsername } from './names.js';

export interface RoleRule {
  /** Group DN. */
  group: string;
  namespace: string;
  role: Role;
}

export interface Directory {
  authenticate(username: string, password: string): Promise<DirectoryUser | undefined>;
}

export interface DirectoryAccountOptions {
  provider: string;
  /** Members of these groups are administrators. */
  adminGroups: string[];
  roleRules: RoleRule[];
}

/** Marks directory accounts: no password of ours can match it (it is not a hash). */
export const DIRECTORY_PASSWORD = '!directory';

/** The strongest role each namespace gets from the groups (namespaces the rules name, no role: undefined). */
export function rolesFromGroups(groups: string[], rules: RoleRule[]): Map<string, Role | undefined> {
  const member = new Set(groups.map(normalizeDn));
  const roles = new Map<string, Role | undefined>();
  for (const rule of rules) {
    const current = roles.get(rule.namespace);
    if (!member.has(normalizeDn(rule.group))) {
      if (!roles.has(rule.namespace)) roles.set(rule.namespace, undefined);
      continue;
    }
    if (current === undefined || ROLES.indexOf(rule.role) < ROLES.indexOf(current)) roles.set(rule.namespace, rule.role);
  }
  return roles;
}

export class DirectoryAccounts {
  private readonly adminGroups: Set<string>;

  constructor(
    private readonly directory: Directory,
    private readonly access: AccessStore,
    private readonly identity: IdentityStore,
    private readonly auditor: Auditor,
    private readonly options: DirectoryAccountOptions,
  ) {
    this.adminGroups = new Set(options.adminGroups.map(normalizeDn));
  }

  /** Whether a login under this name goes to the directory: no account yet, or one the directory made. */
  async handles(user: UserRecord | undefined): Promise<boolean> {
    if (!user) return true;
    const external = await this.identity.getExternalAccount(user.username);
    return external?.provider === this.options.provider;
  }

  /** Check the password with the directory; on success the account as synchronised now. */
  async login(username: string, password: string, source: string): Promise<UserRecord | undefined> {
    // Directories match names case-insensitively: only our (lower-case) account names are
    // looked up, so "Alice" and "alice" can never become two accounts of one person.
    if (!isValidUsername(username)) return undefined;
    const found = await this.directory.authenticate(username, password);
    if (!found) return undefined;
    const admin = found.groups.some((g) => this.adminGroups.has(g));
    let user = await this.access.getUser(username);
    if (!user) {
      try {
        user = await this.access.createUser({ username, passwordHash: DIRECTORY_PASSWORD, admin });
      } catch {
        // Created at the same moment by another request; used below if it is ours.
        user = await this.access.getUser(username);
      }
      if (!user) return undefined;
      if (user.passwordHash !== DIRECTORY_PASSWORD) return undefined;
      await this.identity.linkExternalAccount(username, this.options.provider, found.dn);
      await this.auditor.record({ actor: 'system', action: 'user.create', source, detail: { username, admin, from: this.options.provider } });
    } else {
      await this.identity.linkExternalAccount(username, this.options.provider, found.dn);
      if (user.admin !== admin) {
        await this.access.updateUser(username, { admin });
        await this.auditor.record({ actor: 'system', action: 'user.update', source, detail: { username, admin, from: this.options.provider } });
        user = { ...user, admin };
      }
    }
    await this.syncRoles(username, found.groups, source);
    return user;
  }

  /** Set the roles the rules give; remove the ones they no longer give (in namespaces the rules name only). */
  private async syncRoles(username: string, groups: string[], source: string): Promise<void> {
    const wanted = rolesFromGroups(groups, this.options.roleRules);
    const current = new Map((await this.access.rolesOf(username)).map((m) => [m.namespace, m.role]));
    for (const [namespace, role] of wanted) {
      const had = current.get(namespace);
      if (role === had) continue;
      if (role === undefined) {
        await this.access.removeMember(namespace, username);
        await this.auditor.record({ actor: 'system', action: 'member.remove', source, detail: { namespace, username, from: this.options.provider } });
        continue;
      }
      await this.access.ensureNamespace(namespace, 'private');
      await this.access.setMember(namespace, username, role);
      await this.auditor.record({ actor: 'system', action: 'member.set', source, detail: { namespace, username, role, from: this.options.provider } });
    }
  }
}
