// `registry gc` and `registry scrub`: run garbage collection or a consistency check against
// the configured stores while the registry keeps serving (no read-only window needed).
import { Command } from 'commander';
import { manifestForgetter } from '../metadata/open.js';
import { withStores } from './stores.js';
import { BlobService } from '../registry/blobs.js';
import { GarbageCollector } from '../registry/gc.js';
import { Scrubber } from '../registry/scrub.js';
import { configFromFlags, withConfigFlags, type ConfigFlags } from './options.js';
import { formatBytes, Progress } from './progress.js';

function nonNegativeInt(value: string, what: string): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < 0) throw new Error(`${what} must be a non-negative integer`);
  return n;
}


interface GcFlags extends ConfigFlags {
  dryRun?: boolean;
  json?: boolean;
  reviewDelay?: string;
  deleteUntagged?: boolean;
  unrecordedScanInterval?: string;
  progress?: boolean;
}

export function gcCommand(): Command {
  return withConfigFlags(new Command('gc').description('delete unreferenced blobs (and optionally untagged manifests) while the registry runs'))
    .option('--dry-run', 'report what would be deleted, delete nothing')
    .option('--json', 'print the report as JSON')
    .option('--review-delay <ms>', 'keep links and manifests younger than this (default: gc.reviewDelayMs)')
    .option('--delete-untagged', 'also delete untagged, unreferenced manifests (default: gc.deleteUntaggedManifests)')
    .option('--unrecorded-scan-interval <ms>', 'list the blob store for unrecorded bytes only when the last listing is older than this (default 0: every run)')
    .option('--no-progress', 'no progress display on stderr')
    .action(async (flags: GcFlags) => {
      const config = configFromFlags(flags);
      const report = await withStores(config, async (store, blobStore, metadata) => {
        const progress = new Progress(process.stderr, flags.progress !== false && !flags.json);
        const service = new BlobService(blobStore, store, { deletesEnabled: true });
        const forget = manifestForgetter(metadata);
        const result = await new GarbageCollector(store.gc(), blobStore).run({
          reviewDelayMs: flags.reviewDelay !== undefined ? nonNegativeInt(flags.reviewDelay, '--review-delay') : config.gc.reviewDelayMs,
          deleteUntaggedManifests: flags.deleteUntagged === true || config.gc.deleteUntaggedManifests,
          // On demand, unlike scheduled runs, the store is listed in full unless asked otherwise.
          unrecordedScanIntervalMs: flags.unrecordedScanInterval !== undefined ? nonNegativeInt(flags.unrecordedScanInterval, '--unrecorded-scan-interval') : 0,
          dryRun: flags.dryRun === true,
          purgeUploads: (ttl) => service.purgeStaleUploads(ttl),
          uploadTtlMs: config.uploads.sessionTtlMs,
          onProgress: (phase, done) => progress.update(phase, done),
          ...(forget ? { onManifestDeleted: forget } : {}),
        });
        progress.end();
        return result;
      });
      if (flags.json) {
        console.log(JSON.stringify(report));
        return;
      }
      const verb = report.dryRun ? 'would delete' : 'deleted';
      console.log(`${report.dryRun ? 'dry run: ' : ''}${verb} ${report.blobsDeleted} blob(s), ${formatBytes(report.bytesFreed)}`);
      console.log(`${verb} ${report.manifestsDeleted} manifest(s), ${report.linksRemoved} blob link(s); purged ${report.uploadsPurged} upload session(s)`);
      if (!report.storeListed) console.log('blob store not listed for unrecorded bytes (the last listing is recent)');
      else if (report.unrecordedDeleted) console.log(`of those, ${report.unrecordedDeleted} blob(s) stored with no blob record`);
      if (report.errors) console.log(`${report.errors} blob(s) could not be deleted (left for the next run)`);
      console.log(`took ${report.durationMs} ms`);
    });
}

interface ScrubFlags extends ConfigFlags {
  json?: boolean;
  orphanGrace?: string;
  quarantine?: boolean;
  progress?: boolean;
}

export function scrubCommand(): Command {
  return withConfigFlags(new Command('scrub').description('re-read every blob, check digests, sizes and manifest references'))
    .option('--json', 'print the report as JSON')
    .option('--quarantine', 'unrecord corrupt or missing blobs (clients see BLOB_UNKNOWN and push again); corrupt and orphaned bytes move to quarantine/')
    .option('--orphan-grace <ms>', 'stored bytes without a record count as orphans only when older than this (default 3600000: pushes in flight)')
    .option('--no-progress', 'no progress display on stderr')
    .action(async (flags: ScrubFlags) => {
      const config = configFromFlags(flags);
      const report = await withStores(config, async (store, blobStore) => {
        const progress = new Progress(process.stderr, flags.progress !== false && !flags.json);
        const result = await new Scrubber(store.gc(), blobStore).run({
          quarantine: flags.quarantine === true,
          ...(flags.orphanGrace !== undefined ? { orphanGraceMs: nonNegativeInt(flags.orphanGrace, '--orphan-grace') } : {}),
          onProgress: (phase, done, total) => progress.update(phase, done, total),
        });
        progress.end();
        return result;
      });
      const problems = report.badBlobs.length + report.brokenManifests.length + report.orphanBlobs.length;
      if (flags.json) console.log(JSON.stringify(report));
      else {
        console.log(`checked ${report.blobsChecked} blob(s) (${formatBytes(report.bytesRead)}) and ${report.manifestsChecked} manifest(s) in ${report.durationMs} ms`);
        for (const b of report.badBlobs) console.log(`blob ${b.digest}: ${b.problem}${b.quarantined ? ' (quarantined)' : ''}`);
        for (const m of report.brokenManifests) console.log(`manifest ${m.repository}@${m.digest}: missing ${m.missing.map((r) => `${r.kind} ${r.digest}`).join(', ')}`);
        for (const o of report.orphanBlobs) console.log(`stored bytes ${o.digest} (${formatBytes(o.size)}, ${o.modifiedAt}): no blob record${o.quarantined ? ' (quarantined)' : ''}`);
        if (problems === 0) console.log('no problems found');
      }
      // Problems found: exit 3 (scripts can tell them from a failure to run, which is 1).
      if (problems > 0) process.exitCode = 3;
    });
}
