// Collections running while images are pushed.
// - Boundary rounds: the review delay is so small that manifests arrive around the moment their
//   blobs become collectable. They may be refused (MANIFEST_BLOB_UNKNOWN: their blobs were
//   collected first), but every image whose manifest PUT was acknowledged must pull back whole,
//   now and after later collections. A collector that checks references and deletes in
//   separate steps fails this.
// - In-time rounds: manifests sent right after their blobs, well within the review delay,
//   while a collector runs in a loop: every one must be accepted. A collector that ignores the
//   age of blobs (a plain mark and sweep) fails this.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { makeTempDir, scaleOut, spawnRegistry, startRegistry, type RegistryProcess, type TestRegistry } from '../helpers/registry.js';
import { checkErrorBody, manifestBytes, MediaType, pushBlob, randomBytes, sha256, type Descriptor } from '../helpers/oci.js';
import { rm } from 'node:fs/promises';

// S3 pushes take longer: a longer delay, more pushers in parallel.
const REVIEW_DELAY_MS = scaleOut() ? 1500 : 600;
/** For in-time rounds: far above the time a push of a few small blobs takes, even on a busy machine. */
const LONG_REVIEW_DELAY_MS = 15_000;
const ROUNDS = 120;
const WORKERS = scaleOut() ? 16 : 8;
// Generous on S3, whose pushes are slower; a quiet machine needs about 40 s there.
const TIME_LIMIT_MS = scaleOut() ? 100_000 : 40_000;

interface Acked {
  base: string;
  repo: string;
  tag: string;
  blobs: Descriptor[];
}

interface Outcome {
  acked: Acked[];
  /** Refused manifest PUTs: `repo:tag after N ms: error`. */
  refused: string[];
  rounds: number;
}

/**
 * WORKERS pushers sharing ROUNDS rounds: blobs first, then (boundary) a pause around the review
 * delay or (in time) no pause, then the manifest.
 */
async function pushRounds(bases: string[], stop: () => boolean, timing: 'boundary' | 'in-time'): Promise<Outcome> {
  const out: Outcome = { acked: [], refused: [], rounds: 0 };
  let next = 0;
  const worker = async (w: number) => {
    while (!stop()) {
      const round = next++;
      if (round >= ROUNDS) return;
      const base = bases[round % bases.length]!;
      const repo = `race/w${w}`;
      const t0 = Date.now();
      const cfg = await pushBlob(base, repo, randomBytes(40), MediaType.OciConfig);
      const layer = await pushBlob(base, repo, randomBytes(300));
      // Some blobs no manifest ever references: there is always garbage to collect.
      if (round % 3 === 0) await pushBlob(base, repo, randomBytes(100));
      // Shared by every round: re-pushed while collections may be deleting it.
      const common = await pushBlob(base, repo, Buffer.from('a layer every image has'));
      // Boundary: the manifest arrives around the moment the first blob becomes collectable.
      if (timing === 'boundary') await sleep(Math.max(0, t0 + REVIEW_DELAY_MS * (0.3 + Math.random()) - Date.now()));
      const tag = `r${round}`;
      const manifest = { schemaVersion: 2, mediaType: MediaType.OciManifest, config: cfg, layers: [layer, common] };
      const res = await fetch(`${base}/v2/${repo}/manifests/${tag}`, { method: 'PUT', headers: { 'Content-Type': MediaType.OciManifest }, body: manifestBytes(manifest) });
      const text = await res.text();
      if (res.status === 201) out.acked.push({ base, repo, tag, blobs: [cfg, layer, common] });
      else {
        assert.equal(res.status, 400, text);
        checkErrorBody(text, 'MANIFEST_BLOB_UNKNOWN');
        out.refused.push(`${repo}:${tag} after ${Date.now() - t0} ms: ${text.slice(0, 200)}`);
      }
      out.rounds++;
    }
  };
  await Promise.all(Array.from({ length: WORKERS }, (_, w) => worker(w)));
  return out;
}

/** Every acknowledged image pulls back whole, from any of the registries. */
async function checkAll(acked: Acked[], bases: string[]): Promise<void> {
  // Eight at a time: the check must stay well inside the test's time bound on S3 too.
  const queue = [...acked.entries()];
  await Promise.all(Array.from({ length: 8 }, async () => {
    for (let item = queue.shift(); item; item = queue.shift()) await checkOne(item[1], bases[item[0] % bases.length]!);
  }));
}

async function checkOne(a: Acked, base: string): Promise<void> {
  {
    const res = await fetch(`${base}/v2/${a.repo}/manifests/${a.tag}`, { headers: { Accept: MediaType.OciManifest } });
    assert.equal(res.status, 200, `${a.repo}:${a.tag}: ${await res.clone().text()}`);
    await res.arrayBuffer();
    for (const b of a.blobs) {
      const blob = await fetch(`${base}/v2/${a.repo}/blobs/${b.digest}`);
      const bytes = Buffer.from(await blob.arrayBuffer());
      assert.equal(blob.status, 200, `${a.repo}:${a.tag} blob ${b.digest}: ${bytes.toString().slice(0, 200)}`);
      assert.equal(sha256(bytes), b.digest);
      assert.equal(bytes.length, b.size);
    }
  }
}

/** Collect in a loop until stopped; counts collections and blobs deleted. */
function collectInLoop(reg: TestRegistry, stop: () => boolean) {
  const stats = { collections: 0, deleted: 0 };
  const done = (async () => {
    while (!stop()) {
      const report = await reg.app.collectGarbage();
      stats.collections++;
      stats.deleted += report.blobsDeleted;
      // SQLite answers synchronously: without a pause this loop would starve the server.
      await sleep(scaleOut() ? 20 : 1);
    }
  })();
  return { stats, done };
}

describe('garbage collection racing pushes', { timeout: 600_000 }, () => {
  const cleanup: (() => Promise<unknown>)[] = [];
  after(async () => {
    for (const c of cleanup.reverse()) await c().catch(() => undefined);
  });

  test(`one collector in a loop, ${ROUNDS} push rounds whose manifests arrive as their blobs become collectable`, async () => {
    const reg: TestRegistry = await startRegistry({ gc: { reviewDelayMs: REVIEW_DELAY_MS } });
    cleanup.push(() => reg.close());
    const started = Date.now();
    let finished = false;
    const collector = collectInLoop(reg, () => finished || Date.now() - started > TIME_LIMIT_MS);
    const outcome = await pushRounds([reg.url], () => Date.now() - started > TIME_LIMIT_MS, 'boundary');
    finished = true;
    await collector.done;
    const { collections, deleted } = collector.stats;
    assert.ok(outcome.rounds >= 100, `only ${outcome.rounds} rounds in the time limit`);
    // Collections on S3 are slower (each S3 request of a run waits on the shared RGW): CI counted 13-25.
    assert.ok(collections >= (scaleOut() ? 5 : 10), `only ${collections} collections`);
    assert.ok(deleted > 0, 'the collections deleted nothing');
    assert.ok(outcome.acked.length > 0);
    await checkAll(outcome.acked, [reg.url]);
    // Later collections keep them too.
    await sleep(REVIEW_DELAY_MS * 2);
    await reg.app.collectGarbage();
    await checkAll(outcome.acked, [reg.url]);
    console.log(`# one collector: ${outcome.rounds} rounds, ${outcome.acked.length} acknowledged, ${outcome.refused.length} refused, ${collections} collections deleted ${deleted} blobs`);
  });

  test(`two collectors on the same data (two registry processes), ${ROUNDS} push rounds`, async () => {
    const dir = await makeTempDir('registry-gc-race-');
    cleanup.push(() => rm(dir, { recursive: true, force: true }));
    // Each process collects on its own schedule, every few milliseconds.
    const env = { REGISTRY_GC_INTERVAL_MS: '5', REGISTRY_GC_REVIEW_DELAY_MS: String(REVIEW_DELAY_MS) };
    const a: RegistryProcess = await spawnRegistry(dir, 0, env);
    cleanup.push(() => a.kill());
    const b: RegistryProcess = await spawnRegistry(dir, 0, env);
    cleanup.push(() => b.kill());
    const loose = await pushBlob(a.url, 'race/loose', randomBytes(50));
    const started = Date.now();
    const outcome = await pushRounds([a.url, b.url], () => Date.now() - started > TIME_LIMIT_MS, 'boundary');
    assert.ok(outcome.rounds >= 100, `only ${outcome.rounds} rounds in the time limit`);
    assert.ok(outcome.acked.length > 0);
    await checkAll(outcome.acked, [a.url, b.url]);
    // The collectors did collect.
    const gone = await fetch(`${b.url}/v2/race/loose/blobs/${loose.digest}`);
    await gone.arrayBuffer();
    assert.equal(gone.status, 404);
    console.log(`# two collectors: ${outcome.rounds} rounds, ${outcome.acked.length} acknowledged, ${outcome.refused.length} refused`);
  });

  test(`blobs pushed moments before their manifest are never collected (${ROUNDS} rounds, a collector in a loop)`, async () => {
    const reg: TestRegistry = await startRegistry({ gc: { reviewDelayMs: LONG_REVIEW_DELAY_MS } });
    cleanup.push(() => reg.close());
    const started = Date.now();
    let finished = false;
    const collector = collectInLoop(reg, () => finished || Date.now() - started > TIME_LIMIT_MS);
    const outcome = await pushRounds([reg.url], () => Date.now() - started > TIME_LIMIT_MS, 'in-time');
    finished = true;
    await collector.done;
    assert.ok(outcome.rounds >= 100, `only ${outcome.rounds} rounds in the time limit`);
    assert.ok(collector.stats.collections >= 10, `only ${collector.stats.collections} collections`);
    assert.deepEqual(outcome.refused, [], 'blobs pushed moments before their manifest were collected');
    await checkAll(outcome.acked, [reg.url]);
    console.log(`# in time: ${outcome.rounds} rounds, all acknowledged, ${collector.stats.collections} collections`);
  });
});
