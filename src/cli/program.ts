// The `registry` command line: one subcommand per file in this folder.
import { Command } from 'commander';
import { serveCommand } from './serve.js';
import { migrateCommand } from './migrate.js';
import { userCommand } from './user.js';
import { auditCommand } from './audit.js';
import { gcCommand, scrubCommand } from './gc.js';
import { retentionCommand } from './retention.js';
import { vulndbCommand } from './vulndb.js';
import { scanCommand } from './scan.js';
import { promoteCommand } from './promote.js';
import { doctorCommand } from './doctor.js';
import { exportCommand } from './export.js';
import { importCommand } from './import.js';
import { mirrorCommand } from './mirror.js';
import { backupCommand, restoreCommand } from './backup.js';
import { replicateCommand } from './replicate.js';
import { loginCommand } from './login.js';
import { ConfigError } from '../config/load.js';

/** Run the command line on `argv` (as process.argv: node, script, then the arguments). */
export async function runCli(argv: string[]): Promise<void> {
  const program = new Command('registry').description('OCI Distribution v1.1 container registry').showHelpAfterError();
  for (const command of [
    serveCommand(),
    migrateCommand(),
    userCommand(),
    auditCommand(),
    gcCommand(),
    scrubCommand(),
    retentionCommand(),
    vulndbCommand(),
    scanCommand(),
    promoteCommand(),
    doctorCommand(),
    exportCommand(),
    importCommand(),
    mirrorCommand(),
    backupCommand(),
    restoreCommand(),
    replicateCommand(),
    loginCommand(),
  ]) program.addCommand(command);

  await program.parseAsync(argv).catch((err: unknown) => {
    if (err instanceof ConfigError) {
      console.error(err.message);
      process.exit(2);
    }
    console.error(err instanceof Error ? err.message : err);
    process.exit(1);
  });
}
