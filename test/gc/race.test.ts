// Collections running while images are pushed, with a review delay so small that half of the
// pushes' manifests arrive around the moment their blobs become collectable. Those may be
// refused (MANIFEST_BLOB_UNKNOWN: their blobs were collected first), but every image whose
// manifest PUT was acknowledged must pull back whole, now and after later collections. The
// other half send their manifest well within the delay: those must all be accepted.
// A collector that ignores the age of blobs (a plain mark and sweep) fails the second
// condition; one that checks references and deletes in separate steps fails the first.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { makeTempDir, scaleOut, spawnRegistry, startRegistry, type RegistryProcess, type TestRegistry } from '../helpers/registry.js';
import { checkErrorBody, manifestBytes, MediaType, pushBlob, randomBytes, sha256, type Descriptor } from '../helpers/oci.js';
import { rm } from 'node:fs/promises';

// S3 pushes take longer: a longer delay, more pushers in parallel.
const REVIEW_DELAY_MS = scaleOut() ? 4000 : 1000;
/**
 * A manifest sent within this share of the delay after its round began (before its first blob
 * was pushed) is in time: its blobs' links are younger than half the delay when it is checked,
 * however slow the server is, up to half the delay per request.
 */
const IN_TIME = 0.5;
/** In-time rounds needed for the test to mean something. */
const MIN_IN_TIME = 20;
const ROUNDS = 120;
const WORKERS = scaleOut() ? 12 : 8;
const TIME_LIMIT_MS = 40_000;

interface Acked {
  base: string;
  repo: string;
  tag: string;
  blobs: Descriptor[];
}

interface Outcome {
  acked: Acked[];
  refused: number;
  rounds: number;
  /** Manifests sent well within the review delay that were refused (must be none). */
  inTimeRefused: string[];
  inTimeRounds: number;
}

/** WORKERS pushers sharing ROUNDS rounds: blobs first, a pause around the review delay, then the manifest. */
async function pushRounds(bases: string[], stop: () => boolean): Promise<Outcome> {
  const out: Outcome = { acked: [], refused: 0, rounds: 0, inTimeRefused: [], inTimeRounds: 0 };
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
      // Odd rounds: the manifest arrives around the moment the first blob becomes collectable;
      // even ones right away (in time, unless the blob pushes themselves took too long).
      const target = round % 2 === 0 ? t0 : t0 + REVIEW_DELAY_MS * (0.8 + 0.6 * Math.random());
      await sleep(Math.max(0, target - Date.now()));
      const inTime = Date.now() - t0 <= REVIEW_DELAY_MS * IN_TIME;
      if (inTime) out.inTimeRounds++;
      const tag = `r${round}`;
      const manifest = { schemaVersion: 2, mediaType: MediaType.OciManifest, config: cfg, layers: [layer, common] };
      const res = await fetch(`${base}/v2/${repo}/manifests/${tag}`, { method: 'PUT', headers: { 'Content-Type': MediaType.OciManifest }, body: manifestBytes(manifest) });
      const text = await res.text();
      if (res.status === 201) out.acked.push({ base, repo, tag, blobs: [cfg, layer, common] });
      else {
        assert.equal(res.status, 400, text);
        checkErrorBody(text, 'MANIFEST_BLOB_UNKNOWN');
        out.refused++;
        if (inTime) out.inTimeRefused.push(`${repo}:${tag} after ${Date.now() - t0} ms: ${text.slice(0, 200)}`);
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

describe('garbage collection racing pushes', { timeout: 120_000 }, () => {
  const cleanup: (() => Promise<unknown>)[] = [];
  after(async () => {
    for (const c of cleanup.reverse()) await c().catch(() => undefined);
  });

  test(`one collector in a loop, ${ROUNDS} push rounds`, async () => {
    const reg: TestRegistry = await startRegistry({ gc: { reviewDelayMs: REVIEW_DELAY_MS } });
    cleanup.push(() => reg.close());
    const started = Date.now();
    let done = false;
    let collections = 0;
    let deleted = 0;
    const collector = (async () => {
      while (!done && Date.now() - started < TIME_LIMIT_MS) {
        const report = await reg.app.collectGarbage();
        collections++;
        deleted += report.blobsDeleted;
        // SQLite answers synchronously: without a pause this loop would starve the server.
        await sleep(scaleOut() ? 20 : 1);
      }
    })();
    const outcome = await pushRounds([reg.url], () => Date.now() - started > TIME_LIMIT_MS);
    done = true;
    await collector;
    assert.ok(outcome.rounds >= 100, `only ${outcome.rounds} rounds in the time limit`);
    assert.ok(collections >= 10, `only ${collections} collections`);
    assert.ok(deleted > 0, 'the collections deleted nothing');
    assert.ok(outcome.acked.length > 0);
    assert.deepEqual(outcome.inTimeRefused, [], 'blobs pushed moments before their manifest were collected');
    assert.ok(outcome.inTimeRounds >= MIN_IN_TIME, `only ${outcome.inTimeRounds} rounds sent their manifest in time`);
    await checkAll(outcome.acked, [reg.url]);
    // Later collections keep them too.
    await sleep(REVIEW_DELAY_MS * 2);
    await reg.app.collectGarbage();
    await checkAll(outcome.acked, [reg.url]);
    console.log(`# one collector: ${outcome.rounds} rounds (${outcome.inTimeRounds} in time), ${outcome.acked.length} acknowledged, ${outcome.refused} refused, ${collections} collections deleted ${deleted} blobs`);
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
    const outcome = await pushRounds([a.url, b.url], () => Date.now() - started > TIME_LIMIT_MS);
    assert.ok(outcome.rounds >= 100, `only ${outcome.rounds} rounds in the time limit`);
    assert.ok(outcome.acked.length > 0);
    assert.deepEqual(outcome.inTimeRefused, [], 'blobs pushed moments before their manifest were collected');
    assert.ok(outcome.inTimeRounds >= MIN_IN_TIME, `only ${outcome.inTimeRounds} rounds sent their manifest in time`);
    await checkAll(outcome.acked, [a.url, b.url]);
    // The collectors did collect.
    const gone = await fetch(`${b.url}/v2/race/loose/blobs/${loose.digest}`);
    await gone.arrayBuffer();
    assert.equal(gone.status, 404);
    console.log(`# two collectors: ${outcome.rounds} rounds (${outcome.inTimeRounds} in time), ${outcome.acked.length} acknowledged, ${outcome.refused} refused`);
  });
});
