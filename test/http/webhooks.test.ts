// Webhooks through the management API: who manages them, the secret shown once, the SSRF
// allow-list at creation, and real registry events (push, pull, delete, scan finished, quota
// exceeded) arriving signed at a receiver on 127.0.0.1 in Distribution's envelope; the
// delivery log, redelivery and the test ping.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { TestRegistry } from '../helpers/registry.js';
import { ADMIN, api, assertNoSecrets, auditEvents, authHeaders, expect, startTeamRegistry, type Credentials } from '../helpers/api.js';
import { expectStatus, pushImage, randomBytes, sha256 } from '../helpers/oci.js';
import { webhookSettings, WebhookReceiver } from '../helpers/webhook-receiver.js';

const FAST = webhookSettings({}, { scan: { pollMs: 20 } });

describe('webhooks (management API and events)', () => {
  let reg: TestRegistry;
  let owner: Credentials;
  let reader: Credentials;
  let outsider: Credentials;
  let receiver: WebhookReceiver;
  let hookId = '';

  before(async () => {
    // startTeamRegistry turns access control on itself.
    const { auth: _auth, ...settings } = FAST;
    ({ reg, owner, reader, outsider } = await startTeamRegistry(settings));
    receiver = await WebhookReceiver.start();
  });
  after(async () => {
    await reg.close();
    await receiver.stop();
  });

  test('a target not on the allow-list is refused at creation, with the reason', async () => {
    const refused = expect(await api(reg, 'POST', '/namespaces/team/webhooks', { as: owner, body: { url: 'http://10.1.2.3/hook', events: ['push'] } }), 400, 'UNSUPPORTED');
    assert.match(refused.json.errors[0].message, /webhook target not allowed: the address 10\.1\.2\.3 is not on webhooks\.allowedHosts/);
    const byName = expect(await api(reg, 'POST', '/namespaces/team/webhooks', { as: owner, body: { url: 'http://metadata.internal/x', events: ['push'] } }), 400);
    assert.match(byName.json.errors[0].message, /the host metadata\.internal is not on webhooks\.allowedHosts/);
    expect(await api(reg, 'POST', '/namespaces/team/webhooks', { as: owner, body: { url: 'file:///etc/passwd', events: ['push'] } }), 400);
    expect(await api(reg, 'POST', '/namespaces/team/webhooks', { as: owner, body: { url: 'http://u:p@127.0.0.1/x', events: ['push'] } }), 400);
    expect(await api(reg, 'POST', '/namespaces/team/webhooks', { as: owner, body: { url: receiver.url, events: ['nonsense'] } }), 400);
    expect(await api(reg, 'GET', '/namespaces/team/webhooks', { as: owner }), 200);
    assert.deepEqual((await api(reg, 'GET', '/namespaces/team/webhooks', { as: owner })).json.webhooks, []);
  });

  test('owners create a namespace webhook; the secret is shown once; readers and outsiders may not', async () => {
    const body = { url: receiver.url, events: ['push', 'pull', 'delete', 'scan.finished', 'quota.exceeded'] };
    expect(await api(reg, 'POST', '/namespaces/team/webhooks', { as: reader, body }), 403, 'DENIED');
    expect(await api(reg, 'POST', '/namespaces/team/webhooks', { as: outsider, body }), 404, 'NAME_UNKNOWN');
    expect(await api(reg, 'GET', '/namespaces/team/webhooks', { as: reader }), 403, 'DENIED');
    const created = expect(await api(reg, 'POST', '/namespaces/team/webhooks', { as: owner, body }), 201);
    assert.match(created.json.secret, /^[0-9a-f]{64}$/);
    assert.equal(created.json.namespace, 'team');
    assert.equal(created.json.enabled, true);
    assert.equal(created.headers.get('location'), `/api/v1/namespaces/team/webhooks/${created.json.id}`);
    hookId = created.json.id;
    receiver.secret = created.json.secret;
    const read = expect(await api(reg, 'GET', `/namespaces/team/webhooks/${hookId}`, { as: owner }), 200);
    assert.equal(read.json.secret, undefined);
    assertNoSecrets(read.text, [receiver.secret]);
    assertNoSecrets(expect(await api(reg, 'GET', '/namespaces/team/webhooks', { as: ADMIN }), 200).text, [receiver.secret]);
    const audited = await auditEvents(reg, { action: 'webhook.create' });
    assert.equal(audited[0]?.actor, 'olivia');
    assert.ok(!JSON.stringify(audited).includes(receiver.secret));
  });

  test('a push arrives signed, in the Distribution envelope', async () => {
    const image = await pushImage(reg.url, 'team/app', { reference: 'v1', headers: { ...authHeaders(owner), 'User-Agent': 'test-client/1' } });
    await receiver.waitFor((r) => r.some((x) => x.json.events[0]?.action === 'push'), 'the push event');
    const request = receiver.received.find((x) => x.json.events[0]?.action === 'push')!;
    assert.ok(request.signed, 'the signature verifies with the secret');
    assert.equal(request.headers['content-type'], 'application/vnd.docker.distribution.events.v1+json');
    assert.equal(request.headers['x-registry-event'], 'push');
    const event = request.json.events[0]!;
    assert.match(event['id'], /^[0-9a-f-]{36}$/);
    assert.ok(!Number.isNaN(Date.parse(event['timestamp'])));
    assert.deepEqual(event['target'], {
      mediaType: image.manifest.mediaType,
      size: image.bytes.length,
      length: image.bytes.length,
      digest: image.digest,
      repository: 'team/app',
      url: `${reg.url}/v2/team/app/manifests/${image.digest}`,
      tag: 'v1',
    });
    assert.deepEqual(event['actor'], { name: 'olivia' });
    assert.equal(event['request'].method, 'PUT');
    assert.equal(event['request'].useragent, 'test-client/1');
    assert.equal(event['request'].addr, '127.0.0.1');
    assert.equal(event['request'].host, reg.host);
    assert.ok(event['source'].instanceID);
  });

  test('a forged or stale signature does not verify', async () => {
    const genuine = receiver.received[0]!;
    const { verifySignature } = await import('../helpers/webhook-receiver.js');
    assert.equal(verifySignature('another-secret', genuine.headers, genuine.body), false);
    assert.equal(verifySignature(receiver.secret, genuine.headers, genuine.body.replace('team/app', 'team/evil')), false);
    assert.equal(verifySignature(receiver.secret, { ...genuine.headers, 'x-registry-timestamp': '1000' }, genuine.body), false);
  });

  test('the scan of the pushed image reports when it finishes', async () => {
    await receiver.waitFor((r) => r.some((x) => x.json.events[0]?.action === 'scan'), 'the scan event', 20_000);
    const event = receiver.accepted().find((e) => e['action'] === 'scan')!;
    assert.equal(event['target'].repository, 'team/app');
    assert.match(event['scan'].status, /^(done|unsupported|failed)$/);
    assert.equal(typeof event['scan'].summary.packages, 'number');
    assert.deepEqual(event['actor'], { name: 'scanner' });
  });

  test('a pull (GET, not HEAD) and a tag delete arrive', async () => {
    await expectStatus(await fetch(`${reg.url}/v2/team/app/manifests/v1`, { method: 'HEAD', headers: authHeaders(reader) }), 200);
    await expectStatus(await fetch(`${reg.url}/v2/team/app/manifests/v1`, { headers: { ...authHeaders(reader), Accept: 'application/vnd.oci.image.manifest.v1+json' } }), 200);
    await expectStatus(await fetch(`${reg.url}/v2/team/app/manifests/v1`, { method: 'DELETE', headers: authHeaders(owner) }), 202);
    await receiver.waitFor((r) => r.some((x) => x.json.events[0]?.action === 'delete'), 'the delete event');
    const pulls = receiver.accepted().filter((e) => e['action'] === 'pull');
    assert.equal(pulls.length, 1, 'HEAD is not a pull');
    assert.equal(pulls[0]!['target'].tag, 'v1');
    assert.deepEqual(pulls[0]!['actor'], { name: 'rita' });
    assert.equal(pulls[0]!['request'].method, 'GET');
    const deleted = receiver.accepted().find((e) => e['action'] === 'delete')!;
    assert.deepEqual(deleted['target'], { repository: 'team/app', tag: 'v1' });
    assert.deepEqual(deleted['actor'], { name: 'olivia' });
    // The order of the events is the order they happened in.
    const actions = receiver.accepted().map((e) => e['action']).filter((a) => a !== 'scan');
    assert.deepEqual(actions, ['push', 'pull', 'delete']);
  });

  test('a push refused by a quota arrives as quota.exceeded', async () => {
    expect(await api(reg, 'PUT', '/namespaces/team/quota', { as: ADMIN, body: { limitBytes: 100 } }), 200);
    const big = randomBytes(5000);
    const res = await fetch(`${reg.url}/v2/team/big/blobs/uploads/?digest=${sha256(big)}`, {
      method: 'POST',
      headers: { ...authHeaders(owner), 'Content-Type': 'application/octet-stream' },
      body: big,
    });
    assert.equal(res.status, 403);
    await res.arrayBuffer();
    await receiver.waitFor((r) => r.some((x) => x.json.events[0]?.action === 'quota'), 'the quota event');
    const event = receiver.accepted().find((e) => e['action'] === 'quota')!;
    assert.equal(event['target'].repository, 'team/big');
    assert.equal(event['quota'].namespace, 'team');
    assert.equal(event['quota'].kind, 'storage');
    assert.equal(event['quota'].detail.limitBytes, 100);
    assert.match(event['quota'].message, /storage quota of namespace team exceeded/);
    expect(await api(reg, 'PUT', '/namespaces/team/quota', { as: ADMIN, body: { limitBytes: null } }), 200);
  });

  test('the delivery log shows each delivery; redeliver sends an event again; ping answers at once', async () => {
    const log = expect(await api(reg, 'GET', `/namespaces/team/webhooks/${hookId}/deliveries`, { as: owner }), 200).json.deliveries;
    const push = log.find((d: any) => d.event === 'push');
    assert.equal(push.state, 'delivered');
    assert.equal(push.statusCode, 200);
    assert.equal(push.attempts, 1);
    assert.equal(typeof push.durationMs, 'number');
    assert.equal(push.response, 'ok');
    assert.ok(Date.parse(push.lastAttemptAt));
    // Newest first, and paged.
    const ids = log.map((d: any) => d.id);
    assert.deepEqual(ids, [...ids].sort((a: number, b: number) => b - a));
    const page = expect(await api(reg, 'GET', `/namespaces/team/webhooks/${hookId}/deliveries?limit=1`, { as: owner }), 200);
    assert.equal(page.json.deliveries.length, 1);
    assert.match(page.headers.get('link') ?? '', /before=\d+>; rel="next"/);

    const before = receiver.received.length;
    const again = expect(await api(reg, 'POST', `/namespaces/team/webhooks/${hookId}/deliveries/${push.id}/redeliver`, { as: owner }), 202);
    assert.equal(again.json.eventId, push.eventId);
    await receiver.waitFor((r) => r.length > before, 'the redelivery');
    assert.equal(receiver.received[before]!.json.events[0]!['id'], push.eventId);

    const ping = expect(await api(reg, 'POST', `/namespaces/team/webhooks/${hookId}/ping`, { as: owner }), 200);
    assert.equal(ping.json.event, 'ping');
    assert.equal(ping.json.state, 'delivered');
    assert.equal(ping.json.statusCode, 200);
    assert.equal(receiver.received.at(-1)!.json.events[0]!['action'], 'ping');
    assert.ok(receiver.received.at(-1)!.signed);
    expect(await api(reg, 'POST', `/namespaces/team/webhooks/${hookId}/deliveries/999999/redeliver`, { as: owner }), 404);
    expect(await api(reg, 'GET', `/namespaces/team/webhooks/${hookId}/deliveries`, { as: reader }), 403, 'DENIED');
  });

  test('changes: events, repositories, enabled, a new URL checked again, a rotated secret', async () => {
    const path = `/namespaces/team/webhooks/${hookId}`;
    expect(await api(reg, 'PATCH', path, { as: owner, body: {} }), 400);
    expect(await api(reg, 'PATCH', path, { as: owner, body: { url: 'http://192.168.1.1/' } }), 400);
    const changed = expect(await api(reg, 'PATCH', path, { as: owner, body: { events: ['push'], repositories: 'only-*' } }), 200);
    assert.deepEqual(changed.json.events, ['push']);
    assert.equal(changed.json.repositories, 'only-*');
    assert.equal(changed.json.secret, undefined);
    // A push to a repository the glob does not match is not sent.
    const count = receiver.received.length;
    await pushImage(reg.url, 'team/other', { reference: 'x', headers: authHeaders(owner) });
    await pushImage(reg.url, 'team/only-this', { reference: 'x', headers: authHeaders(owner) });
    await receiver.waitFor((r) => r.length > count, 'the matching push');
    await reg.app.events.settle();
    const repos = receiver.received.slice(count).map((r) => r.json.events[0]!['target'].repository);
    assert.deepEqual(repos, ['team/only-this']);

    const rotated = expect(await api(reg, 'PATCH', path, { as: owner, body: { rotateSecret: true } }), 200);
    assert.match(rotated.json.secret, /^[0-9a-f]{64}$/);
    assert.notEqual(rotated.json.secret, receiver.secret);
    receiver.secret = rotated.json.secret;
    const ping = expect(await api(reg, 'POST', `${path}/ping`, { as: owner }), 200);
    assert.equal(ping.json.state, 'delivered');
    assert.ok(receiver.received.at(-1)!.signed, 'signed with the new secret');
  });

  test('system-wide webhooks are for administrators and see every namespace', async () => {
    const body = { url: receiver.url, events: ['push'] };
    expect(await api(reg, 'POST', '/webhooks', { as: owner, body }), 403, 'DENIED');
    expect(await api(reg, 'GET', '/webhooks', { as: owner }), 403, 'DENIED');
    const created = expect(await api(reg, 'POST', '/webhooks', { as: ADMIN, body }), 201);
    assert.equal(created.json.namespace, null);
    // The namespace webhook's id is not reachable through the system-wide path, nor the reverse.
    expect(await api(reg, 'GET', `/webhooks/${hookId}`, { as: ADMIN }), 404);
    expect(await api(reg, 'GET', `/namespaces/team/webhooks/${created.json.id}`, { as: ADMIN }), 404);
    const count = receiver.received.length;
    await pushImage(reg.url, 'olivia/private', { reference: 'p', headers: authHeaders(owner) });
    await receiver.waitFor((r) => r.slice(count).some((x) => x.headers['x-registry-webhook'] === created.json.id), 'the system-wide delivery');
    const got = receiver.received.slice(count).find((x) => x.headers['x-registry-webhook'] === created.json.id)!;
    assert.equal(got.json.events[0]!['target'].repository, 'olivia/private');
    expect(await api(reg, 'PATCH', `/webhooks/${created.json.id}`, { as: ADMIN, body: { enabled: false } }), 200);
    expect(await api(reg, 'DELETE', `/webhooks/${created.json.id}`, { as: ADMIN }), 204);
    expect(await api(reg, 'GET', `/webhooks/${created.json.id}`, { as: ADMIN }), 404);
  });

  test('deleting a webhook removes it and its log', async () => {
    expect(await api(reg, 'DELETE', `/namespaces/team/webhooks/${hookId}`, { as: reader }), 403);
    expect(await api(reg, 'DELETE', `/namespaces/team/webhooks/${hookId}`, { as: owner }), 204);
    expect(await api(reg, 'GET', `/namespaces/team/webhooks/${hookId}`, { as: owner }), 404);
    expect(await api(reg, 'GET', `/namespaces/team/webhooks/${hookId}/deliveries`, { as: owner }), 404);
    expect(await api(reg, 'DELETE', `/namespaces/team/webhooks/${hookId}`, { as: owner }), 404);
  });

  test('deleting a namespace deletes its webhooks: a namespace created again under the name has none', async () => {
    expect(await api(reg, 'POST', '/namespaces', { as: owner, body: { name: 'short-lived' } }), 201);
    const hook = expect(await api(reg, 'POST', '/namespaces/short-lived/webhooks', { as: owner, body: { url: receiver.url, events: ['push'] } }), 201).json;
    expect(await api(reg, 'DELETE', '/namespaces/short-lived', { as: owner }), 204);
    expect(await api(reg, 'POST', '/namespaces', { as: outsider, body: { name: 'short-lived' } }), 201);
    assert.deepEqual(expect(await api(reg, 'GET', '/namespaces/short-lived/webhooks', { as: outsider }), 200).json.webhooks, []);
    expect(await api(reg, 'GET', `/namespaces/short-lived/webhooks/${hook.id}`, { as: ADMIN }), 404);
  });

  test('a namespace holds at most 25 webhooks', async () => {
    const body = { url: receiver.url, events: ['pull'], enabled: false };
    for (let i = 0; i < 25; i++) expect(await api(reg, 'POST', '/namespaces/short-lived/webhooks', { as: outsider, body }), 201);
    const refused = expect(await api(reg, 'POST', '/namespaces/short-lived/webhooks', { as: outsider, body }), 409);
    assert.match(refused.json.errors[0].message, /at most 25 webhooks/);
  });

  test('the OpenAPI document lists the webhook routes', async () => {
    const doc = expect(await api(reg, 'GET', '/openapi.json'), 200).json;
    for (const p of ['/namespaces/{name}/webhooks', '/namespaces/{name}/webhooks/{id}', '/namespaces/{name}/webhooks/{id}/deliveries', '/webhooks', '/webhooks/{id}/ping']) {
      assert.ok(doc.paths[`/api/v1${p}`] ?? doc.paths[p], `missing ${p}`);
    }
  });
});
