// Accounts from an identity provider (an LDAP directory, an OpenID provider): created on first
// login, and at every login their admin flag and the namespace roles the rules give are set
// again from the user's groups. Local accounts keep working beside them: a provider's login
// never takes over a local account, nor one of another provider.
import type { AccessStore } from '../metadata/access-store.js';
import type { IdentityStore } from '../metadata/identity-store.js';
import type { Auditor } from './audit.js';
import { ROLES, type Role, type UserRecord } from './model.js';
import { normalizeDn } from './ldap.js';

export interface RoleRule {
  /** Group name (a DN for LDAP, a claim value for OIDC). */
  group: string;
  namespace: string;
  role: Role;
}

export interface ExternalAccountOptions {
  /** `ldap` or `oidc`. */
  provider: string;
  /** Members of these groups are administrators. */
  adminGroups: string[];
  roleRules: RoleRule[];
  /**
   * The provider's subject never changes for a person (OIDC `sub`): an account is only ever
   * given to the subject that made it. Directory DNs may be renamed, so LDAP relinks.
   */
  stableSubject?: boolean;
}

/** Marks external accounts: no password of ours can match it (it is not a hash). */
export const EXTERNAL_PASSWORD = '!directory';

/** Groups compared case-insensitively (and, for DNs, without the spaces after separators). */
const normalizeGroup = normalizeDn;

/** The strongest role each namespace gets from the groups (namespaces the rules name, no role: undefined). */
export function rolesFromGroups(groups: string[], rules: RoleRule[]): Map<string, Role | undefined> {
  const member = new Set(groups.map(normalizeGroup));
  const roles = new Map<string, Role | undefined>();
  for (const rule of rules) {
    const current = roles.get(rule.namespace);
    if (!member.has(normalizeGroup(rule.group))) {
      if (!roles.has(rule.namespace)) roles.set(rule.namespace, undefined);
      continue;
    }
    if (current === undefined || ROLES.indexOf(rule.role) < ROLES.indexOf(current)) roles.set(rule.namespace, rule.role);
  }
  return roles;
}

export class ExternalAccounts {
  private readonly adminGroups: Set<string>;

  constructor(
    private readonly access: AccessStore,
    private readonly identity: IdentityStore,
    private readonly auditor: Auditor,
    private readonly options: ExternalAccountOptions,
  ) {
    this.adminGroups = new Set(options.adminGroups.map(normalizeGroup));
  }

  get provider(): string {
    return this.options.provider;
  }

  /** Whether a login under this name goes to the provider: no account yet, or one the provider made. */
  async handles(user: UserRecord | undefined): Promise<boolean> {
    if (!user) return true;
    const external = await this.identity.getExternalAccount(user.username);
    return external?.provider === this.options.provider;
  }

  /**
   * The account of a person the provider vouched for (`subject`, `groups`), created or
   * synchronised now; undefined when the name belongs to a local account, another provider's,
   * or (with stableSubject) another subject's.
   */
  async sync(username: string, subject: string, groups: string[], source: string): Promise<UserRecord | undefined> {
    const admin = groups.some((g) => this.adminGroups.has(normalizeGroup(g)));
    const from = this.options.provider;
    let user = await this.access.getUser(username);
    if (!user) {
      try {
        user = await this.access.createUser({ username, passwordHash: EXTERNAL_PASSWORD, admin });
      } catch {
        // Created at the same moment by another request; used below if it is ours.
        user = await this.access.getUser(username);
      }
      if (!user || user.passwordHash !== EXTERNAL_PASSWORD) return undefined;
      const linked = await this.identity.getExternalAccount(username);
      if (linked && (linked.provider !== from || (this.options.stableSubject && linked.subject !== subject))) return undefined;
      await this.identity.linkExternalAccount(username, from, subject);
      if (!linked) await this.auditor.record({ actor: 'system', action: 'user.create', source, detail: { username, admin, from } });
    } else {
      const linked = await this.identity.getExternalAccount(username);
      if (!linked || linked.provider !== from) return undefined;
      if (this.options.stableSubject && linked.subject !== subject) return undefined;
      await this.identity.linkExternalAccount(username, from, subject);
      if (user.admin !== admin) {
        await this.access.updateUser(username, { admin });
        await this.auditor.record({ actor: 'system', action: 'user.update', source, detail: { username, admin, from } });
        user = { ...user, admin };
      }
    }
    await this.syncRoles(username, groups, source);
    return user;
  }

  /** Set the roles the rules give; remove the ones they no longer give (in namespaces the rules name only). */
  private async syncRoles(username: string, groups: string[], source: string): Promise<void> {
    const from = this.options.provider;
    const wanted = rolesFromGroups(groups, this.options.roleRules);
    const current = new Map((await this.access.rolesOf(username)).map((m) => [m.namespace, m.role]));
    for (const [namespace, role] of wanted) {
      const had = current.get(namespace);
      if (role === had) continue;
      if (role === undefined) {
        await this.access.removeMember(namespace, username);
        await this.auditor.record({ actor: 'system', action: 'member.remove', source, detail: { namespace, username, from } });
        continue;
      }
      await this.access.ensureNamespace(namespace, 'private');
      await this.access.setMember(namespace, username, role);
      await this.auditor.record({ actor: 'system', action: 'member.set', source, detail: { namespace, username, role, from } });
    }
  }
}
