// Scheduled collections list the whole blob store (looking for bytes a crash left unrecorded)
// only every gc.unrecordedScanIntervalMs, counted across the collectors sharing the metadata
// database (SQLite + filesystem, or PostgreSQL + S3 with TEST_BACKEND=scaleout).
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { startRegistry, type TestRegistry } from '../helpers/registry.js';
import { randomBytes } from '../helpers/oci.js';
import { storeUnrecorded } from '../helpers/blob-store.js';
import { scrape } from '../helpers/metrics.js';
import type { Digest } from '../../src/registry/digest.js';
import { GarbageCollector, type GcOptions } from '../../src/registry/gc.js';
import { openSqlStore } from '../../src/metadata/open.js';
import type { SqlMetadataStore } from '../../src/metadata/sql-store.js';
import type { BlobStore } from '../../src/storage/blob-store.js';

/** Past the review delay of these tests. */
const REVIEW_DELAY_MS = 50;

async function stored(store: BlobStore, digest: Digest): Promise<boolean> {
  return (await store.stat(digest)) !== undefined;
}

/** The blob store, counting the listings made through it. */
function countingListings(store: BlobStore): { store: BlobStore; listings(): number } {
  let listings = 0;
  const counting = new Proxy(store, {
    get(target, property) {
      if (property === 'listBlobs') {
        return () => {
          listings++;
          return target.listBlobs();
        };
      }
      const value: unknown = Reflect.get(target, property);
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
  return { store: counting, listings: () => listings };
}

describe('periodic listing of the blob store for unrecorded bytes', () => {
  const cleanup: (() => Promise<unknown>)[] = [];
  after(async () => {
    for (const fn of cleanup.reverse()) await fn();
  });

  async function registry(settings: Record<string, unknown> = {}): Promise<TestRegistry> {
    const reg = await startRegistry({ gc: { reviewDelayMs: REVIEW_DELAY_MS, ...settings } });
    cleanup.push(() => reg.close());
    return reg;
  }

  /** A collector of its own (another node of a cluster): its own database connection, a counted blob store. */
  async function node(reg: TestRegistry): Promise<{ collector: GarbageCollector; listings(): number }> {
    const store: SqlMetadataStore = await openSqlStore(reg.app.config);
    cleanup.push(() => store.close());
    const blobs = countingListings(reg.app.blobStore);
    return { collector: new GarbageCollector(store.gc(), blobs.store), listings: blobs.listings };
  }

  test('two nodes: one listing per interval between them; unrecorded bytes are collected when it is due', async () => {
    const INTERVAL_MS = 4_000;
    const options: GcOptions = { reviewDelayMs: REVIEW_DELAY_MS, deleteUntaggedManifests: false, unrecordedScanIntervalMs: INTERVAL_MS };
    const reg = await registry();
    const blobs = reg.app.blobStore;
    const [a, b] = [await node(reg), await node(reg)];

    const first = await storeUnrecorded(blobs, randomBytes(900));
    await sleep(REVIEW_DELAY_MS + 20);
    const listedAt = Date.now();
    let report = await a.collector.run(options);
    assert.equal(report.storeListed, true, 'never listed before: due');
    assert.equal(report.unrecordedDeleted, 1);
    assert.equal(await stored(blobs, first), false);
    assert.equal(a.listings(), 1);

    // Inside the interval, neither node lists again: bytes a crash leaves now wait.
    const second = await storeUnrecorded(blobs, randomBytes(900));
    await sleep(REVIEW_DELAY_MS + 20);
    report = await b.collector.run(options);
    assert.equal(report.storeListed, false);
    assert.equal(report.unrecordedDeleted, 0);
    report = await a.collector.run(options);
    assert.equal(report.storeListed, false);
    assert.ok(Date.now() - listedAt < INTERVAL_MS, 'the runs above were inside the interval');
    assert.deepEqual([a.listings(), b.listings()], [1, 0]);
    assert.equal(await stored(blobs, second), true);
    // A dry run says what a run would do, and claims nothing.
    assert.equal((await b.collector.run({ ...options, dryRun: true })).storeListed, false);

    // Once the interval has passed, the next run (on either node) lists and collects them.
    await sleep(INTERVAL_MS - (Date.now() - listedAt) + 50);
    assert.equal((await b.collector.run({ ...options, dryRun: true })).unrecordedDeleted, 1);
    report = await b.collector.run(options);
    assert.equal(report.storeListed, true);
    assert.equal(report.unrecordedDeleted, 1);
    assert.equal(await stored(blobs, second), false);
    assert.equal((await a.collector.run(options)).storeListed, false);
    assert.deepEqual([a.listings(), b.listings()], [1, 2], 'b: the dry run and the real one');
  });

  test('two nodes collecting at the same moment: one of them lists', async () => {
    const options: GcOptions = { reviewDelayMs: REVIEW_DELAY_MS, deleteUntaggedManifests: false, unrecordedScanIntervalMs: 3_600_000 };
    const reg = await registry();
    const [a, b] = [await node(reg), await node(reg)];
    const digest = await storeUnrecorded(reg.app.blobStore, randomBytes(900));
    await sleep(REVIEW_DELAY_MS + 20);
    const reports = await Promise.all([a.collector.run(options), b.collector.run(options)]);
    assert.deepEqual(reports.map((r) => r.storeListed).sort(), [false, true]);
    assert.equal(a.listings() + b.listings(), 1);
    assert.equal(reports[0]!.unrecordedDeleted + reports[1]!.unrecordedDeleted, 1);
    assert.equal(await stored(reg.app.blobStore, digest), false);
  });

  test('an interval of 0: every run lists', async () => {
    const options: GcOptions = { reviewDelayMs: REVIEW_DELAY_MS, deleteUntaggedManifests: false, unrecordedScanIntervalMs: 0 };
    const reg = await registry();
    const a = await node(reg);
    for (let run = 0; run < 3; run++) {
      const digest = await storeUnrecorded(reg.app.blobStore, randomBytes(900));
      await sleep(REVIEW_DELAY_MS + 20);
      const report = await a.collector.run(options);
      assert.equal(report.storeListed, true);
      assert.equal(report.unrecordedDeleted, 1);
      assert.equal(await stored(reg.app.blobStore, digest), false);
    }
    assert.equal(a.listings(), 3);
  });

  test('the server: gc.unrecordedScanIntervalMs, the report and the listings counted in /metrics', async () => {
    const reg = await registry({ unrecordedScanIntervalMs: 3_600_000 });
    const before = await scrape(reg.url);
    assert.equal(before.value('registry_gc_store_listings_total'), 0);
    const digest = await storeUnrecorded(reg.app.blobStore, randomBytes(900));
    await sleep(REVIEW_DELAY_MS + 20);
    let report = await reg.app.collectGarbage();
    assert.equal(report.storeListed, true);
    assert.equal(report.unrecordedDeleted, 1);
    assert.equal(await stored(reg.app.blobStore, digest), false);

    const later = await storeUnrecorded(reg.app.blobStore, randomBytes(900));
    await sleep(REVIEW_DELAY_MS + 20);
    report = await reg.app.collectGarbage();
    assert.equal(report.storeListed, false);
    assert.equal(await stored(reg.app.blobStore, later), true);
    let metrics = await scrape(reg.url);
    assert.equal(metrics.value('registry_gc_store_listings_total'), 1);
    assert.equal(metrics.value('registry_gc_runs_total'), 2);

    // Asked for explicitly, a collection lists now.
    report = await reg.app.collectGarbage({ unrecordedScanIntervalMs: 0 });
    assert.equal(report.storeListed, true);
    assert.equal(report.unrecordedDeleted, 1);
    assert.equal(await stored(reg.app.blobStore, later), false);
    metrics = await scrape(reg.url);
    assert.equal(metrics.value('registry_gc_store_listings_total'), 2);
  });
});
