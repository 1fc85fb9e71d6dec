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

const program = new Command('registry').description('OCI Distribution v1.1 container registry').showHelpAfterError();
program.addCommand(serveCommand());
program.addCommand(migrateCommand());
program.addCommand(userCommand());
program.addCommand(auditCommand());
program.addCommand(gcCommand());
program.addCommand(scrubCommand());
program.addCommand(retentionCommand());
program.addCommand(vulndbCommand());
program.addCommand(scanCommand());
program.addCommand(promoteCommand());
program.addCommand(doctorCommand());
program.addCommand(exportCommand());
program.addCommand(importCommand());
program.addCommand(mirrorCommand());
program.addCommand(backupCommand());
program.addCommand(restoreCommand());
program.addCommand(replicateCommand());
program.addCommand(loginCommand());

program.parseAsync(process.argv).catch((err: unknown) => {
  if (err instanceof ConfigError) {
    console.error(err.message);
    process.exit(2);
  }
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
