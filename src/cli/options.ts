// Flags every command that reads the configuration shares.
import type { Command } from 'commander';
import { loadConfig } from '../config/load.js';
import type { Config } from '../config/schema.js';

export interface ConfigFlags {
  config?: string;
  port?: string;
  host?: string;
  dataDir?: string;
  logLevel?: string;
}

export function withConfigFlags(command: Command): Command {
  return command
    .option('-c, --config <file>', 'YAML configuration file (also REGISTRY_CONFIG)')
    .option('-d, --data-dir <dir>', 'filesystem storage root (blobs and the SQLite file)')
    .option('--log-level <level>', 'fatal, error, warn, info, debug, trace or silent');
}

export function configFromFlags(flags: ConfigFlags): Config {
  const overrides: Record<string, unknown> = {};
  if (flags.port !== undefined || flags.host !== undefined) {
    overrides['http'] = { ...(flags.port !== undefined ? { port: flags.port } : {}), ...(flags.host !== undefined ? { host: flags.host } : {}) };
  }
  if (flags.dataDir !== undefined) overrides['storage'] = { filesystem: { root: flags.dataDir } };
  if (flags.logLevel !== undefined) overrides['log'] = { level: flags.logLevel };
  return loadConfig({ ...(flags.config !== undefined ? { file: flags.config } : {}), overrides });
}
