// `registry migrate`: bring the metadata schema to the newest version and exit. Safe to run
// while other nodes start (PostgreSQL migrations take an advisory lock).
import { Command } from 'commander';
import { openSqlStore } from '../metadata/open.js';
import { configFromFlags, withConfigFlags, type ConfigFlags } from './options.js';

export function migrateCommand(): Command {
  return withConfigFlags(new Command('migrate').description('apply pending metadata schema migrations'))
    .option('--json', 'print the result as JSON')
    .action(async (flags: ConfigFlags & { json?: boolean }) => {
      const config = configFromFlags(flags);
      const store = await openSqlStore(config, { migrate: false });
      try {
        const applied = await store.migrate();
        if (flags.json) console.log(JSON.stringify({ driver: config.metadata.driver, applied }));
        else console.log(applied.length ? `applied: ${applied.join(', ')}` : 'schema is up to date');
      } finally {
        await store.close();
      }
    });
}
