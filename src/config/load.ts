// Builds the configuration from file, environment and flags, then validates it once.
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { ConfigSchema, type Config } from './schema.js';

type Tree = { [key: string]: unknown };

function isTree(value: unknown): value is Tree {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Deep-merge two setting trees; `over` wins. */
export function merge(base: Tree, over: Tree): Tree {
  const out: Tree = { ...base };
  for (const [k, v] of Object.entries(over)) {
    out[k] = isTree(v) && isTree(out[k]) ? merge(out[k] as Tree, v) : v;
  }
  return out;
}

function setPath(tree: Tree, path: string[], value: unknown): void {
  let node = tree;
  for (const key of path.slice(0, -1)) {
    if (!isTree(node[key])) node[key] = {};
    node = node[key] as Tree;
  }
  node[path[path.length - 1]!] = value;
}

/** Settings without a default, which therefore do not appear in the parsed defaults. */
const OPTIONAL_SETTINGS: string[][] = [
  ['metadata', 'sqlite', 'path'],
  ['metadata', 'postgres', 'url'],
  ['storage', 's3', 'endpoint'],
  ['storage', 's3', 'bucket'],
  ['storage', 's3', 'accessKeyId'],
  ['storage', 's3', 'secretAccessKey'],
  ['redis', 'url'],
  ['auth', 'realm'],
  ['http', 'tls', 'certFile'],
  ['http', 'tls', 'keyFile'],
  ['auth', 'initialAdminUsername'],
  ['auth', 'initialAdminPassword'],
  ['metrics', 'port'],
  ['metrics', 'host'],
  ['auditForwarding', 'syslog', 'url'],
  ['auditForwarding', 'syslog', 'caFile'],
  ['auditForwarding', 'syslog', 'hostname'],
  ['auditForwarding', 'http', 'url'],
  ['auditForwarding', 'http', 'bearerToken'],
  ['auditForwarding', 'http', 'hmacSecret'],
  ['ldap', 'url'],
  ['ldap', 'caFile'],
  ['ldap', 'bindDn'],
  ['ldap', 'bindPassword'],
  ['ldap', 'userBaseDn'],
  ['ldap', 'groupBaseDn'],
  ['oidc', 'issuer'],
  ['oidc', 'clientId'],
  ['oidc', 'clientSecret'],
  ['oidc', 'redirectUrl'],
];

/** Every setting's path, e.g. ['http', 'port'], read off the defaults. */
export function settingPaths(tree: Tree = ConfigSchema.parse({}) as unknown as Tree, prefix: string[] = []): string[][] {
  const paths: string[][] = [];
  for (const [k, v] of Object.entries(tree)) {
    if (isTree(v)) paths.push(...settingPaths(v, [...prefix, k]));
    else paths.push([...prefix, k]);
  }
  if (prefix.length === 0) paths.push(...OPTIONAL_SETTINGS);
  return paths;
}

/** REGISTRY_HTTP_PORT for http.port, REGISTRY_LIMITS_MANIFEST_MAX_BYTES for limits.manifestMaxBytes. */
export function envName(path: string[]): string {
  return `REGISTRY_${path.map((p) => p.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase()).join('_')}`;
}

export class ConfigError extends Error {}

export interface LoadOptions {
  file?: string;
  env?: NodeJS.ProcessEnv;
  /** Settings from command-line flags, as a partial tree. */
  overrides?: Tree;
}

export function loadConfig(options: LoadOptions = {}): Config {
  const env = options.env ?? process.env;
  let tree: Tree = {};
  const file = options.file ?? env['REGISTRY_CONFIG'];
  if (file) {
    let parsed: unknown;
    try {
      parsed = parseYaml(readFileSync(file, 'utf8'));
    } catch (err) {
      throw new ConfigError(`cannot read config file ${file}: ${(err as Error).message}`);
    }
    if (parsed !== null && parsed !== undefined && !isTree(parsed)) throw new ConfigError(`config file ${file} must be a YAML mapping`);
    tree = (parsed as Tree | null) ?? {};
  }
  const fromEnv: Tree = {};
  for (const path of settingPaths()) {
    const value = env[envName(path)];
    // An empty variable (e.g. `REGISTRY_HTTP_PORT=` from an unset template value) counts as unset.
    if (value !== undefined && value !== '') setPath(fromEnv, path, value);
  }
  tree = merge(merge(tree, fromEnv), options.overrides ?? {});
  const result = ConfigSchema.safeParse(tree);
  if (!result.success) {
    throw new ConfigError(`invalid configuration:\n${z.prettifyError(result.error)}`);
  }
  return result.data;
}

export function sqlitePath(config: Config): string {
  return resolve(config.metadata.sqlite.path ?? join(config.storage.filesystem.root, 'registry.db'));
}
