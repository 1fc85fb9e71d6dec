// Names of accounts, namespaces and robots, shared by the management API and the CLI.
// Usernames and namespace names follow the grammar of one path component of a repository
// name, since every user owns the namespace named after them.

const COMPONENT = /^[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*$/;
/** Robot short names: lower-case letters and digits, with single `.`, `_` or `-` between. */
const ROBOT_SHORT = /^[a-z0-9]+(?:[._-][a-z0-9]+)*$/;

export const MAX_USERNAME_LENGTH = 64;
export const MAX_NAMESPACE_LENGTH = 128;
export const MAX_ROBOT_NAME_LENGTH = 64;
export const MIN_PASSWORD_LENGTH = 8;
export const MAX_PASSWORD_LENGTH = 1024;

export function isValidUsername(name: string): boolean {
  return name.length > 0 && name.length <= MAX_USERNAME_LENGTH && COMPONENT.test(name);
}

export function isValidNamespaceName(name: string): boolean {
  return name.length > 0 && name.length <= MAX_NAMESPACE_LENGTH && COMPONENT.test(name);
}

export function isValidRobotShortName(name: string): boolean {
  return name.length > 0 && name.length <= MAX_ROBOT_NAME_LENGTH && ROBOT_SHORT.test(name);
}

export const USERNAME_RULE = 'lower-case letters and digits, optionally separated by ".", "_", "__" or runs of "-"; at most 64 characters';
export const NAMESPACE_RULE = 'lower-case letters and digits, optionally separated by ".", "_", "__" or runs of "-"; at most 128 characters';
export const ROBOT_NAME_RULE = 'lower-case letters and digits, optionally separated by single ".", "_" or "-"; at most 64 characters';
