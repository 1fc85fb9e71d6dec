// SSRF through the management API: a namespace owner must not make the registry reach internal
// addresses, however they are written (loopback, link-local metadata, private ranges,
// IPv4-mapped IPv6, decimal, octal and hex IPv4), neither when saving a webhook or a replication
// rule nor later, when a listed name resolves to loopback, or when an allowed remote answers
// with a redirect, a token realm or an upload location pointing elsewhere. A canary server on
// another loopback address (127.0.0.2) stands for the internal service: it must never be asked.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { TestRegistry } from '../helpers/registry.js';
import { api, authHeaders, expect, startTeamRegistry, type Credentials } from '../helpers/api.js';
import { pushImage } from '../helpers/oci.js';
import { WebhookReceiver } from '../helpers/webhook-receiver.js';

/** Internal addresses, each written in a way a naive check might miss. */
const INTERNAL_HOSTS = ['127.0.0.1', '[::1]', '169.254.169.254', '10.0.0.1', '192.168.1.1', '[::ffff:127.0.0.1]', '[::ffff:a9fe:a9fe]', '2130706433', '0177.0.0.1', '0x7f.1', '127.1', 'metadata.google.internal'];

async function listen(handler: (req: IncomingMessage, res: ServerResponse) => void, host: string): Promise<{ server: Server; url: string }> {
  const server = createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  return { server, url: `http://${host}:${(server.address() as AddressInfo).port}` };
}

const close = (server: Server | undefined) => new Promise((resolve) => (server ? server.close(resolve) : resolve(undefined)));

describe('SSRF through webhooks and replication', () => {
  let reg: TestRegistry;
  let owner: Credentials;
  let receiver: WebhookReceiver;
  let canary: Server;
  let canaryUrl: string;
  const canaryHits: string[] = [];
  /** The hostile remote (allowed: 127.0.0.1 is listed) and what it answers. */
  let peer: Server;
  let peerUrl: string;
  let peerMode: 'realm' | 'redirect' | 'upload-location' = 'redirect';

  before(async () => {
    ({ reg, owner } = await startTeamRegistry({
      scan: { enabled: false },
      webhooks: { allowedHosts: ['localhost', '127.0.0.3'], pollMs: 20, retryBaseMs: 40, retryMaxMs: 150, timeoutMs: 2_000 },
      replication: { allowedHosts: ['127.0.0.1'], pollMs: 20, maxAttempts: 1, requestRetries: 0, requestTimeoutMs: 3_000 },
    }));
    receiver = await WebhookReceiver.start();
    ({ server: canary, url: canaryUrl } = await listen((req, res) => {
      canaryHits.push(`${req.method} ${req.url}`);
      res.writeHead(200, { 'Content-Type': 'application/json' }).end('{"token":"t"}');
    }, '127.0.0.2'));
    ({ server: peer, url: peerUrl } = await listen((req, res) => {
      req.resume();
      const path = req.url ?? '';
      if (peerMode === 'realm') {
        res.writeHead(401, { 'WWW-Authenticate': `Bearer realm="${canaryUrl}/token",service="peer"`, 'Content-Type': 'application/json' }).end('{"errors":[{"code":"UNAUTHORIZED","message":"x"}]}');
      } else if (path === '/v2/') {
        res.writeHead(200, { 'Docker-Distribution-API-Version': 'registry/2.0' }).end('{}');
      } else if (peerMode === 'upload-location' && req.method === 'POST' && path.includes('/blobs/uploads/')) {
        res.writeHead(202, { Location: `${canaryUrl}/upload/1`, 'Docker-Upload-UUID': '1', Range: '0-0' }).end();
      } else if (peerMode === 'upload-location' && (req.method === 'HEAD' || req.method === 'GET')) {
        res.writeHead(404, { 'Content-Type': 'application/json' }).end('{"errors":[{"code":"BLOB_UNKNOWN","message":"x"}]}');
      } else {
        res.writeHead(307, { Location: `${canaryUrl}${path}` }).end();
      }
    }, '127.0.0.1'));
  });

  after(async () => {
    await receiver?.stop();
    await reg?.close();
    await close(canary);
    await close(peer);
  });

  const webhooks = async () => expect(await api(reg, 'GET', '/namespaces/team/webhooks', { as: owner }), 200).json.webhooks as { id: string; url: string }[];
  const rules = async () => expect(await api(reg, 'GET', '/namespaces/team/replication/rules', { as: owner }), 200).json.rules as { id: string }[];

  test('webhooks: every internal address is refused at creation, with the reason; nothing is saved', async () => {
    for (const host of INTERNAL_HOSTS) {
      const refused = expect(await api(reg, 'POST', '/namespaces/team/webhooks', { as: owner, body: { url: `http://${host}/hook`, events: ['push'] } }), 400, 'UNSUPPORTED');
      assert.match(refused.json.errors[0].message, /webhook target not allowed: the (address|host) .+ is not on webhooks\.allowedHosts/, host);
    }
    assert.deepEqual(await webhooks(), []);
  });

  test('webhooks: a listed name that resolves to loopback is refused at delivery; a change to an internal URL is refused', async () => {
    const created = expect(await api(reg, 'POST', '/namespaces/team/webhooks', { as: owner, body: { url: `http://localhost:${receiver.port}/hook`, events: ['push'] } }), 201);
    const id = created.json.id as string;
    const ping = expect(await api(reg, 'POST', `/namespaces/team/webhooks/${id}/ping`, { as: owner }), 200);
    assert.notEqual(ping.json.state, 'delivered');
    assert.match(JSON.stringify(ping.json), /resolves to .*(127\.0\.0\.1|::1).*not allowed/);
    for (const host of ['169.254.169.254', '[::ffff:127.0.0.1]', '2130706433']) {
      expect(await api(reg, 'PATCH', `/namespaces/team/webhooks/${id}`, { as: owner, body: { url: `http://${host}/hook` } }), 400, 'UNSUPPORTED');
    }
    assert.deepEqual((await webhooks()).map((w) => w.url), [`http://localhost:${receiver.port}/hook`]);
    assert.equal(receiver.received.length, 0, 'the receiver on loopback was reached');
    expect(await api(reg, 'DELETE', `/namespaces/team/webhooks/${id}`, { as: owner }), 204);
  });

  test('webhooks: an allowed receiver that redirects to an internal address is not followed', async () => {
    const { server: redirecting, url } = await listen((req, res) => {
      req.resume();
      res.writeHead(302, { Location: `${canaryUrl}/latest/meta-data/` }).end();
    }, '127.0.0.3');
    try {
      const id = expect(await api(reg, 'POST', '/namespaces/team/webhooks', { as: owner, body: { url: `${url}/hook`, events: ['push'] } }), 201).json.id as string;
      const ping = expect(await api(reg, 'POST', `/namespaces/team/webhooks/${id}/ping`, { as: owner }), 200);
      assert.notEqual(ping.json.state, 'delivered');
      assert.equal(ping.json.statusCode, 302);
      assert.match(JSON.stringify(ping.json), /redirect to http:\/\/127\.0\.0\.2:\d+\/latest\/meta-data\/ not followed/);
      assert.deepEqual(canaryHits, []);
      expect(await api(reg, 'DELETE', `/namespaces/team/webhooks/${id}`, { as: owner }), 204);
    } finally {
      await close(redirecting);
    }
  });

  test('replication: every internal address is refused at creation; nothing is saved', async () => {
    // 127.0.0.1 is listed, and so reachable however it is written; 127.0.0.2 is not.
    const notListed = ['127.0.0.2', '[::ffff:127.0.0.2]', '2130706434', '0177.0.0.2', '0x7f.2', '127.2', 'localhost:5000'];
    for (const host of [...INTERNAL_HOSTS.filter((h) => !/^(127\.|\[::ffff:127|2130706433|0177|0x7f)/.test(h)), ...notListed]) {
      const refused = expect(await api(reg, 'POST', '/namespaces/team/replication/rules', { as: owner, body: { direction: 'pull', remote: `http://${host}`, repositories: 'team/app' } }), 400, 'UNSUPPORTED');
      assert.match(refused.text, /remote not allowed: .*replication\.allowedHosts/, host);
    }
    assert.deepEqual(await rules(), []);
  });

  /** Create a rule for the hostile peer, run it, and wait for it to fail; its error. */
  async function runAgainstPeer(direction: 'pull' | 'push'): Promise<string> {
    const rule = expect(await api(reg, 'POST', '/namespaces/team/replication/rules', { as: owner, body: { direction, remote: peerUrl, repositories: 'team/app' } }), 201).json.id as string;
    expect(await api(reg, 'POST', `/namespaces/team/replication/rules/${rule}/run`, { as: owner }), 202);
    const deadline = Date.now() + 10_000;
    for (;;) {
      const runs = expect(await api(reg, 'GET', `/namespaces/team/replication/rules/${rule}/runs`, { as: owner }), 200).json.runs as { state: string; error: string | null }[];
      const run = runs[0];
      if (run && (run.state === 'failed' || run.state === 'done')) {
        expect(await api(reg, 'DELETE', `/namespaces/team/replication/rules/${rule}`, { as: owner }), 204);
        assert.equal(run.state, 'failed');
        return run.error ?? '';
      }
      assert.ok(Date.now() < deadline, `the run did not end: ${JSON.stringify(runs)}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  const catalog = async () => ((await (await fetch(`${reg.url}/v2/_catalog`, { headers: authHeaders(owner) })).json()) as { repositories: string[] }).repositories;

  test('replication: an allowed remote that redirects to an internal address is not followed', async () => {
    peerMode = 'redirect';
    const before = await catalog();
    const error = await runAgainstPeer('pull');
    assert.match(error, /127\.0\.0\.2.*not on replication\.allowedHosts/);
    assert.deepEqual(canaryHits, []);
    assert.deepEqual(await catalog(), before, 'a failed pull left a repository behind');
  });

  test('replication: a token realm on an internal address is not asked (the credentials stay home)', async () => {
    peerMode = 'realm';
    const error = await runAgainstPeer('pull');
    assert.match(error, /127\.0\.0\.2.*not on replication\.allowedHosts/);
    assert.deepEqual(canaryHits, []);
  });

  test('replication: an upload location on an internal address gets no bytes', async () => {
    await pushImage(reg.url, 'team/app', { reference: 'v1', headers: authHeaders(owner) });
    peerMode = 'upload-location';
    const error = await runAgainstPeer('push');
    assert.match(error, /127\.0\.0\.2.*not on replication\.allowedHosts/);
    assert.deepEqual(canaryHits, []);
  });
});
