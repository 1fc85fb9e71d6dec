// Replication against real peers: CNCF Distribution (Debian's docker-registry, started here on
// loopback) as push target and pull source, and a second instance of this registry with access
// control as a push target that is down at first. Digests and bytes are compared at the other
// end; the peer's access log shows that a second run uploads no blob.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { makeTempDir, startRegistry, type TestRegistry } from '../helpers/registry.js';
import { ADMIN, api, authHeaders, expect, startAuthRegistry } from '../helpers/api.js';
import { runCli } from '../helpers/cli.js';
import { dockerRegistryAvailable, startDockerRegistry, type PeerRegistry } from '../helpers/docker-registry.js';
import { OCI_INDEX, OCI_MANIFEST } from '../helpers/oci-layout.js';
import { pushImage } from '../helpers/oci.js';
import { assertHolds, fixtureBlobs, manifestDigests, multiArchFixture, pushFixture, type MultiArchFixture } from '../helpers/transfer.js';
import { freePort } from '../helpers/proxy.js';
import { DistributionClient } from '../../src/distribution-client/index.js';
import type { StampedEvent } from '../../src/events/model.js';

const ready = await dockerRegistryAvailable();
const ACCEPT = `${OCI_INDEX}, ${OCI_MANIFEST}`;
/** Fast retries, so that "down, then up" takes a second or two. */
const REPLICATION = { allowedHosts: ['127.0.0.1'], pollMs: 50, retryBaseMs: 200, retryMaxMs: 1000, maxAttempts: 30, requestRetries: 0, requestTimeoutMs: 5000 };

interface Run {
  id: string;
  trigger: string;
  repository: string | null;
  reference: string | null;
  state: string;
  attempts: number;
  copied: { manifests: number; blobs: number; bytes: number };
  error: string | null;
}

/** The rule's history; `scope` is `/namespaces/<name>` for a namespace's rule. */
async function runsOf(reg: TestRegistry, rule: string, scope = ''): Promise<Run[]> {
  return expect(await api(reg, 'GET', `${scope}/replication/rules/${rule}/runs`, { as: ADMIN }), 200).json.runs as Run[];
}

/** Polls the rule's history until `done` holds (bounded). */
async function waitForRuns(reg: TestRegistry, rule: string, done: (runs: Run[]) => boolean, what: string, scope = ''): Promise<Run[]> {
  let runs: Run[] = [];
  for (let i = 0; i < 300; i++) {
    runs = await runsOf(reg, rule, scope);
    if (done(runs)) return runs;
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.fail(`${what}; runs: ${JSON.stringify(runs)}`);
}

const settled = (runs: Run[]) => runs.length > 0 && runs.every((r) => r.state === 'done' || r.state === 'failed');

async function digestAt(base: string, repo: string, reference: string, headers: Record<string, string> = {}): Promise<string | null> {
  const res = await fetch(`${base}/v2/${repo}/manifests/${reference}`, { method: 'HEAD', headers: { ...headers, Accept: ACCEPT } });
  return res.status === 200 ? res.headers.get('docker-content-digest') : null;
}

const uploads = (log: { method: string; path: string }[]) => log.filter((r) => r.path.includes('/blobs/uploads/'));

describe('replication', { skip: ready ? false : 'needs docker-registry (scripts/install-test-deps.sh)', timeout: 60_000 }, () => {
  let work: string;
  let fixture: MultiArchFixture;
  let peer: PeerRegistry;
  let source: TestRegistry;
  const events: StampedEvent[] = [];

  before(async () => {
    work = await makeTempDir('replication-');
    fixture = await multiArchFixture(work);
    peer = await startDockerRegistry();
    source = await startAuthRegistry({ scan: { enabled: false }, replication: REPLICATION });
    source.app.events.subscribe((e) => void (e.kind === 'replication.done' && events.push(e)));
    expect(await api(source, 'POST', '/namespaces', { as: ADMIN, body: { name: 'team' } }), 201);
    expect(await api(source, 'POST', '/namespaces', { as: ADMIN, body: { name: 'other' } }), 201);
  });
  after(async () => {
    await source?.close();
    await peer?.close();
    if (work) await rm(work, { recursive: true, force: true });
  });

  describe('a push rule to docker-registry, triggered by pushes', () => {
    let rule: string;

    test('a push of a multi-arch index and its SBOM reaches the peer with the same digests and bytes', async () => {
      const created = expect(
        await api(source, 'POST', '/replication/rules', { as: ADMIN, body: { direction: 'push', remote: peer.host, repositories: 'team/*', tags: 'v*', trigger: 'event' } }),
        201,
      ).json;
      rule = created.id;
      assert.equal(created.referrers, true);
      await pushFixture(source.url, 'team/app', 'v1', fixture, authHeaders(ADMIN));
      // A tag outside the rule's glob is not replicated.
      await pushImage(source.url, 'team/app', { reference: 'latest', headers: authHeaders(ADMIN) });

      const runs = await waitForRuns(source, rule, settled, 'the pushes were replicated');
      assert.deepEqual(runs.map((r) => r.state), runs.map(() => 'done'));
      assert.deepEqual(runs.map((r) => r.reference).sort(), [fixture.referrer.digest, 'v1'].sort(), 'one run for the tag, one for the referrer');
      assert.ok(runs.every((r) => r.trigger === 'event'));
      const tagRun = runs.find((r) => r.reference === 'v1')!;
      assert.ok(tagRun.copied.blobs >= 5 && tagRun.copied.bytes > 100_000, JSON.stringify(tagRun.copied));

      assert.equal(await digestAt(peer.url, 'team/app', 'v1'), fixture.index.descriptor.digest);
      assert.equal(await digestAt(peer.url, 'team/app', 'latest'), null, 'latest does not match v*');
      await assertHolds(peer.url, 'team/app', fixtureBlobs(fixture), manifestDigests(fixture));
      // The SBOM, findable at the peer through the referrers tag schema (Distribution 2.8 has no referrers API).
      const referrers = await new DistributionClient(peer.host).listReferrers('team/app', fixture.index.descriptor.digest);
      assert.deepEqual(referrers.map((r) => r.digest), [fixture.referrer.digest]);
      const sbom = await new DistributionClient(peer.host).getManifest('team/app', fixture.referrer.digest);
      assert.ok(sbom.bytes.equals(fixture.referrer.manifest));
      await source.app.events.settle();
      assert.ok(events.some((e) => e.kind === 'replication.done' && e.status === 'done' && e.repository === 'team/app' && 'tag' in e && e.tag === 'v1' && e.peer === peer.host));
    });

    test('a second run by hand (registry replicate) uploads no blob', async () => {
      const before = (await peer.requests()).length;
      const res = await runCli(source, ['replicate', '--rule', rule, '--json']);
      assert.equal(res.code, 0, res.stderr + res.stdout);
      const out = JSON.parse(res.stdout);
      assert.equal(out.rules.length, 1);
      assert.equal(out.rules[0].run.state, 'done');
      assert.equal(out.rules[0].report.blobs, 0);
      assert.equal(out.rules[0].report.manifests, 0);
      const log = (await peer.requests()).slice(before);
      assert.ok(log.length > 0, 'the run asked the peer');
      assert.deepEqual(uploads(log), [], 'no upload started');
      assert.deepEqual(log.filter((r) => r.method !== 'HEAD' && r.method !== 'GET'), [], 'nothing written');

      const runs = await runsOf(source, rule);
      assert.equal(runs[0]!.trigger, 'manual');
      assert.equal(runs[0]!.state, 'done');
    });

    test('a dry run reports without writing or recording', async () => {
      const res = await runCli(source, ['replicate', '--rule', rule, '--dry-run']);
      assert.equal(res.code, 0, res.stderr);
      assert.match(res.stdout, /team\/app:v1 unchanged/);
      assert.match(res.stdout, /would have copied 0 manifest/);
    });

    test('the rule and its runs through the API: the password is never shown', async () => {
      const changed = expect(await api(source, 'PATCH', `/replication/rules/${rule}`, { as: ADMIN, body: { credentials: { username: 'u', password: 's3cret-pw' } } }), 200);
      assert.deepEqual(changed.json.credentials, { username: 'u', password: 'set' });
      const listed = expect(await api(source, 'GET', '/replication/rules', { as: ADMIN }), 200);
      assert.doesNotMatch(listed.text, /s3cret-pw/);
      const audit = expect(await api(source, 'GET', '/audit?action=replication.update', { as: ADMIN }), 200);
      assert.doesNotMatch(audit.text, /s3cret-pw/);
      assert.match(audit.text, /replication\.update/);
      expect(await api(source, 'PATCH', `/replication/rules/${rule}`, { as: ADMIN, body: { credentials: null } }), 200);
      expect(await api(source, 'POST', '/replication/rules', { as: ADMIN, body: { direction: 'pull', remote: peer.host, repositories: 'x/*', trigger: 'event' } }), 400, 'UNSUPPORTED');
      expect(await api(source, 'POST', '/replication/rules', { as: ADMIN, body: { direction: 'push', remote: 'https://user:pw@example.com', repositories: 'x/*' } }), 400, 'UNSUPPORTED');
      // A namespace's rule points at allowed hosts only (replication.allowedHosts), and covers its own repositories only.
      const refused = expect(await api(source, 'POST', '/namespaces/team/replication/rules', { as: ADMIN, body: { direction: 'push', remote: '10.0.0.8:5000', repositories: 'team/*' } }), 400, 'UNSUPPORTED');
      assert.match(refused.text, /replication\.allowedHosts/);
      expect(await api(source, 'POST', '/namespaces/team/replication/rules', { as: ADMIN, body: { direction: 'push', remote: peer.host, repositories: 'other/*' } }), 400, 'UNSUPPORTED');
      const doc = expect(await api(source, 'GET', '/openapi.json'), 200).json;
      for (const p of ['/replication/rules', '/replication/rules/{id}/runs', '/namespaces/{name}/replication/rules/{id}/run']) assert.ok(doc.paths[p], `missing ${p}`);
    });
  });

  test('a scheduled rule runs every intervalMs; deleting the namespace removes its rules', async () => {
    const rule = expect(
      await api(source, 'POST', '/namespaces/team/replication/rules', { as: ADMIN, body: { direction: 'push', remote: peer.host, repositories: 'team/*', tags: 'v1', trigger: 'schedule', intervalMs: 1000 } }),
      201,
    ).json.id as string;
    const runs = await waitForRuns(source, rule, (r) => r.filter((x) => x.state === 'done').length >= 2, 'two scheduled runs', '/namespaces/team');
    assert.ok(runs.every((r) => r.trigger === 'schedule'));
    assert.ok(runs.filter((r) => r.state === 'done').every((r) => r.copied.blobs === 0), 'nothing left to send');
    expect(await api(source, 'DELETE', '/namespaces/team', { as: ADMIN }), 204);
    assert.equal(await source.app.replication.store.getRule(rule), undefined);
  });

  test('a pull rule from docker-registry, run by hand, copies every platform and the referrer', async () => {
    const target = await startRegistry({ scan: { enabled: false } });
    try {
      const rule = await target.app.replication.store.createRule({
        namespace: null,
        direction: 'pull',
        remoteUrl: peer.host,
        username: null,
        password: null,
        repositories: 'team/*',
        tags: 'v*',
        referrers: true,
        trigger: 'manual',
        intervalMs: null,
        enabled: true,
        createdBy: 'test',
      });
      const res = await runCli(target, ['replicate', '--rule', rule.id]);
      assert.equal(res.code, 0, res.stderr + res.stdout);
      assert.match(res.stdout, /team\/app:v1 copied sha256:/);
      assert.match(res.stderr, /^fetch team\/app: /m, 'progress on stderr');
      assert.equal(await digestAt(target.url, 'team/app', 'v1'), fixture.index.descriptor.digest);
      await assertHolds(target.url, 'team/app', fixtureBlobs(fixture), manifestDigests(fixture));
      const referrers = await new DistributionClient(target.host).listReferrers('team/app', fixture.index.descriptor.digest);
      assert.deepEqual(referrers.map((r) => r.digest), [fixture.referrer.digest]);
      const runs = await target.app.replication.store.listRuns(rule.id, 10);
      assert.equal(runs.length, 1);
      assert.equal(runs[0]!.state, 'done');
      assert.ok(runs[0]!.blobs >= 5);
    } finally {
      await target.close();
    }
  });

  test('a push rule to another instance of this registry with access control: down at first, retried, then done', async () => {
    const port = await freePort();
    const password = 'target-admin-pw-1';
    const rule = expect(
      await api(source, 'POST', '/namespaces/other/replication/rules', {
        as: ADMIN,
        body: { direction: 'push', remote: `127.0.0.1:${port}`, credentials: { username: 'admin', password }, repositories: 'other/*', trigger: 'event' },
      }),
      201,
    ).json.id as string;
    const image = await pushImage(source.url, 'other/img', { reference: '1.0', layers: 2, headers: authHeaders(ADMIN) });
    const failing = await waitForRuns(
      source,
      rule,
      (runs) => runs.some((r) => r.state === 'queued' && r.attempts >= 2 && r.error !== null),
      'the run failed and waits for a retry',
      '/namespaces/other',
    );
    assert.match(failing[0]!.error!, /connection failed|ECONNREFUSED/);

    const target = await startAuthRegistry({ scan: { enabled: false }, http: { port }, auth: { enabled: true, initialAdminUsername: 'admin', initialAdminPassword: password, throttleSlowAfter: 10_000, throttleRefuseAfter: 10_000 } });
    try {
      const runs = await waitForRuns(source, rule, settled, 'the run was retried and finished', '/namespaces/other');
      assert.equal(runs[0]!.state, 'done');
      assert.ok(runs[0]!.attempts >= 3);
      assert.equal(runs[0]!.error, null);
      assert.equal(runs[0]!.copied.blobs, 3);
      const creds = authHeaders({ username: 'admin', password });
      assert.equal(await digestAt(target.url, 'other/img', '1.0'), null, 'not readable anonymously');
      assert.equal(await digestAt(target.url, 'other/img', '1.0', creds), image.digest);
      for (const d of [image.config, ...image.layers]) {
        const res = await fetch(`${target.url}/v2/other/img/blobs/${d.digest}`, { headers: creds });
        assert.equal(res.status, 200);
        assert.equal((await res.arrayBuffer()).byteLength, d.size);
      }
      const got = await fetch(`${target.url}/v2/other/img/manifests/1.0`, { headers: { ...creds, Accept: ACCEPT } });
      assert.ok(Buffer.from(await got.arrayBuffer()).equals(image.bytes), 'manifest byte for byte');
      // A namespace's rule is not among the system-wide ones.
      expect(await api(source, 'GET', `/replication/rules/${rule}/runs`, { as: ADMIN }), 404, 'NAME_UNKNOWN');
    } finally {
      await target.close();
    }
  });
});
