// The delivery queue with a real registry and a receiver on 127.0.0.1: retries after a 500 and
// while the receiver is down, each webhook's events in order under retries, giving up after
// maxAttempts (the next event follows), deliveries queued before a restart sent after it, and
// the allow-list checked again after DNS resolution at delivery time.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { makeTempDir, startRegistry, type TestRegistry } from '../helpers/registry.js';
import { ADMIN, api, basic, expect } from '../helpers/api.js';
import { pushImage } from '../helpers/oci.js';
import { startWithReceiver, stopBoth, webhookSettings, WebhookReceiver } from '../helpers/webhook-receiver.js';

const settings = (webhooks: Record<string, unknown>) => webhookSettings(webhooks);

async function createHook(reg: TestRegistry, receiver: WebhookReceiver, url = receiver.url): Promise<string> {
  const created = expect(await api(reg, 'POST', '/webhooks', { as: ADMIN, body: { url, events: ['push'] } }), 201);
  receiver.secret = created.json.secret;
  return created.json.id;
}

async function deliveries(reg: TestRegistry, id: string): Promise<any[]> {
  return expect(await api(reg, 'GET', `/webhooks/${id}/deliveries`, { as: ADMIN }), 200).json.deliveries;
}

const tagOf = (r: { json: { events: Record<string, any>[] } }) => r.json.events[0]!['target'].tag as string;
const admin = { Authorization: basic(ADMIN) };

describe('webhook delivery: retries and order', () => {
  let reg: TestRegistry;
  let receiver: WebhookReceiver;
  before(async () => ({ reg, receiver } = await startWithReceiver(settings({ maxAttempts: 3, workers: 3 }))));
  after(() => stopBoth(reg, receiver));

  test('a 500 is retried; later events wait for it and arrive in order', async () => {
    const id = await createHook(reg, receiver);
    receiver.answer = ({ count }) => (count < 2 ? 500 : 200);
    for (const tag of ['one', 'two', 'three']) await pushImage(reg.url, 'library/ordered', { reference: tag, headers: admin });
    await receiver.waitFor((r) => r.filter((x) => x.status === 200).length >= 3, 'three accepted events');
    assert.deepEqual(receiver.received.map(tagOf), ['one', 'one', 'one', 'two', 'three']);
    assert.deepEqual(receiver.received.map((r) => r.status), [500, 500, 200, 200, 200]);
    assert.ok(receiver.received.every((r) => r.signed));
    // Every attempt is the same event, signed afresh.
    assert.equal(new Set(receiver.received.slice(0, 3).map((r) => r.json.events[0]!['id'])).size, 1);
    const log = await deliveries(reg, id);
    const first = log.find((d) => d.state === 'delivered' && d.attempts === 3);
    assert.ok(first, JSON.stringify(log));
    assert.equal(first.statusCode, 200);
    const metrics = await (await fetch(`${reg.url}/metrics`)).text();
    assert.match(metrics, /^registry_webhook_deliveries_total\{outcome="retry"\} 2$/m);
    assert.match(metrics, /^registry_webhook_deliveries_total\{outcome="delivered"\} 3$/m);
    assert.match(metrics, /^registry_events_total\{kind="push"\} 3$/m);
    expect(await api(reg, 'DELETE', `/webhooks/${id}`, { as: ADMIN }), 204);
  });

  test('after maxAttempts a delivery is failed and the next one goes', async () => {
    receiver.received.length = 0;
    const id = await createHook(reg, receiver);
    receiver.answer = ({ body }) => (body.includes('"tag":"doomed"') ? 500 : 200);
    await pushImage(reg.url, 'library/doomed', { reference: 'doomed', headers: admin });
    await pushImage(reg.url, 'library/doomed', { reference: 'fine', headers: admin });
    await receiver.waitFor((r) => r.some((x) => tagOf(x) === 'fine'), 'the event after the failed one');
    assert.deepEqual(receiver.received.map(tagOf), ['doomed', 'doomed', 'doomed', 'fine']);
    const log = await deliveries(reg, id);
    const failed = log.find((d) => d.state === 'failed');
    assert.equal(failed.attempts, 3);
    assert.equal(failed.statusCode, 500);
    assert.equal(failed.error, 'answered 500');
    assert.equal(failed.response, 'receiver error');
    assert.equal(failed.nextAttemptAt, null);
    expect(await api(reg, 'DELETE', `/webhooks/${id}`, { as: ADMIN }), 204);
  });
});

describe('webhook delivery: a receiver that is down', () => {
  let reg: TestRegistry;
  let receiver: WebhookReceiver;
  before(async () => ({ reg, receiver } = await startWithReceiver(settings({ maxAttempts: 100 }))));
  after(() => stopBoth(reg, receiver));

  test('a receiver that is down is retried until it is back', async () => {
    const id = await createHook(reg, receiver);
    await receiver.stop();
    await pushImage(reg.url, 'library/later', { reference: 'a', headers: admin });
    await pushImage(reg.url, 'library/later', { reference: 'b', headers: admin });
    // Wait for a failed attempt to show in the log, then bring the receiver back.
    const deadline = Date.now() + 10_000;
    let log = await deliveries(reg, id);
    while (!log.some((d) => d.attempts > 0 && d.state === 'pending')) {
      assert.ok(Date.now() < deadline, `no failed attempt logged: ${JSON.stringify(log)}`);
      await new Promise((r) => setTimeout(r, 20));
      log = await deliveries(reg, id);
    }
    const pending = log.find((d) => d.attempts > 0)!;
    assert.equal(pending.statusCode, null);
    assert.match(pending.error, /ECONNREFUSED/);
    assert.ok(pending.nextAttemptAt);
    await receiver.listen();
    await receiver.waitFor((r) => r.length >= 2, 'both events after the receiver came back').catch(async (err: unknown) => {
      throw new Error(`${String(err)}; log: ${JSON.stringify(await deliveries(reg, id))}`);
    });
    assert.deepEqual(receiver.received.map(tagOf), ['a', 'b']);
    // b waited behind a: it was sent once, when a had gone through.
    const [b, a] = await deliveries(reg, id);
    assert.equal(b.attempts, 1);
    assert.ok(a.attempts >= 2);
  });
});

describe('webhook delivery: the queue survives a restart', () => {
  test('an event queued while the receiver is down is delivered after the registry restarts', async () => {
    const dir = await makeTempDir();
    const receiver = await WebhookReceiver.start();
    const patient = settings({ maxAttempts: 100 });
    let reg = await startRegistry(patient, dir);
    try {
      const id = await createHook(reg, receiver);
      await receiver.stop();
      await pushImage(reg.url, 'library/durable', { reference: 'kept', headers: admin });
      const deadline = Date.now() + 10_000;
      while (!(await deliveries(reg, id)).some((d) => d.attempts > 0)) {
        assert.ok(Date.now() < deadline, 'no attempt while the receiver was down');
        await new Promise((r) => setTimeout(r, 20));
      }
      await reg.close();
      assert.equal(receiver.received.length, 0);

      await receiver.listen();
      reg = await startRegistry(patient, dir);
      await receiver.waitFor((r) => r.length >= 1, 'the event queued before the restart');
      assert.equal(tagOf(receiver.received[0]!), 'kept');
      assert.equal(receiver.received[0]!.json.events[0]!['target'].repository, 'library/durable');
      assert.ok(receiver.received[0]!.signed);
      const log = await deliveries(reg, id);
      assert.equal(log[0].state, 'delivered');
      assert.ok(log[0].attempts >= 2);
    } finally {
      await reg.close();
      await receiver.stop();
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('webhook delivery: the allow-list is checked again after DNS resolution', () => {
  let reg: TestRegistry;
  let receiver: WebhookReceiver;
  // `localhost` is allowed by name, but loopback addresses are not listed.
  before(async () => ({ reg, receiver } = await startWithReceiver(settings({ allowedHosts: ['localhost'], maxAttempts: 1 }))));
  after(() => stopBoth(reg, receiver));

  test('a name that resolves to a forbidden address is refused at delivery; nothing is sent', async () => {
    const url = `http://localhost:${receiver.port}/hook`;
    const id = await createHook(reg, receiver, url);
    // Literal loopback addresses are refused at once.
    expect(await api(reg, 'POST', '/webhooks', { as: ADMIN, body: { url: receiver.url, events: ['push'] } }), 400);
    await pushImage(reg.url, 'library/ssrf', { reference: 'x', headers: admin });
    const deadline = Date.now() + 10_000;
    let log = await deliveries(reg, id);
    while (!log.some((d) => d.state === 'failed')) {
      assert.ok(Date.now() < deadline, `delivery not refused: ${JSON.stringify(log)}`);
      await new Promise((r) => setTimeout(r, 20));
      log = await deliveries(reg, id);
    }
    assert.match(log[0].error, /^refused: the host localhost resolves to .*(127\.0\.0\.1|::1).*, which is not allowed$/);
    assert.equal(log[0].statusCode, null);
    const ping = expect(await api(reg, 'POST', `/webhooks/${id}/ping`, { as: ADMIN }), 200);
    assert.equal(ping.json.state, 'failed');
    assert.match(ping.json.error, /^refused: /);
    assert.equal(receiver.received.length, 0);
  });
});

describe('webhook delivery: listing the address lets the same name through', () => {
  test('localhost is delivered to once 127.0.0.1 is listed', async () => {
    const reg = await startRegistry(settings({ allowedHosts: ['localhost', '127.0.0.1'] }));
    const receiver = await WebhookReceiver.start();
    try {
      const id = await createHook(reg, receiver, `http://localhost:${receiver.port}/hook`);
      const ping = expect(await api(reg, 'POST', `/webhooks/${id}/ping`, { as: ADMIN }), 200);
      assert.equal(ping.json.state, 'delivered', JSON.stringify(ping.json));
      assert.equal(receiver.received.length, 1);
      assert.ok(receiver.received[0]!.signed);
      assert.equal(receiver.received[0]!.headers.host, `localhost:${receiver.port}`);
    } finally {
      await reg.close();
      await receiver.stop();
    }
  });
});

describe('webhook delivery: two nodes share the queue', () => {
  test('each event is delivered once, in order, whichever node queued or sends it', async () => {
    const dir = await makeTempDir();
    const shared = settings({ maxAttempts: 100, workers: 2 });
    const receiver = await WebhookReceiver.start();
    const nodes = [await startRegistry(shared, dir), await startRegistry(shared, dir)];
    try {
      await createHook(nodes[0]!, receiver);
      // The first attempts fail, so later events pile up behind the first one on both nodes.
      receiver.answer = ({ count }) => (count < 3 ? 500 : 200);
      const tags = ['n1', 'n2', 'n3', 'n4', 'n5', 'n6'];
      for (const [i, tag] of tags.entries()) await pushImage(nodes[i % 2]!.url, 'library/cluster', { reference: tag, headers: admin });
      await receiver.waitFor((r) => r.filter((x) => x.status === 200).length >= tags.length, 'every event');
      const accepted = receiver.received.filter((x) => x.status === 200);
      assert.deepEqual(accepted.map(tagOf), tags);
      assert.equal(new Set(accepted.map((x) => x.json.events[0]!['id'])).size, tags.length);
      // Both nodes queued (their own instance ids are the source of their events).
      assert.equal(new Set(accepted.map((x) => x.json.events[0]!['source'].instanceID)).size, 2);
    } finally {
      await receiver.stop();
      for (const node of nodes) await node.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
