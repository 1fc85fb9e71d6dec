// A rolling upgrade: nodes of an older release (built here from the project's git history) and
// of this one serve the same metadata and blobs at once. The newer node migrates the schema
// forward (migrations only expand it), the older node keeps serving on it, and images pushed
// through either pull back whole through the other. Then this version starts on a schema that
// a still newer release expanded (it must not refuse to start during the next upgrade).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, rm, symlink } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { sql, type Kysely } from 'kysely';
import { loadConfig, merge } from '../../src/config/load.js';
import { openSqlStore } from '../../src/metadata/open.js';
import { backendSettings, makeTempDir, spawnRegistry, type RegistryProcess } from '../helpers/registry.js';
import { run } from '../helpers/exec.js';
import { MediaType, pushImage, sha256, type PushedImage } from '../helpers/oci.js';

/** The release before the retention, vulnerability, signing and scan schema (migrations up to 0030). */
const OLD_RELEASE = '3fa1157';
const ROOT = resolve(process.cwd());

async function oldReleaseAvailable(): Promise<boolean> {
  try {
    await run('git', ['-C', ROOT, 'cat-file', '-e', `${OLD_RELEASE}^{commit}`]);
    return true;
  } catch {
    return false;
  }
}

const SKIP = (await oldReleaseAvailable()) ? false : `commit ${OLD_RELEASE} is not in this clone's history (a shallow clone); the rolling-upgrade test needs it`;

async function pullsWhole(base: string, repo: string, image: PushedImage): Promise<void> {
  const res = await fetch(`${base}/v2/${repo}/manifests/${image.digest}`, { headers: { Accept: MediaType.OciManifest } });
  assert.equal(res.status, 200, `${base} ${repo}@${image.digest}`);
  assert.equal(sha256(Buffer.from(await res.arrayBuffer())), image.digest);
  for (const d of [image.config, ...image.layers]) {
    const blob = await fetch(`${base}/v2/${repo}/blobs/${d.digest}`);
    assert.equal(sha256(Buffer.from(await blob.arrayBuffer())), d.digest);
  }
}

describe('rolling upgrade', { skip: SKIP }, () => {
  let dir: string;
  let oldCli: string;
  const nodes: RegistryProcess[] = [];
  before(async () => {
    dir = await makeTempDir('registry-upgrade-');
    // The old release's sources, compiled with this checkout's dependencies (a superset).
    const oldRoot = join(dir, 'old');
    await mkdir(oldRoot);
    await run('bash', ['-c', `git -C "${ROOT}" archive ${OLD_RELEASE} | tar -x -C "${oldRoot}"`], { timeoutMs: 60_000 });
    await symlink(join(ROOT, 'node_modules'), join(oldRoot, 'node_modules'));
    await run(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', join(oldRoot, 'tsconfig.json')], { timeoutMs: 240_000 });
    oldCli = join(oldRoot, 'dist/src/cli/main.js');
  });
  after(async () => {
    for (const n of nodes) await n.kill('SIGTERM').catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
  });

  test('old and new nodes serve the same data at once; images cross between them', { timeout: 300_000 }, async () => {
    const data = join(dir, 'data');
    const old = await spawnRegistry(data, 0, {}, false, oldCli);
    nodes.push(old);
    const before = await pushImage(old.url, 'upgrade/app', { reference: 'v1', layers: 2 });

    // The new release starts beside it and migrates the schema forward.
    const current = await spawnRegistry(data, 0);
    nodes.push(current);
    const after = await pushImage(current.url, 'upgrade/app', { reference: 'v2' });
    const fromOld = await pushImage(old.url, 'upgrade/other', { reference: 'v1' });

    for (const node of [old, current]) {
      await pullsWhole(node.url, 'upgrade/app', before);
      await pullsWhole(node.url, 'upgrade/app', after);
      await pullsWhole(node.url, 'upgrade/other', fromOld);
      const tags = (await (await fetch(`${node.url}/v2/upgrade/app/tags/list`)).json()) as { tags: string[] };
      assert.deepEqual(tags.tags, ['v1', 'v2']);
    }
    // The old node is replaced: the new release serves everything alone.
    await old.kill('SIGTERM');
    await pullsWhole(current.url, 'upgrade/other', fromOld);
  });

  test('this release starts on a schema a newer release has expanded', async () => {
    const data = join(dir, 'data');
    for (const n of nodes) await n.kill('SIGTERM');
    // What a newer release would have done: one more (expanding) migration.
    const config = loadConfig({ env: {}, overrides: merge(await backendSettings(data), { storage: { filesystem: { root: data } } }) });
    const store = await openSqlStore(config, { migrate: false });
    const db = (store as unknown as { db: Kysely<unknown> }).db;
    await sql`create table future_feature (id varchar(64) primary key)`.execute(db);
    await sql`insert into kysely_migration (name, timestamp) values ('9990_future_feature', ${new Date().toISOString()})`.execute(db);
    await store.close();

    const restarted = await spawnRegistry(data, 0);
    nodes.push(restarted);
    const image = await pushImage(restarted.url, 'upgrade/app', { reference: 'v3' });
    await pullsWhole(restarted.url, 'upgrade/app', image);
  });
});
