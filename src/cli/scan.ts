// `registry scan`: scan one image now and print what it holds and what is vulnerable
// (`image`), queue every image for the workers (`all`), and show the queue (`queue`).
import { Command } from 'commander';
import { pino } from 'pino';
import type { ScanResultRecord } from '../metadata/scan-store.js';
import { ScanService } from '../scan/service.js';
import { imageContent } from '../registry/image-content.js';
import type { Finding } from '../scan/vuln/match.js';
import type { LinkRow } from '../metadata/sql-gc-store.js';
import { configFromFlags, withConfigFlags, type ConfigFlags } from './options.js';
import { Progress } from './progress.js';
import { withStores } from './stores.js';

interface ScanFlags extends ConfigFlags {
  json?: boolean;
  progress?: boolean;
}

const PAGE = 500;

function withScanService<T>(flags: ConfigFlags, fn: (service: ScanService, listManifests: (limit: number, after?: LinkRow) => Promise<LinkRow[]>) => Promise<T>): Promise<T> {
  const config = configFromFlags(flags);
  return withStores(config, (store, blobs, metadata) =>
    fn(new ScanService(store.scans(), store.vulns(), blobs, metadata, { workers: 0, leaseMs: 60_000, pollMs: 1_000, rematchCheckMs: 60_000, maxLayerBytes: config.scan.maxLayerBytes, logger: pino({ level: 'silent' }) }), (limit, after) =>
      store.gc().listManifests(limit, after),
    ),
  );
}

function printResult(r: ScanResultRecord): void {
  if (r.status !== 'done') {
    console.log(`${r.repository}@${r.digest}: ${r.status}${r.error ? ` (${r.error})` : ''}`);
    return;
  }
  const v = r.summary.vulnerabilities;
  console.log(`${r.repository}@${r.digest}: ${r.summary.os ?? 'unknown OS'}, ${r.summary.packages} packages`);
  console.log(`vulnerabilities: ${v.CRITICAL} critical, ${v.HIGH} high, ${v.MEDIUM} medium, ${v.LOW} low, ${v.UNKNOWN} unknown (database version ${r.vulndbVersion})`);
  for (const f of JSON.parse(r.findings ?? '[]') as Finding[]) {
    const cves = f.aliases.length ? ` (${f.aliases.join(', ')})` : '';
    console.log(`  ${f.severity.padEnd(8)} ${f.id}${cves}  ${f.package} ${f.installedVersion}${f.fixedVersion ? ` -> ${f.fixedVersion}` : ' (no fix)'}  ${f.path}`);
  }
}

export function scanCommand(): Command {
  const command = new Command('scan').description('vulnerability scans: scan an image now, queue all images, show the queue');
  command.addCommand(
    withConfigFlags(new Command('image').description('scan an image now (in this process) and print its packages and findings'))
      .argument('<repository>', 'repository name')
      .argument('<reference>', 'tag or digest (an index: each platform)')
      .option('--json', 'print the results as JSON')
      .action(async (repository: string, reference: string, flags: ScanFlags) => {
        const results = await withScanService(flags, async (service) => {
          const record = await service.manifest(repository, reference);
          if (!record) throw new Error(`no manifest ${repository}:${reference}`);
          const out: ScanResultRecord[] = [];
          const content = imageContent(record.content);
          const digests = content.kind === 'index' ? content.children : [record.digest];
          for (const d of digests) out.push(await service.scan(repository, d));
          return out;
        });
        if (flags.json) console.log(JSON.stringify(results.map((r) => ({ ...r, inventory: r.inventory ? JSON.parse(r.inventory) : null, findings: r.findings ? JSON.parse(r.findings) : null }))));
        else results.forEach(printResult);
      }),
  );
  command.addCommand(
    withConfigFlags(new Command('all').description('queue a scan of every image in every repository (the registry\'s workers run them)'))
      .option('--json', 'print the count as JSON')
      .option('--no-progress', 'no progress display on stderr')
      .action(async (flags: ScanFlags) => {
        const progress = new Progress(process.stderr, flags.progress !== false && !flags.json);
        const counts = await withScanService(flags, async (service, listManifests) => {
          let manifests = 0;
          let queued = 0;
          let after: LinkRow | undefined;
          for (;;) {
            const page = await listManifests(PAGE, after);
            for (const m of page) {
              queued += (await service.enqueue(m.repository, m.digest, 'rescan')).length;
              progress.update('manifests', ++manifests);
            }
            if (page.length < PAGE) break;
            after = page[page.length - 1];
          }
          progress.end();
          return { manifests, queued };
        });
        if (flags.json) console.log(JSON.stringify(counts));
        else console.log(`queued ${counts.queued} image scan(s) from ${counts.manifests} manifest(s)`);
      }),
  );
  command.addCommand(
    withConfigFlags(new Command('queue').description('scan jobs waiting and running, and the vulnerability database version'))
      .option('--json', 'print JSON')
      .action(async (flags: ScanFlags) => {
        const { queue, db } = await withScanService(flags, async (service) => ({ queue: await service.store.queueStats(), db: await service.vulnState() }));
        if (flags.json) console.log(JSON.stringify({ queue, vulnerabilityDatabase: db }));
        else {
          console.log(`${queue.queued} queued (${queue.retrying} to be retried), ${queue.running} running${queue.oldestEnqueuedAt ? `, oldest queued ${queue.oldestEnqueuedAt.toISOString()}` : ''}`);
          console.log(`vulnerability database version ${db.version}, ${db.advisories} advisories`);
        }
      }),
  );
  return command;
}
