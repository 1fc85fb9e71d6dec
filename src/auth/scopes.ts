// Scopes of the Docker token spec: `repository:<name>:<actions>` and `registry:catalog:*`,
// as clients send them to the token endpoint and as tokens carry them in `access`.
import { isValidName } from '../registry/names.js';
import { REPOSITORY_ACTIONS, type RepositoryAction } from './model.js';

export interface AccessEntry {
  type: 'repository' | 'registry';
  name: string;
  actions: string[];
}

/** Parse scopes (space-separated within one value, several values allowed); malformed ones are dropped. */
export function parseScopes(values: string[]): AccessEntry[] {
  const entries: AccessEntry[] = [];
  for (const value of values) {
    for (const scope of value.split(' ')) {
      if (!scope) continue;
      const first = scope.indexOf(':');
      const last = scope.lastIndexOf(':');
      if (first === -1 || first === last) continue;
      // The resource type may carry a class, `repository(plugin)`; the class is ignored.
      const type = scope.slice(0, first).replace(/\(.*\)$/, '');
      const name = scope.slice(first + 1, last);
      const actions = scope
        .slice(last + 1)
        .split(',')
        .filter((a) => a !== '');
      if (type === 'repository' && isValidName(name)) {
        const wanted = actions.includes('*') ? [...REPOSITORY_ACTIONS] : actions.filter((a): a is RepositoryAction => (REPOSITORY_ACTIONS as readonly string[]).includes(a));
        entries.push({ type, name, actions: [...new Set(wanted)] });
      } else if (type === 'registry' && name === 'catalog') {
        entries.push({ type, name, actions: actions.includes('*') ? ['*'] : [] });
      }
    }
  }
  return entries;
}

export function formatScope(entry: AccessEntry): string {
  return `${entry.type}:${entry.name}:${entry.actions.join(',')}`;
}

/** Actions a token's access claim grants on a resource. */
export function grantedActions(access: AccessEntry[], type: AccessEntry['type'], name: string): Set<string> {
  const granted = new Set<string>();
  for (const entry of access) if (entry.type === type && entry.name === name) for (const a of entry.actions) granted.add(a);
  return granted;
}
