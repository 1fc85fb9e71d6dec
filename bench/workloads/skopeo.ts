// A real client end to end: skopeo copies a small OCI layout (a few MiB of gzip'ed tar layers)
// to the registry and back into an empty layout; the pulled manifest digest must match.
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeLayout } from '../lib/oci-layout.js';
import { run } from '../lib/proc.js';
import { fmt, median, mb, measure, serverNotes, type BenchContext, type Measured, type Row } from '../lib/context.js';

export async function skopeo(ctx: BenchContext): Promise<Row[]> {
  const { skopeoLayerSizes: layerSizes, skopeoRuns: runs } = ctx.settings;
  const version = await run('skopeo', ['--version'], { timeoutMs: 10_000 }).catch((err: Error) => {
    throw new Error(`skopeo is not available (scripts/install-test-deps.sh installs it): ${err.message}`);
  });
  const policy = join(ctx.tmp, 'skopeo-policy.json');
  await writeFile(policy, JSON.stringify({ default: [{ type: 'insecureAcceptAnything' }] }));
  const pushes: Measured<unknown>[] = [];
  const pulls: Measured<unknown>[] = [];
  let bytes = 0;
  for (let i = 0; i < runs; i++) {
    // Fresh contents per run, so neither the registry nor skopeo's blob cache has seen them
    // (the same contents for both targets of a round).
    const layout = await writeLayout(join(ctx.tmp, `skopeo-src-${ctx.target}-${ctx.round}-${i}`), `skopeo-${process.pid}-${ctx.round}-${i}`, layerSizes);
    bytes = layout.totalBytes;
    const ref = `docker://${ctx.registry.host}/bench/skopeo-${ctx.round}-${i}:latest`;
    const copy = async (args: string[], what: string) => {
      const r = await run('skopeo', ['copy', '--quiet', '--policy', policy, ...args], { timeoutMs: 120_000 });
      if (r.code !== 0) throw new Error(`skopeo ${what} failed (${r.code}): ${r.stderr.slice(-800)}`);
    };
    ctx.log(`skopeo: push ${i + 1}/${runs} (${mb(layout.totalBytes)} MB, ${layout.layers} layers)`);
    pushes.push(await measure(ctx.registry, () => copy(['--dest-tls-verify=false', `oci:${layout.dir}:latest`, ref], 'push')));
    const dest = join(ctx.tmp, `skopeo-dst-${ctx.target}-${ctx.round}-${i}`);
    ctx.log(`skopeo: pull ${i + 1}/${runs}`);
    pulls.push(await measure(ctx.registry, () => copy(['--src-tls-verify=false', ref, `oci:${dest}:latest`], 'pull')));
    const index = JSON.parse(await readFile(join(dest, 'index.json'), 'utf8')) as { manifests: { digest: string }[] };
    if (index.manifests[0]?.digest !== layout.manifestDigest) {
      throw new Error(`skopeo pulled manifest ${index.manifests[0]?.digest}, pushed ${layout.manifestDigest}`);
    }
  }
  const row = (what: string, ms: Measured<unknown>[]): Row => {
    const times = ms.map((m) => m.seconds);
    return {
      workload: `skopeo copy ${what} (${layerSizes.length} layers, ${mb(bytes)} MB)`,
      value: median(times),
      unit: 's',
      notes: `${ms.length > 1 ? `median of ${ms.length}: ${times.map(fmt).join(', ')} s; ` : ''}${serverNotes(ms[ms.length - 1]!)}; ${version.stdout.trim()}`,
    };
  };
  return [row('push, OCI layout -> registry', pushes), row('pull, registry -> OCI layout', pulls)];
}
