// `registry serve`: run the registry until SIGINT/SIGTERM, then shut down gracefully.
import { Command } from 'commander';
import { loadConfig } from '../config/load.js';
import { createApp } from '../app.js';

export function serveCommand(): Command {
  return new Command('serve')
    .description('run the registry (defaults: port 5000, data in ./data)')
    .option('-c, --config <file>', 'YAML configuration file (also REGISTRY_CONFIG)')
    .option('-p, --port <port>', 'port to listen on')
    .option('--host <host>', 'address to listen on')
    .option('-d, --data-dir <dir>', 'filesystem storage root (blobs and the SQLite file)')
    .option('--log-level <level>', 'fatal, error, warn, info, debug, trace or silent')
    .action(async (opts: { config?: string; port?: string; host?: string; dataDir?: string; logLevel?: string }) => {
      const overrides: Record<string, unknown> = {};
      if (opts.port !== undefined || opts.host !== undefined) {
        overrides['http'] = { ...(opts.port !== undefined ? { port: opts.port } : {}), ...(opts.host !== undefined ? { host: opts.host } : {}) };
      }
      if (opts.dataDir !== undefined) overrides['storage'] = { filesystem: { root: opts.dataDir } };
      if (opts.logLevel !== undefined) overrides['log'] = { level: opts.logLevel };
      const config = loadConfig({ ...(opts.config !== undefined ? { file: opts.config } : {}), overrides });
      const app = await createApp(config);
      const address = await app.listen();
      app.logger.info({ ...address, root: config.storage.filesystem.root }, 'registry listening');
      let stopping = false;
      const stop = (signal: string) => {
        if (stopping) return;
        stopping = true;
        app.logger.info({ signal }, 'shutting down: finishing running requests');
        app.close().then(
          () => process.exit(0),
          (err: unknown) => {
            app.logger.error({ err }, 'shutdown failed');
            process.exit(1);
          },
        );
      };
      process.on('SIGINT', () => stop('SIGINT'));
      process.on('SIGTERM', () => stop('SIGTERM'));
    });
}
