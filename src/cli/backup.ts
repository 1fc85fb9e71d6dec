// `registry backup` and `registry restore`: the metadata snapshot and the blobs it references,
// to and from a directory or an S3 bucket/prefix, while the registry keeps serving (backup) or
// onto an empty registry (restore).
import { Command } from 'commander';
import { runBackup, type BackupReport } from '../backup/backup.js';
import { runRestore, type RestoreReport } from '../backup/restore.js';
import type { SqlMetadataStore } from '../metadata/sql-store.js';
import type { BlobStore } from '../storage/blob-store.js';
import { openTarget } from '../backup/target.js';
import { formatBytes } from './progress.js';
import { configFromFlags, withConfigFlags, type ConfigFlags } from './options.js';
import { Progress } from './progress.js';
import type { Config } from '../config/schema.js';
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

type OnProgress = (phase: string, done: number, total?: number) => void;

/** The command with its target argument and shared flags; runs `fn` on the configured stores with a progress display. */
function storesCommand<T>(
  name: string,
  description: string,
  blobsHelp: string,
  fn: (flags: BackupFlags, where: string, config: Config, run: (work: (store: SqlMetadataStore, blobs: BlobStore, onProgress: OnProgress) => Promise<T>) => Promise<T>) => Promise<void>,
): Command {
  return withConfigFlags(new Command(name).description(description))
    .argument('<target>', 'a directory, or s3://bucket/prefix (endpoint and keys from storage.s3, else the AWS defaults)')
    .option('--json', 'print the report as JSON')
    .option('--no-progress', 'no progress display on stderr')
    .option('--concurrency <n>', blobsHelp)
    .action(async (where: string, flags: BackupFlags) => {
      const config = configFromFlags(flags);
      await fn(flags, where, config, (work) =>
        withStores(
          config,
          async (store, blobs) => {
            const progress = new Progress(process.stderr, flags.progress !== false && !flags.json);
            try {
              return await work(store, blobs, (phase, done, total) => progress.update(phase, done, total));
            } finally {
              progress.end();
            }
          },
          // Backup: the running registry owns its schema. Restore migrates once the backup has
          // been checked and the registry found empty.
          { migrate: false },
        ),
      );
    });
}

export function backupCommand(): Command {
  return storesCommand<BackupReport>(
    'backup',
    'back up the metadata (one consistent snapshot) and the blobs it references while the registry runs; blobs incrementally',
    'blobs copied at once (default 8)',
    async (flags, where, config, run) => {
      const target = await openTarget(where, config);
      const report = await run((store, blobs, onProgress) => runBackup(store, blobs, target, { ...concurrency(flags), onProgress }));
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
    },
  );
}

export function restoreCommand(): Command {
  return storesCommand<RestoreReport>(
    'restore',
    'restore a backup onto an empty registry (either metadata driver, either blob store)',
    'blobs restored at once (default 16)',
    async (flags, where, config, run) => {
      const source = await openTarget(where, config);
      const report = await run((store, blobs, onProgress) => runRestore(store, blobs, source, { ...concurrency(flags), onProgress }));
      if (flags.json) console.log(JSON.stringify(report));
      else {
        const rows = report.tables.reduce((n, t) => n + t.rows, 0);
        console.log(`restored ${rows} row(s) in ${report.tables.length} table(s) (${report.from} to ${report.to}) and ${report.blobs} blob(s) (${formatBytes(report.blobBytes)}) from ${report.source}`);
        console.log(`took ${report.durationMs} ms`);
      }
    },
  );
}
