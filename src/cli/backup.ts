// `registry backup` and `registry restore`: the metadata snapshot and the blobs it references,
// to and from a directory or an S3 bucket/prefix, while the registry keeps serving (backup) or
// onto an empty registry (restore).
import { Command } from 'commander';
import { runBackup } from '../backup/backup.js';
import { runRestore } from '../backup/restore.js';
import { openTarget } from '../backup/target.js';
import { formatBytes } from './gc.js';
import { configFromFlags, withConfigFlags, type ConfigFlags } from './options.js';
import { Progress } from './progress.js';
import { withStores } from './stores.js';

interface BackupFlags extends ConfigFlags {
  json?: boolean;
  progress?: boolean;
  concurrency?: string;
}

function concurrency(flags: BackupFlags): { concurrency?: number } {
  if (flags.concurrency === undefined) return {};
  const n = Number(flags.concurrency);
  if (!Number.isSafeInteger(n) || n < 1 || n > 256) throw new Error('--concurrency must be an integer from 1 to 256');
  return { concurrency: n };
}

const TARGET_HELP = 'a directory, or s3://bucket/prefix (endpoint and keys from storage.s3, else the AWS defaults)';

export function backupCommand(): Command {
  return withConfigFlags(new Command('backup').description('back up the metadata (one consistent snapshot) and the blobs it references while the registry runs; blobs incrementally'))
    .argument('<target>', TARGET_HELP)
    .option('--json', 'print the report as JSON')
    .option('--no-progress', 'no progress display on stderr')
    .option('--concurrency <n>', 'blobs copied at once (default 8)')
    .action(async (where: string, flags: BackupFlags) => {
      const config = configFromFlags(flags);
      const target = await openTarget(where, config);
      const report = await withStores(
        config,
        async (store, blobs) => {
          const progress = new Progress(process.stderr, flags.progress !== false && !flags.json);
          const result = await runBackup(store, blobs, target, { ...concurrency(flags), onProgress: (phase, done, total) => progress.update(phase, done, total) });
          progress.end();
          return result;
        },
        // The running registry owns its schema: a backup never migrates it.
        { migrate: false },
      );
      if (flags.json) console.log(JSON.stringify(report));
      else {
        const rows = report.tables.reduce((n, t) => n + t.rows, 0);
        console.log(`backed up ${rows} row(s) in ${report.tables.length} table(s) and ${report.blobs} blob(s) (${formatBytes(report.blobBytes)}) to ${report.target}`);
        console.log(`copied ${report.blobsCopied} blob(s) (${formatBytes(report.bytesCopied)}); the others were there already; took ${report.durationMs} ms`);
        for (const m of report.missingBlobs) console.log(`blob ${m.digest}: ${m.problem}`);
        if (!report.complete) console.log('the backup is INCOMPLETE: restore refuses it; run the backup again');
      }
      // Incomplete: exit 3, as scrub does when it finds problems (1 is a failure to run).
      if (!report.complete) process.exitCode = 3;
    });
}

export function restoreCommand(): Command {
  return withConfigFlags(new Command('restore').description('restore a backup onto an empty registry (either metadata driver, either blob store)'))
    .argument('<source>', TARGET_HELP)
    .option('--json', 'print the report as JSON')
    .option('--no-progress', 'no progress display on stderr')
    .option('--concurrency <n>', 'blobs restored at once (default 16)')
    .action(async (where: string, flags: BackupFlags) => {
      const config = configFromFlags(flags);
      const source = await openTarget(where, config);
      const report = await withStores(
        config,
        async (store, blobs) => {
          const progress = new Progress(process.stderr, flags.progress !== false && !flags.json);
          try {
            return await runRestore(store, blobs, source, { ...concurrency(flags), onProgress: (phase, done, total) => progress.update(phase, done, total) });
          } finally {
            progress.end();
          }
        },
        // Migrations run once the backup has been checked and the registry found empty.
        { migrate: false },
      );
      if (flags.json) console.log(JSON.stringify(report));
      else {
        const rows = report.tables.reduce((n, t) => n + t.rows, 0);
        console.log(`restored ${rows} row(s) in ${report.tables.length} table(s) (${report.from} to ${report.to}) and ${report.blobs} blob(s) (${formatBytes(report.blobBytes)}) from ${report.source}`);
        console.log(`took ${report.durationMs} ms`);
      }
    });
}
