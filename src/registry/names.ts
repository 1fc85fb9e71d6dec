// Repository names and tags, checked against the OCI Distribution Spec grammars.
import { RegistryError } from './errors.js';

const COMPONENT = '[a-z0-9]+(?:(?:\\.|_|__|-+)[a-z0-9]+)*';
const NAME_GRAMMAR = new RegExp(`^${COMPONENT}(?:/${COMPONENT})*$`);
const TAG_GRAMMAR = /^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}$/;

/** Many clients limit a host plus name to 255 characters; we hold names to that. */
export const MAX_NAME_LENGTH = 255;

export function isValidName(name: string): boolean {
  return name.length > 0 && name.length <= MAX_NAME_LENGTH && NAME_GRAMMAR.test(name);
}

export function checkName(name: string): string {
  if (!isValidName(name)) {
    throw new RegistryError('NAME_INVALID', 'invalid repository name', { name: name.slice(0, MAX_NAME_LENGTH + 1) });
  }
  return name;
}

export function isValidTag(tag: string): boolean {
  return TAG_GRAMMAR.test(tag);
}

export function checkTag(tag: string): string {
  if (!isValidTag(tag)) throw new RegistryError('TAG_INVALID', 'invalid tag', { tag: tag.slice(0, 129) });
  return tag;
}

/** The namespace of a repository is its first path segment. */
export function namespaceOf(name: string): string {
  const slash = name.indexOf('/');
  return slash === -1 ? name : name.slice(0, slash);
}
