// Globs over tag and repository names: `*` any run of characters (possibly empty), `?` exactly
// one. One implementation for immutable rules, retention, webhooks, replication and the copy
// commands; compiled patterns are kept, since the same few patterns are matched on every push.
const compiled = new Map<string, RegExp>();
const MAX_COMPILED = 1_000;

export function globMatcher(pattern: string): (value: string) => boolean {
  let re = compiled.get(pattern);
  if (!re) {
    const source = pattern.replace(/[.+^${}()|[\]\\-]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
    re = new RegExp(`^${source}$`);
    if (compiled.size >= MAX_COMPILED) compiled.clear();
    compiled.set(pattern, re);
  }
  const regex = re;
  return (value) => regex.test(value);
}

export function globMatch(pattern: string, value: string): boolean {
  return globMatcher(pattern)(value);
}

/**
 * A repository glob of a namespace's rule (retention, webhooks): matched against the whole name
 * or against the path below the namespace, so `app-*` and `team/app-*` both work.
 */
export function repositoryGlobMatch(pattern: string, namespace: string, repository: string): boolean {
  if (globMatch(pattern, repository)) return true;
  return repository.startsWith(`${namespace}/`) && globMatch(pattern, repository.slice(namespace.length + 1));
}
