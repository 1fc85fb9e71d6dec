// `registry export <repository>[:tag|@digest] -o <file.tar>`: an image (every platform, and with
// --referrers its signatures and SBOMs) or a whole repository as an OCI image layout tar, read
// from the configured stores (the registry may be running).
import { resolve } from 'node:path';
import { Command } from 'commander';
import { exportImages } from '../transfer/export.js';
import { LayoutTarWriter } from '../transfer/layout-writer.js';
import { splitSource } from '../transfer/mirror.js';
import { configFromFlags, withConfigFlags, type ConfigFlags } from './options.js';
import { formatBytes, Progress } from './progress.js';
import { withServices } from './stores.js';

interface ExportFlags extends ConfigFlags {
  output: string;
  allTags?: boolean;
  referrers?: boolean;
  json?: boolean;
  progress?: boolean;
}

export function exportCommand(): Command {
  return withConfigFlags(new Command('export').description('write an image or a whole repository as an OCI image layout tar'))
    .argument('<image>', 'repository[:tag|@digest] (a bare repository means its "latest" tag, or every tag with --all-tags)')
    .requiredOption('-o, --output <file.tar>', 'the archive to write (written under a temporary name, renamed when complete)')
    .option('--all-tags', 'every tag of the repository')
    .option('--referrers', 'also the manifests that refer to the images (signatures, SBOMs, attestations)')
    .option('--json', 'print a summary as JSON')
    .option('--no-progress', 'no progress display on stderr')
    .action(async (image: string, flags: ExportFlags) => {
      const { name, tag, digest } = splitSource(image);
      if (flags.allTags && (tag !== undefined || digest !== undefined)) throw new Error('--all-tags takes a bare repository name');
      const references = flags.allTags ? [] : [digest ?? tag ?? 'latest'];
      const progress = new Progress(process.stderr, flags.progress !== false && !flags.json);
      const report = await withServices(configFromFlags(flags), async ({ metadata, blobs }) => {
        const writer = await LayoutTarWriter.create(resolve(flags.output));
        try {
          return await exportImages({ metadata, blobs }, { repository: name, references, allTags: flags.allTags === true, referrers: flags.referrers === true }, writer, (phase, done, total, unit) =>
            progress.update(phase, done, total, unit),
          );
        } catch (err) {
          await writer.abort();
          throw err;
        } finally {
          progress.end();
        }
      });
      if (flags.json) {
        console.log(JSON.stringify({ output: resolve(flags.output), ...report }));
        return;
      }
      for (const i of report.images) console.log(`${report.repository}${i.reference.includes(':') ? '@' : ':'}${i.reference} ${i.digest}`);
      console.log(`wrote ${flags.output}: ${report.manifests} manifest(s), ${report.blobs} blob(s), ${formatBytes(report.bytes)}`);
    });
}
