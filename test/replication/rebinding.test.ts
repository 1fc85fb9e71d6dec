// DNS rebinding against a namespace's replication rule: the remote's name answers a public
// address while it is checked and a loopback one when the connection is opened. The
// connection must go to an address replication.allowedHosts allows, resolved once when it is
// opened: the loopback server behind the name sees nothing, and the run fails saying why.
// A name that resolves to an allowed address keeps replicating through the same path.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { startRegistry, type TestRegistry } from '../helpers/registry.js';
import { ADMIN, api, authHeaders, expect, startAuthRegistry } from '../helpers/api.js';
import { pushImage } from '../helpers/oci.js';
import { OCI_MANIFEST } from '../helpers/oci-layout.js';
import type { Resolver } from '../../src/events/targets.js';

const FAST = { pollMs: 50, retryBaseMs: 100, retryMaxMs: 200, maxAttempts: 1, requestRetries: 0, requestTimeoutMs: 5000 };

interface Run {
  state: string;
  error: string | null;
  copied: { manifests: number; blobs: number };
}

async function settledRuns(reg: TestRegistry, rule: string): Promise<Run[]> {
  let runs: Run[] = [];
  for (let i = 0; i < 200; i++) {
    runs = expect(await api(reg, 'GET', `/namespaces/team/replication/rules/${rule}/runs`, { as: ADMIN }), 200).json.runs as Run[];
    if (runs.length > 0 && runs.every((r) => r.state === 'done' || r.state === 'failed')) return runs;
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.fail(`runs did not finish: ${JSON.stringify(runs)}`);
}

async function runRule(reg: TestRegistry, body: Record<string, unknown>): Promise<Run[]> {
  const rule = expect(await api(reg, 'POST', '/namespaces/team/replication/rules', { as: ADMIN, body: { trigger: 'manual', ...body } }), 201).json.id as string;
  expect(await api(reg, 'POST', `/namespaces/team/replication/rules/${rule}/run`, { as: ADMIN }), 202);
  return settledRuns(reg, rule);
}

describe('replication and DNS rebinding', { timeout: 60_000 }, () => {
  let peer: TestRegistry;
  let peerPort: number;

  before(async () => {
    peer = await startRegistry({ scan: { enabled: false } });
    peerPort = Number(new URL(peer.url).port);
  });
  after(async () => {
    await peer?.close();
  });

  test('a name that rebinds to 127.0.0.1 after its checks: no request reaches the loopback server, the run fails saying why', async () => {
    // `localhost` because the system resolves it to loopback too: without the connect-time
    // lookup, fetch would resolve it again by itself and reach the server below.
    const requests: string[] = [];
    const loopback: Server = createServer((req, res) => {
      requests.push(`${req.method} ${req.url}`);
      res.writeHead(200, { 'content-type': 'application/json', 'docker-distribution-api-version': 'registry/2.0' }).end('{"name":"team/app","tags":["v1"]}');
    });
    await new Promise<void>((resolve) => loopback.listen(0, '127.0.0.1', resolve));
    const port = (loopback.address() as { port: number }).port;
    const asked: string[] = [];
    // A TTL-0 rebinding name: public for the run's check of the remote and the request's check
    // of its URL, loopback from then on.
    const rebinding: Resolver = async (host) => {
      asked.push(host);
      return [{ address: asked.length <= 2 ? '93.184.216.34' : '127.0.0.1', family: 4 }];
    };
    const source = await startAuthRegistry({ scan: { enabled: false }, replication: { ...FAST, allowedHosts: ['localhost'] } }, { resolver: rebinding });
    try {
      expect(await api(source, 'POST', '/namespaces', { as: ADMIN, body: { name: 'team' } }), 201);
      const runs = await runRule(source, { direction: 'pull', remote: `localhost:${port}`, repositories: 'team/app' });
      assert.equal(runs.length, 1);
      assert.equal(runs[0]!.state, 'failed');
      assert.match(runs[0]!.error ?? '', /localhost resolves to 127\.0\.0\.1, which is not allowed/);
      assert.deepEqual(requests, [], 'the loopback server saw no request');
      assert.ok(asked.length >= 3, `the connection asked the policy's resolver (asked ${asked.length} times)`);
    } finally {
      await source.close();
      await new Promise((resolve) => loopback.close(resolve));
    }
  });

  test('a name on allowedHosts that resolves to an allowed address: the image replicates through the checked connection', async () => {
    const image = await pushImage(peer.url, 'team/app', { reference: 'v1', layers: 2 });
    const asked: string[] = [];
    const resolver: Resolver = async (host) => {
      asked.push(host);
      return host === 'peer.test' ? [{ address: '127.0.0.1', family: 4 }] : [];
    };
    // peer.test exists only for this resolver: the run can succeed only through it.
    const source = await startAuthRegistry({ scan: { enabled: false }, replication: { ...FAST, allowedHosts: ['peer.test', '127.0.0.1'] } }, { resolver });
    try {
      expect(await api(source, 'POST', '/namespaces', { as: ADMIN, body: { name: 'team' } }), 201);
      const runs = await runRule(source, { direction: 'pull', remote: `http://peer.test:${peerPort}`, repositories: 'team/app' });
      assert.equal(runs[0]!.state, 'done', runs[0]!.error ?? '');
      assert.equal(runs[0]!.copied.manifests, 1);
      assert.equal(runs[0]!.copied.blobs, 3);
      const got = await fetch(`${source.url}/v2/team/app/manifests/v1`, { headers: { Accept: OCI_MANIFEST, ...authHeaders(ADMIN) } });
      assert.equal(got.status, 200);
      assert.equal(got.headers.get('docker-content-digest'), image.digest);
      assert.ok(Buffer.from(await got.arrayBuffer()).equals(image.bytes));
      assert.ok(asked.length >= 3 && asked.every((h) => h === 'peer.test'));
    } finally {
      await source.close();
    }
  });
});
