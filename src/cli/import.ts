// `registry import <file.tar|dir>`: an OCI image layout (tar or directory) or a `docker save`
// archive into the configured registry data, through the same checks as a push; every digest
// is verified before anything is stored.
import { Command } from 'commander';
import { importLayout } from '../transfer/import.js';
import { openLayout } from '../transfer/layout-reader.js';
import { configFromFlags, withConfigFlags, type ConfigFlags } from './options.js';
import { formatBytes, Progress } from './progress.js';
import { withServices } from './stores.js';

interface ImportFlags extends ConfigFlags {
  repository?: string;
  json?: boolean;
  progress?: boolean;
}

export function importCommand(): Command {
  return withConfigFlags(new Command('import').description('store the images of an OCI image layout (tar or directory) or a docker save archive'))
    .argument('<archive>', 'an OCI layout tar (.tar or .tar.gz), an OCI layout directory, or a docker save tar')
    .option('--repository <name>', 'put every image into this repository (default: the repository the archive names)')
    .option('--json', 'print a summary as JSON')
    .option('--no-progress', 'no progress display on stderr')
    .action(async (archive: string, flags: ImportFlags) => {
      const config = configFromFlags(flags);
      const progress = new Progress(process.stderr, flags.progress !== false && !flags.json);
      const source = await openLayout(archive);
      const report = await withServices(config, (services) =>
        importLayout(
          source,
          services,
          { ...(flags.repository !== undefined ? { repository: flags.repository } : {}), manifestMaxBytes: config.limits.manifestMaxBytes },
          (phase, done, total, unit) => progress.update(phase, done, total, unit),
        ),
      ).finally(async () => {
        progress.end();
        await source.close();
      });
      if (flags.json) {
        console.log(JSON.stringify(report));
        return;
      }
      for (const i of report.images) console.log(`${i.repository}${i.tag !== undefined ? `:${i.tag}` : ''} ${i.digest}`);
      console.log(`imported ${report.manifests} manifest(s); ${report.blobsPushed} blob(s) stored (${formatBytes(report.bytesPushed)}), ${report.blobsPresent} already present`);
    });
}
