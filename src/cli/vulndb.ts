// `registry vulndb`: the vulnerability database. `import` loads OSV advisories offline (from
// directories of .json files or the per-ecosystem .zip archives osv.dev publishes); `status`
// shows its version and when it last changed.
import { Command } from 'commander';
import { openSqlStore } from '../metadata/open.js';
import type { VulnDbState, VulnStore } from '../metadata/vuln-store.js';
import { importAdvisories } from '../scan/vuln/import.js';
import { configFromFlags, withConfigFlags, type ConfigFlags } from './options.js';

interface VulnDbFlags extends ConfigFlags {
  json?: boolean;
}

async function withVulnStore<T>(flags: ConfigFlags, fn: (store: VulnStore) => Promise<T>): Promise<T> {
  const store = await openSqlStore(configFromFlags(flags));
  try {
    return await fn(store.vulns());
  } finally {
    await store.close();
  }
}

function stateLine(state: VulnDbState): string {
  const at = (d: Date | null): string => (d ? d.toISOString() : 'never');
  return `database version ${state.version}: ${state.advisories} advisories, changed ${at(state.changedAt)}, last import ${at(state.lastImportAt)}`;
}

export function vulndbCommand(): Command {
  const command = new Command('vulndb').description('the vulnerability database (OSV advisories)');
  command.addCommand(
    withConfigFlags(new Command('import').description('import OSV advisories from directories of .json files, .json files or OSV .zip archives'))
      .argument('<paths...>', 'directories, .json files or .zip archives (e.g. Debian/all.zip from osv.dev)')
      .option('--json', 'print the summary as JSON')
      .action(async (paths: string[], flags: VulnDbFlags) => {
        const summary = await withVulnStore(flags, (store) => importAdvisories(store, paths));
        for (const e of summary.errors) console.error(`invalid: ${e}`);
        if (flags.json) {
          console.log(JSON.stringify(summary, null, 2));
          return;
        }
        console.log(
          `${summary.files} files: ${summary.added} added, ${summary.updated} updated, ${summary.removed} removed, ${summary.skipped} unchanged, ${summary.invalid} invalid`,
        );
        console.log(stateLine(summary.state));
      }),
  );
  command.addCommand(
    withConfigFlags(new Command('status').description('show the database version and when it last changed'))
      .option('--json', 'print JSON')
      .action(async (flags: VulnDbFlags) => {
        const state = await withVulnStore(flags, (store) => store.state());
        console.log(flags.json ? JSON.stringify(state, null, 2) : stateLine(state));
      }),
  );
  return command;
}
