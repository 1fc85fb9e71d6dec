// Audit forwarding: every audit event of a push, pull, delete and login reaches a syslog
// receiver (RFC 5424 over TCP with octet counting, and UDP) and an HTTP sink, exactly once,
// also when the receiver was down for a while or the registry restarted in between, and with
// a bounded backlog.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { startRegistry, makeTempDir, type TestRegistry } from '../helpers/registry.js';
import { ADMIN, startAuthRegistry } from '../helpers/api.js';
import { bearerAuth, eventually, requestToken, tokenFor } from '../helpers/auth.js';
import { pushImage, expectStatus } from '../helpers/oci.js';
import { SyslogReceiver } from '../helpers/syslog.js';
import { scrape } from '../helpers/metrics.js';
import { readFile, rm } from 'node:fs/promises';
import { makeCertificates } from '../helpers/certificates.js';

const FAST = { pollMs: 50, retryMs: 50, maxRetryMs: 200, leaseMs: 5_000 };
const HTTP_TOKEN = 'sink-token-123';
const HMAC_SECRET = 'sink-hmac-secret';

/** An HTTP sink that checks the bearer token and signature and keeps the events; answers 503 while `down`. */
class HttpCollector {
  readonly events: Record<string, unknown>[] = [];
  readonly problems: string[] = [];
  down = false;
  requests = 0;
  private server: Server | undefined;
  url = '';

  async start(): Promise<void> {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        this.requests++;
        if (this.down) {
          res.writeHead(503).end();
          return;
        }
        const body = Buffer.concat(chunks);
        if (req.headers['authorization'] !== `Bearer ${HTTP_TOKEN}`) this.problems.push('missing bearer token');
        const expected = `sha256=${createHmac('sha256', HMAC_SECRET).update(body).digest('hex')}`;
        if (req.headers['x-registry-signature'] !== expected) this.problems.push('bad signature');
        if (!/^application\/json/.test(req.headers['content-type'] ?? '')) this.problems.push('not JSON');
        this.events.push(...(JSON.parse(body.toString('utf8')) as { events: Record<string, unknown>[] }).events);
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server!.address() as { port: number }).port}/audit`;
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise((resolve) => this.server?.close(resolve));
  }
}

/** The ids of the audit log, oldest first, once no more are being written (some are recorded just after the response). */
async function loggedIds(reg: TestRegistry): Promise<number[]> {
  const read = async () => {
    await reg.app.auditor.flush();
    return (await reg.app.access.queryAudit({ limit: 10_000 })).map((e) => e.id).reverse();
  };
  let last = await read();
  for (let i = 0; i < 50; i++) {
    await new Promise((r) => setTimeout(r, 100));
    const now = await read();
    if (now.length === last.length) return now;
    last = now;
  }
  return last;
}

function ids(events: Record<string, unknown>[]): number[] {
  return events.map((e) => e['id'] as number).sort((a, b) => a - b);
}

/** Wait until as many events arrived as the log holds, then check each arrived exactly once (a moment later: no late duplicates). */
async function allReceived(received: () => Record<string, unknown>[], logged: number[], what: string): Promise<void> {
  await eventually(async () => received().length >= logged.length, what, 10_000);
  await new Promise((r) => setTimeout(r, 200));
  assert.deepEqual(ids(received()), logged);
}

/** Push an image, pull it, delete it, with a token from a login: the events a user makes. */
async function pushPullDelete(reg: TestRegistry, repo: string): Promise<string> {
  const token = await tokenFor(reg.url, ADMIN, [`repository:${repo}:pull,push,delete`]);
  const image = await pushImage(reg.url, repo, { reference: 'v1', headers: bearerAuth(token) });
  await expectStatus(await fetch(`${reg.url}/v2/${repo}/manifests/v1`, { headers: { ...bearerAuth(token), Accept: image.manifest.mediaType } }), 200);
  await expectStatus(await fetch(`${reg.url}/v2/${repo}/manifests/${image.digest}`, { method: 'DELETE', headers: bearerAuth(token) }), 202);
  return image.digest;
}

describe('audit forwarding to syslog (TCP) and HTTP', () => {
  let reg: TestRegistry;
  const syslog = new SyslogReceiver('tcp');
  const http = new HttpCollector();
  before(async () => {
    await syslog.start();
    await http.start();
    reg = await startAuthRegistry({
      auditForwarding: { ...FAST, syslog: { url: syslog.url, hostname: 'registry-test' }, http: { url: http.url, bearerToken: HTTP_TOKEN, hmacSecret: HMAC_SECRET } },
    });
  });
  after(async () => {
    await reg.close();
    await syslog.stop();
    await http.stop();
  });

  test('every event of a login, push, pull and delete arrives once, in RFC 5424 with the documented JSON', async () => {
    const digest = await pushPullDelete(reg, 'team/app');
    const failed = await requestToken(reg.url, { username: 'mallory', password: 'wrong' }, []);
    assert.equal(failed.status, 401);
    const logged = await loggedIds(reg);
    await eventually(async () => syslog.messages.length >= logged.length && http.events.length >= logged.length, 'forwarded events', 10_000);
    assert.deepEqual(syslog.errors, []);
    assert.deepEqual(http.problems, []);
    assert.deepEqual(ids(syslog.events()), logged);
    assert.deepEqual(ids(http.events), logged);

    const byAction = (action: string) => syslog.messages.filter((m) => m.json['action'] === action);
    assert.equal(byAction('login').length, 1);
    const push = byAction('push');
    assert.equal(push.length, 1);
    assert.equal(push[0]!.json['repository'], 'team/app');
    assert.equal(push[0]!.json['reference'], 'v1');
    assert.equal(push[0]!.json['digest'], digest);
    assert.equal(push[0]!.json['actor'], ADMIN.username);
    assert.equal(byAction('pull')[0]?.json['reference'], 'v1');
    assert.equal(byAction('pull')[0]?.json['digest'], digest);
    assert.equal(byAction('delete')[0]?.json['reference'], digest);
    const failure = byAction('login.failed')[0]!;
    assert.equal(failure.json['actor'], 'mallory');
    assert.equal(failure.pri, 13 * 8 + 4, 'a failed login is a warning');

    for (const m of push) {
      assert.equal(m.version, '1');
      assert.equal(m.pri, 13 * 8 + 5);
      assert.equal(m.hostname, 'registry-test');
      assert.equal(m.appName, 'registry');
      assert.equal(m.msgId, 'push');
      assert.equal(m.structuredData, '-');
      assert.equal(m.timestamp, m.json['time']);
      assert.match(m.timestamp, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
      assert.deepEqual(Object.keys(m.json).sort(), ['action', 'actor', 'detail', 'digest', 'id', 'reference', 'repository', 'schema', 'service', 'source', 'time']);
      assert.equal(m.json['schema'], 'registry.audit/v1');
      assert.equal(m.json['service'], 'registry');
      assert.equal(m.json['source'], '127.0.0.1');
    }
  });

  test('events made while the receivers were down arrive after they come back, none twice', async () => {
    await syslog.stop();
    http.down = true;
    const requestsBefore = http.requests;
    await pushPullDelete(reg, 'team/outage');
    const logged = await loggedIds(reg);
    await eventually(async () => http.requests > requestsBefore + 1, 'delivery attempts to the HTTP sink while down');
    const metrics = await scrape(reg.url);
    assert.ok(metrics.value('registry_audit_forwarding_failures_total', { sink: 'syslog' }) > 0);
    assert.ok(metrics.value('registry_audit_forwarding_backlog_events', { sink: 'syslog' }) >= 3, 'the push, pull and delete wait');
    assert.ok(syslog.messages.length < logged.length);

    await syslog.start();
    http.down = false;
    await eventually(async () => syslog.messages.length >= logged.length && http.events.length >= logged.length, 'the backlog after the outage', 10_000);
    assert.deepEqual(ids(syslog.events()), logged);
    assert.deepEqual(ids(http.events), logged);
    const outage = syslog.messages.filter((m) => m.json['repository'] === 'team/outage').map((m) => m.json['action']);
    assert.deepEqual(outage.sort(), ['delete', 'pull', 'push']);
  });
});

describe('audit forwarding: restarts, UDP, several nodes, bounded backlog', () => {
  test('events queued while the receiver was down survive a registry restart', async () => {
    const dir = await makeTempDir();
    const syslog = new SyslogReceiver('tcp');
    await syslog.start();
    await syslog.stop(); // the port is known, nothing listens on it
    const settings = {
      auth: { enabled: true, initialAdminUsername: ADMIN.username, initialAdminPassword: ADMIN.password },
      auditForwarding: { ...FAST, syslog: { url: syslog.url } },
    };
    let reg = await startRegistry(settings, dir);
    try {
      await pushPullDelete(reg, 'team/restart');
      const logged = await loggedIds(reg);
      await reg.close();
      reg = await startRegistry(settings, dir);
      await syslog.start();
      await allReceived(() => syslog.events(), logged, 'events from before the restart');
    } finally {
      await reg.close();
      await syslog.stop();
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('a receiver that keeps its end open still gets each event once', async () => {
    const syslog = new SyslogReceiver('tcp');
    syslog.holdOpen = true;
    await syslog.start();
    const reg = await startAuthRegistry({ auditForwarding: { ...FAST, syslog: { url: syslog.url, timeoutMs: 1_000 } } });
    try {
      await pushPullDelete(reg, 'team/half-open');
      const logged = await loggedIds(reg);
      await allReceived(() => syslog.events(), logged, 'events to a half-open receiver');
      await new Promise((r) => setTimeout(r, 1_500));
      assert.deepEqual(ids(syslog.events()), logged, 'nothing sent twice after the close wait');
    } finally {
      await reg.close();
      await syslog.stop();
    }
  });

  test('over UDP, one datagram per event', async () => {
    const syslog = new SyslogReceiver('udp');
    await syslog.start();
    const reg = await startAuthRegistry({ auditForwarding: { ...FAST, syslog: { url: syslog.url } } });
    try {
      await pushPullDelete(reg, 'team/udp');
      const logged = await loggedIds(reg);
      await allReceived(() => syslog.events(), logged, 'UDP events');
      assert.deepEqual(syslog.errors, []);
    } finally {
      await reg.close();
      await syslog.stop();
    }
  });

  test('over TLS, with the CA that signed the receiver; a receiver nobody vouches for gets nothing', async () => {
    const dir = await makeTempDir('syslog-tls-');
    const { ca, cert, key } = await makeCertificates(dir);
    const syslog = new SyslogReceiver('tls', { cert: await readFile(cert), key: await readFile(key) });
    await syslog.start();
    const untrusted = await startAuthRegistry({ auditForwarding: { ...FAST, syslog: { url: syslog.url } } });
    try {
      await pushPullDelete(untrusted, 'team/untrusted');
      await eventually(async () => (await scrape(untrusted.url)).value('registry_audit_forwarding_failures_total', { sink: 'syslog' }) > 0, 'a refused delivery');
      assert.equal(syslog.messages.length, 0);
    } finally {
      await untrusted.close();
    }
    const reg = await startAuthRegistry({ auditForwarding: { ...FAST, syslog: { url: syslog.url, caFile: ca } } });
    try {
      await pushPullDelete(reg, 'team/tls');
      const logged = await loggedIds(reg);
      await allReceived(() => syslog.events(), logged, 'TLS events');
      assert.deepEqual(syslog.errors, []);
    } finally {
      await reg.close();
      await syslog.stop();
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('two nodes on one database send each event once', async () => {
    const dir = await makeTempDir();
    const syslog = new SyslogReceiver('tcp');
    await syslog.start();
    const settings = {
      auth: { enabled: true, initialAdminUsername: ADMIN.username, initialAdminPassword: ADMIN.password },
      auditForwarding: { ...FAST, batchSize: 7, syslog: { url: syslog.url } },
    };
    const a = await startRegistry(settings, dir);
    const b = await startRegistry(settings, dir);
    try {
      for (let i = 0; i < 150; i++) await (i % 2 ? a : b).app.auditor.record({ actor: 'ci', action: 'push', repository: 'team/many', reference: `v${i}` });
      const logged = await loggedIds(a);
      await allReceived(() => syslog.events(), logged, 'events from both nodes');
    } finally {
      await a.close();
      await b.close();
      await syslog.stop();
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('past maxBacklog the oldest undelivered events are dropped and counted', async () => {
    const syslog = new SyslogReceiver('tcp');
    await syslog.start();
    await syslog.stop();
    const reg = await startAuthRegistry({ auditForwarding: { ...FAST, maxBacklog: 5, syslog: { url: syslog.url } } });
    try {
      await reg.app.auditor.flush();
      const before = await loggedIds(reg);
      for (let i = 0; i < 12; i++) await reg.app.auditor.record({ actor: 'ci', action: 'push', repository: 'team/bounded', reference: `v${i}` });
      await eventually(async () => ((await scrape(reg.url)).value('registry_audit_forwarding_dropped_events_total', { sink: 'syslog' })) >= before.length + 7, 'dropped counter');
      await syslog.start();
      await eventually(async () => syslog.messages.length >= 5, 'the newest events');
      await new Promise((r) => setTimeout(r, 300));
      assert.deepEqual(
        syslog.messages.map((m) => m.json['reference']),
        ['v7', 'v8', 'v9', 'v10', 'v11'],
      );
    } finally {
      await reg.close();
      await syslog.stop();
    }
  });
});
