// The authorisation rules: what an identity may do in a repository, decided by the
// repository's namespace (its first path segment), the identity's role there, the namespace's
// visibility, and admin rights. One place, used by /v2, the token endpoint and the API.
import { namespaceOf } from '../registry/names.js';
import type { AccessStore } from '../metadata/access-store.js';
import { ROLE_ACTIONS, isRepositoryAction, type Identity, type RepositoryAction } from './model.js';

export class AccessPolicy {
  constructor(private readonly store: AccessStore) {}

  /** Every action `identity` may take on `repository`. */
  async allowedActions(identity: Identity, repository: string): Promise<Set<RepositoryAction>> {
    const allowed = new Set<RepositoryAction>();
    if (identity.kind === 'user' && identity.admin) return new Set(['pull', 'push', 'delete']);
    const name = namespaceOf(repository);
    const namespace = await this.store.getNamespace(name);
    if (namespace?.visibility === 'public') allowed.add('pull');
    if (identity.kind === 'robot') {
      if (identity.namespace === null || identity.namespace === name) for (const a of identity.actions) if (isRepositoryAction(a)) allowed.add(a);
      // A namespace robot cannot create other namespaces.
      if (!namespace && identity.namespace !== null) allowed.delete('push');
    } else if (identity.kind === 'user') {
      const role = (await this.store.rolesOf(identity.username)).find((m) => m.namespace === name)?.role;
      if (role) for (const a of ROLE_ACTIONS[role]) allowed.add(a);
      // Everyone owns the namespace named after them; it comes into being at their first push.
      if (!namespace && name === identity.username) for (const a of ROLE_ACTIONS.owner) allowed.add(a);
    }
    return allowed;
  }

  /** Before a push into a namespace that does not exist yet: create it (private). */
  async prepareNamespaceForPush(identity: Identity, repository: string): Promise<void> {
    const name = namespaceOf(repository);
    if (await this.store.getNamespace(name)) return;
    await this.store.ensureNamespace(name, 'private');
    if (identity.kind === 'user' && name === identity.username) await this.store.setMember(name, identity.username, 'owner');
  }

  /** Of these repositories, those `identity` may pull (for the catalog). */
  async pullable(identity: Identity, repositories: string[]): Promise<string[]> {
    const out: string[] = [];
    const byNamespace = new Map<string, boolean>();
    for (const repo of repositories) {
      const ns = namespaceOf(repo);
      let ok = byNamespace.get(ns);
      if (ok === undefined) {
        ok = (await this.allowedActions(identity, repo)).has('pull');
        byNamespace.set(ns, ok);
      }
      if (ok) out.push(repo);
    }
    return out;
  }
}
