// `registry promote <source-repository>:<tag>|@<digest> <target-repository>[:<tag>] [--move]`:
// copy an image with its platforms and referrers to another repository on this registry
// without copying bytes, through the same rules as the API (the target's immutable tags and
// quotas). Runs against the configured stores as the operator; audited as `cli`.
import { Command } from 'commander';
import { pino } from 'pino';
import { Auditor } from '../auth/audit.js';
import { BlobService } from '../registry/blobs.js';
import { ManifestService } from '../registry/manifests.js';
import { NamespacePolicies } from '../registry/policies.js';
import { PromotionService } from '../registry/promotion.js';
import { configFromFlags, withConfigFlags, type ConfigFlags } from './options.js';
import { withStores } from './stores.js';

interface PromoteFlags extends ConfigFlags {
  move?: boolean;
  json?: boolean;
}

/** `repo:tag`, `repo@sha256:...` or `repo` (then `defaultTag`). */
export function splitReference(value: string, defaultTag?: string): { repository: string; reference?: string } {
  const at = value.indexOf('@');
  if (at > 0) return { repository: value.slice(0, at), reference: value.slice(at + 1) };
  const colon = value.lastIndexOf(':');
  if (colon > value.lastIndexOf('/')) return { repository: value.slice(0, colon), reference: value.slice(colon + 1) };
  return { repository: value, ...(defaultTag !== undefined ? { reference: defaultTag } : {}) };
}

export function promoteCommand(): Command {
  return withConfigFlags(new Command('promote').description('copy (or move) an image with its platforms and referrers to another repository, sharing its blobs'))
    .argument('<source>', 'repository:tag or repository@digest')
    .argument('<target>', 'repository or repository:tag (default: the source tag)')
    .option('--move', 'also delete the source tag')
    .option('--json', 'print the result as JSON')
    .action(async (sourceArg: string, targetArg: string, flags: PromoteFlags) => {
      const source = splitReference(sourceArg);
      if (source.reference === undefined) throw new Error('the source needs a tag or digest (repository:tag or repository@digest)');
      const target = splitReference(targetArg);
      const config = configFromFlags(flags);
      const result = await withStores(config, async (store, blobStore, metadata) => {
        const policies = new NamespacePolicies(store.policies());
        const blobs = new BlobService(blobStore, metadata, { deletesEnabled: config.deletes.enabled }, policies);
        const manifests = new ManifestService(metadata, { deletesEnabled: config.deletes.enabled }, policies);
        const promoted = await new PromotionService(metadata, blobs, manifests).promote({
          sourceRepository: source.repository,
          reference: source.reference!,
          targetRepository: target.repository,
          ...(target.reference !== undefined ? { targetTag: target.reference } : {}),
          move: flags.move === true,
          actor: 'cli',
        });
        const auditor = new Auditor(store.access(), pino({ level: 'silent' }));
        await auditor.record({ actor: 'cli', action: 'promote', repository: promoted.targetRepository, reference: promoted.targetTag, digest: promoted.digest, detail: { source: { repository: source.repository, reference: source.reference }, move: promoted.moved } });
        await policies.flush();
        return promoted;
      });
      if (flags.json) console.log(JSON.stringify(result));
      else console.log(`${flags.move ? 'moved' : 'promoted'} ${source.repository}@${result.digest} to ${result.targetRepository}${result.targetTag ? `:${result.targetTag}` : ''}: ${result.manifests.length} manifest(s), ${result.blobs} blob(s) linked${result.tags.length ? `, tags ${result.tags.join(', ')}` : ''}`);
    });
}
