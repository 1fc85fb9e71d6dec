// `registry mirror <source-registry> <repository...>`: copy repositories from another registry
// into the configured registry data, fetching only what is missing here.
import { Command } from 'commander';
import { DistributionClient } from '../distribution-client/client.js';
import { mirrorRepositories } from '../transfer/mirror.js';
import { configFromFlags, withConfigFlags, type ConfigFlags } from './options.js';
import { formatBytes, Progress } from './progress.js';
import { withServices } from './stores.js';
import { readStdin } from './user.js';

interface MirrorFlags extends ConfigFlags {
  allTags?: boolean;
  tags?: string;
  referrers?: boolean;
  prefix?: string;
  username?: string;
  passwordStdin?: boolean;
  json?: boolean;
  progress?: boolean;
}

export function mirrorCommand(): Command {
  return withConfigFlags(new Command('mirror').description('copy repositories from another registry into this one (only what is missing here)'))
    .argument('<source>', 'the source registry: host[:port] (https; http for loopback), a URL, or docker.io')
    .argument('<repository...>', 'repositories at the source: name (every tag, or --tags), name:tag or name@digest')
    .option('--all-tags', 'every tag of each bare repository name (the default)')
    .option('--tags <glob>', 'only tags matching this glob (* and ?), e.g. "v1.*"')
    .option('--referrers', 'also copy signatures, SBOMs and other referrers of each image')
    .option('--prefix <namespace>', 'store each repository under this namespace here')
    .option('--username <name>', 'user at the source registry')
    .option('--password-stdin', 'read the source registry password (or token) from standard input')
    .option('--json', 'print the report as JSON')
    .option('--no-progress', 'no progress display on stderr')
    .action(async (source: string, repositories: string[], flags: MirrorFlags) => {
      if (flags.allTags && flags.tags !== undefined) throw new Error('give --all-tags or --tags, not both');
      if (flags.passwordStdin && flags.username === undefined) throw new Error('--password-stdin needs --username');
      const password = flags.passwordStdin ? (await readStdin()).replace(/\r?\n$/, '') : undefined;
      const client = new DistributionClient(source, {
        ...(flags.username !== undefined ? { credentials: { username: flags.username, password: password ?? '' } } : {}),
        userAgent: 'oci-registry-mirror',
      });
      const progress = new Progress(process.stderr, flags.progress !== false && !flags.json);
      const report = await withServices(configFromFlags(flags), (services) =>
        mirrorRepositories(
          client,
          services,
          { repositories, ...(flags.tags !== undefined ? { tags: flags.tags } : {}), referrers: flags.referrers === true, ...(flags.prefix !== undefined ? { prefix: flags.prefix } : {}) },
          (phase, done, total, unit) => progress.update(phase, done, total, unit),
        ),
      ).finally(() => progress.end());
      if (flags.json) console.log(JSON.stringify(report));
      else {
        for (const r of report.repositories) {
          for (const ref of r.references) console.log(`${r.repository}:${ref.reference} ${ref.status}${ref.digest ? ` ${ref.digest}` : ''}${ref.error ? `: ${ref.error}` : ''}`);
        }
        console.log(`copied ${report.manifestsCopied} manifest(s); fetched ${report.blobsFetched} blob(s) (${formatBytes(report.bytesFetched)}), ${report.blobsPresent} already here`);
      }
      if (report.failures > 0) process.exitCode = 1;
    });
}
