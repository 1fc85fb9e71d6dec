// `registry replicate [--rule id] [--dry-run]`: run replication rules now, in this process (the
// given rule, or every enabled one), with progress on stderr; each run goes into the rule's
// history as a manual run (a dry run only reports what would be copied).
import { Command } from 'commander';
import { pino } from 'pino';
import { ReplicationService, type RuleReport } from '../replication/service.js';
import { TargetPolicy } from '../events/targets.js';
import { configFromFlags, withConfigFlags, type ConfigFlags } from './options.js';
import { formatBytes, Progress } from './progress.js';
import { withServices } from './stores.js';

interface ReplicateFlags extends ConfigFlags {
  rule?: string;
  dryRun?: boolean;
  json?: boolean;
  progress?: boolean;
}

function summary(report: RuleReport): string {
  const verb = report.direction === 'push' ? 'sent' : 'fetched';
  const would = report.dryRun ? 'would have ' : '';
  return `${would}copied ${report.manifests} manifest(s); ${would}${verb} ${report.blobs} blob(s) (${formatBytes(report.bytes)}), ${report.blobsPresent} already there`;
}

export function replicateCommand(): Command {
  return withConfigFlags(new Command('replicate').description('run replication rules now (the given rule, or every enabled one)'))
    .option('--rule <id>', 'only this rule')
    .option('--dry-run', 'only report what would be copied')
    .option('--json', 'print the results as JSON')
    .option('--no-progress', 'no progress display on stderr')
    .action(async (flags: ReplicateFlags) => {
      const config = configFromFlags(flags);
      const progress = new Progress(process.stderr, flags.progress !== false && !flags.json);
      const results = await withServices(config, async (services, store) => {
        const replication = new ReplicationService(store.replication(), services, {
          ...config.replication,
          work: false,
          targets: new TargetPolicy(config.replication.allowedHosts, undefined, 'replication.allowedHosts'),
          logger: pino({ level: 'silent' }),
        });
        let rules;
        if (flags.rule !== undefined) {
          const rule = await replication.store.getRule(flags.rule);
          if (!rule) throw new Error(`no replication rule ${flags.rule}`);
          rules = [rule];
        } else rules = await replication.store.listEnabledRules();
        const out = [];
        for (const rule of rules) {
          const { run, report } = await replication.runNow(rule, { ...(flags.dryRun ? { dryRun: true } : {}), onProgress: (phase, done, total, unit) => progress.update(phase, done, total, unit) });
          progress.end();
          out.push({ rule: { id: rule.id, direction: rule.direction, remote: rule.remoteUrl }, ...(run ? { run: { id: run.id, state: run.state } } : {}), report });
        }
        return out;
      }).finally(() => progress.end());
      if (flags.json) console.log(JSON.stringify({ rules: results }));
      else {
        if (results.length === 0) console.log('no enabled replication rules');
        for (const { rule, run, report } of results) {
          console.log(`rule ${rule.id} (${rule.direction} ${rule.remote})${run ? `: ${run.state}` : ''}`);
          for (const r of report.repositories) {
            for (const ref of r.references) console.log(`  ${r.repository}:${ref.reference} ${ref.status}${ref.digest ? ` ${ref.digest}` : ''}${ref.error ? `: ${ref.error}` : ''}`);
          }
          console.log(`  ${summary(report)}`);
        }
      }
      if (results.some((r) => r.report.failures > 0)) process.exitCode = 1;
    });
}
