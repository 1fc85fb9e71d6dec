// The SSRF rules for webhook targets, the request a delivery makes (pinned address, signature,
// no redirects, timeout, bounded excerpt), the retry schedule, event matching, and the envelope.
import { describe, test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { TargetPolicy, TargetRefused, type Resolver } from '../../src/events/targets.js';
import { EXCERPT_BYTES, send, signature } from '../../src/events/sender.js';
import { matches, retryDelay } from '../../src/events/webhooks.js';
import { toEnvelopeEvent, type StampedEvent } from '../../src/events/model.js';
import { loadConfig } from '../../src/config/load.js';

/** A fixed DNS: each name answers with the given addresses. */
function dns(table: Record<string, string[]>): Resolver {
  return async (name) => {
    const answers = table[name];
    if (!answers) throw new Error(`ENOTFOUND ${name}`);
    return answers.map((address) => ({ address, family: address.includes(':') ? 6 : 4 }));
  };
}

describe('target policy (SSRF)', () => {
  const resolver = dns({
    'hooks.example.com': ['93.184.216.34'],
    'ci.example.org': ['2606:2800:220:1::1'],
    'rebind.example.com': ['169.254.169.254'],
    'mixed.example.com': ['10.0.0.5', '93.184.216.34'],
    'internal.corp': ['10.20.0.7'],
    'mapped.example.com': ['::ffff:127.0.0.1'],
  });
  const policy = new TargetPolicy(['hooks.example.com', '*.example.org', 'rebind.example.com', 'mixed.example.com', 'internal.corp', 'mapped.example.com', '10.20.0.0/16', '192.0.2.10'], resolver);

  test('nothing is allowed by default', () => {
    const none = new TargetPolicy([]);
    for (const url of ['http://127.0.0.1/', 'https://hooks.example.com/x', 'http://[::1]/', 'http://169.254.169.254/latest/meta-data']) {
      assert.throws(() => none.check(url), TargetRefused, url);
    }
  });

  test('at creation: scheme, credentials, listed names, wildcards, addresses and ranges', () => {
    assert.equal(policy.check('https://hooks.example.com/hook?x=1').hostname, 'hooks.example.com');
    assert.equal(policy.check('https://HOOKS.example.com./hook').hostname, 'hooks.example.com.');
    assert.ok(policy.check('https://a.b.example.org/'));
    assert.throws(() => policy.check('https://example.org/'), /the host example\.org is not on webhooks\.allowedHosts/);
    assert.throws(() => policy.check('https://evil-example.org/'), TargetRefused);
    assert.throws(() => policy.check('https://hooks.example.com.evil.net/'), TargetRefused);
    assert.ok(policy.check('http://10.20.3.4:8080/'));
    assert.ok(policy.check('http://192.0.2.10/'));
    assert.throws(() => policy.check('http://192.0.2.11/'), /the address 192\.0\.2\.11 is not on webhooks\.allowedHosts/);
    assert.throws(() => policy.check('http://[::1]/'), TargetRefused);
    // Other spellings of a loopback address are still addresses.
    assert.throws(() => policy.check('http://2130706433/'), TargetRefused);
    assert.throws(() => policy.check('http://0x7f.1/'), TargetRefused);
    assert.throws(() => policy.check('ftp://hooks.example.com/'), /only http and https/);
    assert.throws(() => policy.check('http://user:pw@hooks.example.com/'), /credentials/);
    assert.throws(() => policy.check('not a url'), /not a valid URL/);
  });

  test('at delivery: a listed name may lead to public addresses only, and to listed ones', async () => {
    assert.deepEqual(await policy.resolveTarget('https://hooks.example.com/x').then((t) => [t.address, t.family]), ['93.184.216.34', 4]);
    assert.deepEqual(await policy.resolveTarget('https://ci.example.org/x').then((t) => [t.address, t.family]), ['2606:2800:220:1::1', 6]);
    await assert.rejects(policy.resolveTarget('http://rebind.example.com/'), /resolves to 169\.254\.169\.254, which is not allowed/);
    await assert.rejects(policy.resolveTarget('http://mapped.example.com/'), /not allowed/);
    // Only the address that passed is used.
    assert.equal((await policy.resolveTarget('http://mixed.example.com/')).address, '93.184.216.34');
    assert.equal((await policy.resolveTarget('http://internal.corp/')).address, '10.20.0.7');
    await assert.rejects(policy.resolveTarget('http://nowhere.example.org/'), /does not resolve/);
    assert.equal((await policy.resolveTarget('http://10.20.0.1:81/')).address, '10.20.0.1');
  });

  test('at connect (addressOf): a listed name at an allowed address; literals as check() has them', async () => {
    assert.deepEqual(await policy.addressOf('hooks.example.com'), { address: '93.184.216.34', family: 4 });
    assert.deepEqual(await policy.addressOf('mixed.example.com'), { address: '93.184.216.34', family: 4 });
    await assert.rejects(policy.addressOf('rebind.example.com'), (err) => err instanceof TargetRefused && /169\.254\.169\.254, which is not allowed/.test(err.message));
    await assert.rejects(policy.addressOf('unlisted.example.com'), /not on webhooks\.allowedHosts/);
    assert.deepEqual(await policy.addressOf('10.20.3.4'), { address: '10.20.3.4', family: 4 });
    await assert.rejects(policy.addressOf('127.0.0.1'), /127\.0\.0\.1 is not on/);
  });

  test('an upstream\'s policy: its own host at any address, other hosts at public addresses only', async () => {
    const upstreamDns = dns({ 'registry.corp': ['10.1.2.3'], 'cdn.example.net': ['93.184.216.35'], 'sneaky.example.net': ['10.1.2.3', '127.0.0.1'] });
    const named = TargetPolicy.forUpstream(new URL('https://REGISTRY.corp:5000/'), upstreamDns);
    assert.deepEqual(await named.addressOf('registry.corp'), { address: '10.1.2.3', family: 4 });
    assert.deepEqual(await named.addressOf('cdn.example.net'), { address: '93.184.216.35', family: 4 });
    await assert.rejects(named.addressOf('sneaky.example.net'), /which is not allowed/);
    assert.equal(named.check('https://203.0.114.9/blob').hostname, '203.0.114.9', 'a public literal');
    for (const url of ['http://10.1.2.3/', 'http://169.254.169.254/latest/meta-data/', 'http://[::1]/', 'http://0x7f000001/']) assert.throws(() => named.check(url), TargetRefused, url);
    const literal = TargetPolicy.forUpstream(new URL('http://127.0.0.1:5000/'), upstreamDns);
    assert.equal(literal.check('http://127.0.0.1:9000/blob').port, '9000', 'the same host, another port');
    assert.throws(() => literal.check('http://127.0.0.2:5000/'), /127\.0\.0\.2 is not on the upstream's own host/);
  });

  test('the configuration accepts names, wildcards, addresses and ranges, and nothing else', () => {
    const config = loadConfig({ env: { REGISTRY_WEBHOOKS_ALLOWED_HOSTS: 'hooks.example.com, *.example.org,10.0.0.0/8,::1' }, overrides: {} });
    assert.deepEqual(config.webhooks.allowedHosts, ['hooks.example.com', '*.example.org', '10.0.0.0/8', '::1']);
    assert.deepEqual(loadConfig({ env: {}, overrides: {} }).webhooks.allowedHosts, []);
    assert.throws(() => loadConfig({ env: {}, overrides: { webhooks: { allowedHosts: ['http://x.example.com'] } } }));
    assert.throws(() => loadConfig({ env: {}, overrides: { webhooks: { allowedHosts: ['10.0.0.0/33'] } } }));
    assert.throws(() => loadConfig({ env: {}, overrides: { webhooks: { timeoutMs: 5000, leaseMs: 2000 } } }), /longer than webhooks\.timeoutMs/);
  });
});

describe('the delivery request', () => {
  let server: Server;
  let port = 0;
  const seen: { headers: Record<string, unknown>; body: string }[] = [];
  before(async () => {
    server = createServer((req, res) => {
      const parts: Buffer[] = [];
      req.on('data', (c: Buffer) => parts.push(c));
      req.on('end', () => {
        seen.push({ headers: req.headers, body: Buffer.concat(parts).toString() });
        if (req.url === '/redirect') res.writeHead(302, { Location: 'http://169.254.169.254/' }).end();
        else if (req.url === '/big') res.writeHead(200).end('x'.repeat(100_000));
        else if (req.url === '/silent') return; // never answers
        else res.writeHead(204).end();
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    port = (server.address() as { port: number }).port;
  });
  after(async () => {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  });

  const target = (path: string) => ({ url: new URL(`http://hook.invalid:${port}${path}`), address: '127.0.0.1', family: 4 as const });

  test('goes to the checked address (no new lookup), keeps the Host, and is signed over timestamp and body', async () => {
    const body = '{"events":[]}';
    const result = await send(target('/ok'), body, { secret: 's3cret', timeoutMs: 2000, headers: { 'X-Registry-Event': 'push' } });
    assert.deepEqual({ ok: result.ok, statusCode: result.statusCode, error: result.error }, { ok: true, statusCode: 204, error: null });
    const got = seen.at(-1)!;
    assert.equal(got.headers['host'], `hook.invalid:${port}`);
    assert.equal(got.body, body);
    const ts = String(got.headers['x-registry-timestamp']);
    assert.ok(Math.abs(Number(ts) - Date.now() / 1000) < 5);
    const expected = `sha256=${createHmac('sha256', 's3cret').update(`${ts}.${body}`).digest('hex')}`;
    assert.equal(got.headers['x-registry-signature'], expected);
    assert.equal(signature('s3cret', ts, body), expected);
    assert.equal(got.headers['content-type'], 'application/vnd.docker.distribution.events.v1+json');
    assert.equal(got.headers['x-registry-event'], 'push');
  });

  test('a redirect is not followed; a long answer is cut to the excerpt; a silent receiver times out', async () => {
    const before = seen.length;
    const redirected = await send(target('/redirect'), '{}', { secret: 'k', timeoutMs: 2000 });
    assert.equal(redirected.ok, false);
    assert.equal(redirected.statusCode, 302);
    assert.match(redirected.error!, /^redirect to http:\/\/169\.254\.169\.254\/ not followed$/);
    assert.equal(seen.length, before + 1, 'only the one request');
    const big = await send(target('/big'), '{}', { secret: 'k', timeoutMs: 2000 });
    assert.equal(big.ok, true);
    assert.equal(big.excerpt!.length, EXCERPT_BYTES);
    const started = Date.now();
    const silent = await send(target('/silent'), '{}', { secret: 'k', timeoutMs: 300 });
    assert.equal(silent.ok, false);
    assert.equal(silent.statusCode, null);
    assert.equal(silent.error, 'no answer within 300 ms');
    assert.ok(Date.now() - started < 2000);
  });
});

describe('retries, matching and the envelope', () => {
  test('the retry delay doubles, is capped, and is jittered to 50-100 %', () => {
    assert.equal(retryDelay(1, 1000, 60_000, () => 1), 1000);
    assert.equal(retryDelay(2, 1000, 60_000, () => 1), 2000);
    assert.equal(retryDelay(4, 1000, 60_000, () => 0), 4000);
    assert.equal(retryDelay(30, 1000, 60_000, () => 1), 60_000);
    assert.equal(retryDelay(1000, 1000, 60_000, () => 1), 60_000);
  });

  const push: StampedEvent = {
    kind: 'push',
    id: 'e1',
    timestamp: '2026-01-01T00:00:00.000Z',
    repository: 'team/web/app',
    digest: 'sha256:abc',
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    size: 10,
    tag: 'v1',
    actor: 'olivia',
    request: { id: 'r1', addr: '10.0.0.1', host: 'registry.example.com', method: 'PUT', useragent: 'docker/27', baseUrl: 'https://registry.example.com' },
  };

  test('a webhook matches by kind, namespace and repository glob', () => {
    const hook = { namespace: 'team', events: ['push'], repositories: null, enabled: true };
    assert.ok(matches(hook, push));
    assert.ok(!matches({ ...hook, enabled: false }, push));
    assert.ok(!matches({ ...hook, events: ['pull'] }, push));
    assert.ok(!matches({ ...hook, namespace: 'other' }, push));
    assert.ok(matches({ ...hook, namespace: null }, push));
    assert.ok(matches({ ...hook, repositories: 'web/*' }, push));
    assert.ok(matches({ ...hook, repositories: 'team/web/*' }, push));
    assert.ok(!matches({ ...hook, repositories: 'api/*' }, push));
    const quota: StampedEvent = { kind: 'quota.exceeded', id: 'q', timestamp: push.timestamp, repository: 'team/x', namespace: 'team', quota: 'storage', message: 'm', detail: {}, actor: '' };
    assert.ok(matches({ ...hook, events: ['quota.exceeded'] }, quota));
  });

  test('events use the Distribution envelope; our kinds add their own object', () => {
    const source = { addr: 'node-1', instanceID: 'i-1' };
    assert.deepEqual(toEnvelopeEvent(push, source), {
      id: 'e1',
      timestamp: '2026-01-01T00:00:00.000Z',
      action: 'push',
      target: {
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        size: 10,
        length: 10,
        digest: 'sha256:abc',
        repository: 'team/web/app',
        url: 'https://registry.example.com/v2/team/web/app/manifests/sha256:abc',
        tag: 'v1',
      },
      request: { id: 'r1', addr: '10.0.0.1', host: 'registry.example.com', method: 'PUT', useragent: 'docker/27' },
      actor: { name: 'olivia' },
      source,
    });
    const scan = toEnvelopeEvent(
      { kind: 'scan.finished', id: 's', timestamp: push.timestamp, repository: 'team/app', digest: 'sha256:d', status: 'done', summary: { packages: 3, os: null, vulnerabilities: { CRITICAL: 1, HIGH: 0, MEDIUM: 0, LOW: 0, UNKNOWN: 0 } }, actor: 'scanner' },
      source,
    );
    assert.equal(scan.action, 'scan');
    assert.deepEqual(scan.target, { digest: 'sha256:d', repository: 'team/app' });
    assert.equal(scan.scan?.summary.vulnerabilities.CRITICAL, 1);
    const replication = toEnvelopeEvent({ kind: 'replication.done', id: 'r', timestamp: push.timestamp, repository: 'team/app', tag: 'v1', peer: 'https://mirror', status: 'done', actor: 'replication' }, source);
    assert.equal(replication.action, 'replication');
    assert.deepEqual(replication.replication, { peer: 'https://mirror', status: 'done' });
    const removed = toEnvelopeEvent({ kind: 'delete', id: 'd', timestamp: push.timestamp, repository: 'team/app', digest: 'sha256:d', actor: 'gc', reason: 'gc' }, source);
    assert.deepEqual(removed.target, { digest: 'sha256:d', repository: 'team/app' });
    assert.equal(removed.reason, 'gc');
    assert.deepEqual(toEnvelopeEvent({ ...removed, kind: 'delete', repository: 'a', actor: '' } as StampedEvent, source).actor, {});
  });
});
