// What the backup tests share: run a CLI command expecting JSON, list a registry's catalog,
// pull images back with skopeo and compare them with what was pushed, run scrub.
import assert from 'node:assert/strict';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { makeTempDir } from '../helpers/registry.js';
import { runCli, type CliResult } from '../helpers/cli.js';
import { hasCommand, run } from '../helpers/exec.js';
import { sha256, type PushedImage } from '../helpers/oci.js';
import type { ScrubReport } from '../../src/registry/scrub.js';

export interface Pushed {
  repo: string;
  tag: string;
  image: PushedImage;
}

export const skopeoInstalled = await hasCommand('skopeo');

export function json<T>(result: CliResult): T {
  assert.equal(result.code, 0, `exit ${result.code}: ${result.stderr}${result.stdout}`);
  return JSON.parse(result.stdout) as T;
}

/** Catalog of a registry, as a client sees it. */
export async function catalog(url: string): Promise<string[]> {
  const res = await fetch(`${url}/v2/_catalog?n=1000`);
  assert.equal(res.status, 200);
  return ((await res.json()) as { repositories: string[] }).repositories;
}

/** Pull every tag of `repos` from `host` with skopeo sync and check each image against what was pushed. */
export async function pullAndCompare(host: string, images: Pushed[], restoredRepos: string[]): Promise<number> {
  const out = await makeTempDir('registry-backup-pull-');
  const env = { REGISTRY_AUTH_FILE: join(out, 'auth.json'), XDG_RUNTIME_DIR: out, HOME: out, TMPDIR: out };
  await writeFile(env.REGISTRY_AUTH_FILE, JSON.stringify({ auths: {} }));
  try {
    for (const repo of [...new Set(images.map((i) => i.repo))].filter((r) => restoredRepos.includes(r))) {
      await run('skopeo', ['--insecure-policy', 'sync', '--retry-times', '0', '--src', 'docker', '--dest', 'dir', '--src-tls-verify=false', '--preserve-digests', `${host}/${repo}`, join(out, repo)], {
        timeoutMs: 120_000,
        env,
      });
    }
    let compared = 0;
    for (const { repo, tag, image } of images) {
      const dir = join(out, repo, `${repo.split('/').pop()}:${tag}`);
      const manifest = await readFile(join(dir, 'manifest.json')).catch(() => undefined);
      if (!manifest) continue;
      assert.ok(manifest.equals(image.bytes), `${repo}:${tag}: manifest byte-identical`);
      for (const blob of [image.config, ...image.layers]) {
        const bytes = await readFile(join(dir, blob.digest.slice('sha256:'.length)));
        assert.equal(sha256(bytes), blob.digest, `${repo}:${tag}: blob ${blob.digest} byte-identical`);
        assert.equal(bytes.length, blob.size);
      }
      compared++;
    }
    return compared;
  } finally {
    await rm(out, { recursive: true, force: true });
  }
}

export async function scrubClean(dataDir: string, env?: Record<string, string>): Promise<ScrubReport> {
  const report = json<ScrubReport>(await runCli({ dataDir }, ['scrub', '--json', '--orphan-grace', '0'], env ? { env } : {}));
  assert.deepEqual(report.badBlobs, []);
  assert.deepEqual(report.brokenManifests, []);
  assert.deepEqual(report.orphanBlobs, []);
  return report;
}

