// `registry retention list|run`: show the retention policies, and apply them now (all enabled
// ones, a namespace's, or one) with --dry-run to see what would go. Removals are audited.
import { Command } from 'commander';
import { pino } from 'pino';
import { Auditor } from '../auth/audit.js';
import { manifestForgetter } from '../metadata/open.js';
import { RetentionService, type RetentionReport } from '../registry/retention.js';
import { configFromFlags, withConfigFlags, type ConfigFlags } from './options.js';
import { withStores } from './stores.js';

interface ListFlags extends ConfigFlags {
  namespace?: string;
  json?: boolean;
}

interface RunFlags extends ListFlags {
  policy?: string;
  dryRun?: boolean;
}

function printReport(r: RetentionReport): void {
  const verb = r.dryRun ? 'would remove' : 'removed';
  console.log(`policy ${r.policy} (${r.namespace}): ${r.repositories} repositories, ${verb} ${r.tagsRemoved} tag(s) and ${r.manifestsRemoved} manifest(s), kept ${r.tagsKept} tag(s)`);
  for (const t of r.removedTags) console.log(`  ${r.dryRun ? 'would remove' : 'removed'} ${t.repository}:${t.tag} (${t.digest}): ${t.reason}`);
  for (const m of r.removedManifests) console.log(`  ${r.dryRun ? 'would remove' : 'removed'} ${m.repository}@${m.digest}: untagged`);
  for (const t of r.immutableKept) console.log(`  kept ${t.repository}:${t.tag}: ${t.reason}`);
}

export function retentionCommand(): Command {
  const command = new Command('retention').description('retention policies: list them, or apply them now');
  command.addCommand(
    withConfigFlags(new Command('list').description('list retention policies'))
      .option('--namespace <name>', 'only this namespace')
      .option('--json', 'print JSON')
      .action(async (flags: ListFlags) => {
        const policies = await withStores(configFromFlags(flags), (store) => store.retention().listPolicies(flags.namespace));
        if (flags.json) {
          console.log(JSON.stringify(policies));
          return;
        }
        if (policies.length === 0) console.log('no retention policies');
        for (const p of policies) {
          const last = p.lastRun ? `last run ${p.lastRun.at}: ${p.lastRun.tagsRemoved} tag(s), ${p.lastRun.manifestsRemoved} manifest(s) removed` : 'never run';
          console.log(`${p.id}  ${p.namespace}/${p.repositories}  ${JSON.stringify(p.rules)}  ${p.enabled ? 'enabled' : 'disabled'}  ${last}`);
        }
      }),
  );
  command.addCommand(
    withConfigFlags(new Command('run').description('apply retention policies now (enabled ones unless --policy names one)'))
      .option('--namespace <name>', 'only the policies of this namespace')
      .option('--policy <id>', 'only this policy (also when disabled)')
      .option('--dry-run', 'report what would be removed, remove nothing')
      .option('--json', 'print the reports as JSON')
      .action(async (flags: RunFlags) => {
        const config = configFromFlags(flags);
        const reports = await withStores(config, async (store, _blobs, metadata) => {
          const auditor = new Auditor(store.access(), pino({ level: 'silent' }));
          const forget = manifestForgetter(metadata);
          const service = new RetentionService(store.retention(), metadata, store.gc(), {
            untaggedGraceMs: config.retention.untaggedGraceMs,
            immutableRules: (namespace) => store.policies().listImmutableRules(namespace),
            audit: (event) => auditor.record(event),
            ...(forget ? { onManifestDeleted: forget } : {}),
          });
          const policies = (await service.store.listPolicies(flags.namespace)).filter((p) => (flags.policy !== undefined ? p.id === flags.policy : p.enabled));
          if (flags.policy !== undefined && policies.length === 0) throw new Error(`no retention policy ${flags.policy}${flags.namespace ? ` in namespace ${flags.namespace}` : ''}`);
          const out: RetentionReport[] = [];
          for (const policy of policies) out.push(await service.run(policy, { dryRun: flags.dryRun === true, actor: 'retention', trigger: 'manual' }));
          return out;
        });
        if (flags.json) console.log(JSON.stringify(reports));
        else if (reports.length === 0) console.log('no enabled retention policies');
        else reports.forEach(printReport);
      }),
  );
  return command;
}
