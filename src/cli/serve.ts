// `registry serve`: run the registry until SIGINT/SIGTERM, then shut down gracefully.
import { Command } from 'commander';
import { createApp } from '../app.js';
import { configFromFlags, withConfigFlags, type ConfigFlags } from './options.js';

export function serveCommand(): Command {
  return withConfigFlags(new Command('serve').description('run the registry (defaults: 127.0.0.1 port 5000, data in ./data)'))
    .option('-p, --port <port>', 'port to listen on')
    .option('--host <host>', 'address to listen on (a non-loopback one needs TLS and auth, or the opt-ins)')
    .action(async (flags: ConfigFlags) => {
      const config = configFromFlags(flags);
      const app = await createApp(config);
      const address = await app.listen();
      app.logger.info({ ...address, tls: Boolean(config.http.tls.certFile), storage: config.storage.driver, metadata: config.metadata.driver }, 'registry listening');
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
      // Re-read the configuration (file, environment, flags) and apply what can change live.
      process.on('SIGHUP', () => {
        try {
          app.reload(configFromFlags(flags));
        } catch (err) {
          app.logger.error({ err: err instanceof Error ? err.message : err }, 'configuration reload failed; keeping the current configuration');
        }
      });
      process.on('SIGINT', () => stop('SIGINT'));
      process.on('SIGTERM', () => stop('SIGTERM'));
    });
}
