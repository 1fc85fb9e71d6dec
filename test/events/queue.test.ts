// The delivery queue in the database (SQLite; PostgreSQL too with TEST_BACKEND=scaleout), as
// several nodes use it: claims are exclusive, a webhook's deliveries go one at a time in order,
// a lease that runs out is taken over (and the old holder can no longer record), disabled
// webhooks wait.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { openSqliteStore } from '../../src/metadata/sqlite.js';
import type { SqlMetadataStore } from '../../src/metadata/sql-store.js';
import type { WebhookStore } from '../../src/metadata/webhook-store.js';
import { scaleOut } from '../helpers/registry.js';
import { freshPostgresDatabase } from '../helpers/services.js';

const attempt = (statusCode: number | null) => ({ at: Date.now(), statusCode, durationMs: 3, error: statusCode === 200 ? null : 'answered 500', excerpt: null });

describe(`webhook delivery queue (${scaleOut() ? 'postgres' : 'sqlite'})`, () => {
  let stores: SqlMetadataStore[] = [];
  let queue: WebhookStore;
  let other: WebhookStore;
  let cleanup: () => Promise<void>;

  before(async () => {
    if (scaleOut()) {
      const db = await freshPostgresDatabase();
      const { openPostgresStore } = await import('../../src/metadata/postgres.js');
      stores = [await openPostgresStore({ url: db.url, poolSize: 4, migrate: true }), await openPostgresStore({ url: db.url, poolSize: 4, migrate: true })];
      cleanup = db.drop;
    } else {
      const dir = await mkdtemp(join(tmpdir(), 'registry-queue-'));
      const path = join(dir, 'registry.db');
      stores = [await openSqliteStore(path), await openSqliteStore(path)];
      cleanup = () => rm(dir, { recursive: true, force: true });
    }
    // Two stores over one database: two nodes.
    queue = stores[0]!.webhooks();
    other = stores[1]!.webhooks();
  });
  after(async () => {
    for (const s of stores) await s.close();
    await cleanup();
  });

  const hook = (namespace: string | null, enabled = true) =>
    queue.createWebhook({ namespace, url: 'http://127.0.0.1/h', events: ['push'], repositories: null, secret: 's', enabled, createdBy: 'test' });
  const event = (webhookId: string, n: number) => ({ webhookId, eventId: `e${n}`, action: 'push', payload: `{"n":${n}}` });

  test('a webhook sends one delivery at a time, oldest first; other webhooks are not held up', async () => {
    const a = await hook('a');
    const b = await hook('b');
    await queue.enqueue([event(a.id, 1), event(a.id, 2), event(b.id, 3)]);
    const first = await queue.claim('node-1', 10_000);
    const second = await other.claim('node-2', 10_000);
    assert.deepEqual([first?.delivery.eventId, second?.delivery.eventId].sort(), ['e1', 'e3']);
    assert.equal(await other.claim('node-2', 10_000), undefined, 'e2 waits for e1');
    const e1 = first!.delivery.eventId === 'e1' ? first! : second!;
    const e1Holder = e1 === first ? 'node-1' : 'node-2';
    // A failure with a retry time in the future keeps e2 waiting.
    assert.ok(await queue.finish(e1.delivery.id, e1Holder, 'pending', attempt(500), Date.now() + 60_000));
    assert.equal(await other.claim('node-2', 10_000), undefined);
    // Due again: e1 once more, then (delivered) e2.
    assert.ok(await queue.finish(e1.delivery.id, 'nobody', 'delivered', attempt(200)) === false, 'only the holder records');
    const again = await queue.claim('node-1', 10_000);
    assert.equal(again, undefined, 'not due yet');
    const [logged] = await queue.listDeliveries(a.id, 10, e1.delivery.id + 1);
    assert.equal(logged!.attempts, 1);
    assert.equal(logged!.statusCode, 500);
    assert.equal(logged!.state, 'pending');
  });

  test('concurrent claims by several nodes never hand one delivery out twice', async () => {
    const hooks = await Promise.all([1, 2, 3, 4, 5, 6].map((i) => hook(`c${i}`)));
    await queue.enqueue(hooks.map((h, i) => event(h.id, 100 + i)));
    const claims = await Promise.all(Array.from({ length: 12 }, (_, i) => (i % 2 ? queue : other).claim(`w${i}`, 10_000)));
    const got = claims.filter((c) => c !== undefined && /^e10\d$/.test(c.delivery.eventId)).map((c) => c!.delivery.eventId);
    // A claimer that lost every race may come back empty-handed; what is left is claimed after.
    for (let next = await queue.claim('late', 10_000); next; next = await queue.claim('late', 10_000)) got.push(next.delivery.eventId);
    assert.equal(new Set(got).size, got.length, `claimed twice: ${got.join(',')}`);
    assert.deepEqual([...got].sort(), ['e100', 'e101', 'e102', 'e103', 'e104', 'e105']);
  });

  test('a lease that runs out is taken over; the old holder can no longer record', async () => {
    const h = await hook('lease');
    await queue.enqueue([event(h.id, 200)]);
    const held = await queue.claim('dead-node', 1);
    assert.equal(held?.delivery.eventId, 'e200');
    await sleep(10);
    const taken = await other.claim('live-node', 10_000);
    assert.equal(taken?.delivery.id, held!.delivery.id);
    assert.equal(await queue.finish(held!.delivery.id, 'dead-node', 'delivered', attempt(200)), false);
    assert.equal(await other.finish(taken!.delivery.id, 'live-node', 'delivered', attempt(200)), true);
    const [row] = await queue.listDeliveries(h.id, 1);
    assert.equal(row!.state, 'delivered');
    assert.equal(row!.attempts, 1);
  });

  test('deliveries of a disabled webhook wait until it is enabled; deleting it drops them', async () => {
    const h = await hook('paused', false);
    await queue.enqueue([event(h.id, 300)]);
    assert.equal(await queue.claim('n', 10_000), undefined);
    await queue.updateWebhook('paused', h.id, { enabled: true });
    assert.equal((await queue.claim('n', 10_000))?.delivery.eventId, 'e300');
    assert.ok(await queue.deleteWebhook('paused', h.id));
    assert.deepEqual(await queue.listDeliveries(h.id, 10), []);
  });

  test('finished deliveries are pruned after the retention time; pending ones stay', async () => {
    const h = await hook('prune');
    await queue.recordFinished(event(h.id, 400), 'delivered', { ...attempt(200), at: Date.now() - 10_000 });
    await queue.enqueue([event(h.id, 401)]);
    assert.ok((await queue.prune(Date.now() - 5_000)) >= 1);
    const left = await queue.listDeliveries(h.id, 10);
    assert.deepEqual(left.map((d) => d.eventId), ['e401']);
  });
});
