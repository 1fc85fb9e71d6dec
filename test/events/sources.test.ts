// Where events come from besides client pushes and pulls: deletes by digest, by retention and
// by garbage collection, refusals by the repository quota; and that a receiver which never
// answers does not slow the pushes that cause its events.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startRegistry, type TestRegistry } from '../helpers/registry.js';
import { ADMIN, api, basic, expect } from '../helpers/api.js';
import { expectStatus, pushImage } from '../helpers/oci.js';
import { startWithReceiver, stopBoth, webhookSettings, WebhookReceiver } from '../helpers/webhook-receiver.js';

const admin = { Authorization: basic(ADMIN) };

const settings = (webhooks: Record<string, unknown> = {}) => webhookSettings(webhooks, { retention: { untaggedGraceMs: 0 } });

describe('event sources', () => {
  let reg: TestRegistry;
  let receiver: WebhookReceiver;
  before(async () => {
    ({ reg, receiver } = await startWithReceiver(settings()));
    expect(await api(reg, 'POST', '/namespaces', { as: ADMIN, body: { name: 'team' } }), 201);
    const created = expect(await api(reg, 'POST', '/webhooks', { as: ADMIN, body: { url: receiver.url, events: ['delete', 'quota.exceeded'] } }), 201);
    receiver.secret = created.json.secret;
  });
  after(() => stopBoth(reg, receiver));

  const deletes = () => receiver.accepted().filter((e) => e['action'] === 'delete');

  test('a manifest deleted by digest', async () => {
    const image = await pushImage(reg.url, 'team/bydigest', { reference: 'v1', headers: admin });
    await expectStatus(await fetch(`${reg.url}/v2/team/bydigest/manifests/${image.digest}`, { method: 'DELETE', headers: admin }), 202);
    await receiver.waitFor(() => deletes().length >= 1, 'the delete event');
    const event = deletes()[0]!;
    assert.deepEqual(event['target'], { digest: image.digest, repository: 'team/bydigest', url: `${reg.url}/v2/team/bydigest/manifests/${image.digest}` });
    assert.deepEqual(event['actor'], { name: 'admin' });
    assert.equal(event['request'].method, 'DELETE');
    assert.ok(receiver.received.every((r) => r.signed));
  });

  test('tags and untagged manifests removed by a retention policy', async () => {
    const old = await pushImage(reg.url, 'team/kept', { reference: 'old', headers: admin });
    await pushImage(reg.url, 'team/kept', { reference: 'new', headers: admin });
    const policy = expect(await api(reg, 'POST', '/namespaces/team/retention-policies', { as: ADMIN, body: { rules: { keepLatest: 1, untagged: true } } }), 201).json;
    const report = expect(await api(reg, 'POST', `/namespaces/team/retention-policies/${policy.id}/run`, { as: ADMIN, body: {} }), 200).json;
    assert.equal(report.tagsRemoved, 1);
    assert.equal(report.manifestsRemoved, 1);
    await receiver.waitFor(() => deletes().filter((e) => e['reason'] === 'retention').length >= 2, 'the retention deletes');
    const byRetention = deletes().filter((e) => e['reason'] === 'retention');
    assert.deepEqual(byRetention[0]!['target'], { digest: old.digest, repository: 'team/kept', tag: 'old' });
    assert.deepEqual(byRetention[1]!['target'], { digest: old.digest, repository: 'team/kept' });
    assert.deepEqual(byRetention[0]!['actor'], { name: 'admin' });
    assert.equal(byRetention[0]!['request'], undefined);
    expect(await api(reg, 'DELETE', `/namespaces/team/retention-policies/${policy.id}`, { as: ADMIN }), 204);
  });

  test('untagged manifests removed by garbage collection', async () => {
    const image = await pushImage(reg.url, 'team/gc', { headers: admin });
    const report = await reg.app.collectGarbage({ reviewDelayMs: 0, deleteUntaggedManifests: true });
    assert.ok(report.manifestsDeleted >= 1);
    await receiver.waitFor(() => deletes().some((e) => e['reason'] === 'gc' && e['target'].digest === image.digest), 'the gc delete');
    const event = deletes().find((e) => e['reason'] === 'gc')!;
    assert.deepEqual(event['target'], { digest: image.digest, repository: 'team/gc' });
    assert.deepEqual(event['actor'], { name: 'gc' });
  });

  test('a new repository refused by the repository quota', async () => {
    expect(await api(reg, 'PUT', '/namespaces/team/quota', { as: ADMIN, body: { limitRepositories: 1 } }), 200);
    const res = await fetch(`${reg.url}/v2/team/one-too-many/blobs/uploads/`, { method: 'POST', headers: { ...admin, 'Content-Length': '0' } });
    assert.equal(res.status, 403);
    await res.arrayBuffer();
    await receiver.waitFor(() => receiver.accepted().some((e) => e['action'] === 'quota'), 'the quota event');
    const event = receiver.accepted().find((e) => e['action'] === 'quota')!;
    assert.equal(event['target'].repository, 'team/one-too-many');
    assert.equal(event['quota'].kind, 'repositories');
    assert.equal(event['quota'].detail.limitRepositories, 1);
    expect(await api(reg, 'PUT', '/namespaces/team/quota', { as: ADMIN, body: {} }), 200);
  });
});

describe('a receiver that never answers', () => {
  test('does not slow the pushes and pulls whose events it is sent', async () => {
    // A delivery waits up to 10 s for an answer; requests that waited for it would take that long.
    const reg = await startRegistry(settings({ timeoutMs: 10_000, leaseMs: 20_000 }));
    const receiver = await WebhookReceiver.start();
    const pushAndPull = async (tag: string) => {
      const started = Date.now();
      await pushImage(reg.url, 'library/fast', { reference: tag, headers: admin });
      await expectStatus(await fetch(`${reg.url}/v2/library/fast/manifests/${tag}`, { headers: admin }), 200);
      return Date.now() - started;
    };
    try {
      receiver.silent = true;
      const baseline = await pushAndPull('before');
      const created = expect(await api(reg, 'POST', '/webhooks', { as: ADMIN, body: { url: receiver.url, events: ['push', 'pull'] } }), 201);
      const timings = [await pushAndPull('t0'), await pushAndPull('t1'), await pushAndPull('t2')];
      for (const ms of timings) assert.ok(ms < baseline + 5_000, `a push and pull took ${ms} ms (${baseline} ms without the webhook)`);
      await receiver.waitFor((r) => r.length >= 1, 'the first (unanswered) delivery');
      await reg.app.events.settle();
      const log = expect(await api(reg, 'GET', `/webhooks/${created.json.id}/deliveries`, { as: ADMIN }), 200).json.deliveries;
      assert.equal(log.length, 6);
    } finally {
      await stopBoth(reg, receiver);
    }
  });
});
