// A replication run longer than its lease keeps the lease renewed, so another node does not take
// it over and copy the same content a second time. The peer here answers every request after
// 2.5 s, so the run outlives a 1 s lease several times over.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { startRegistry, type TestRegistry } from '../helpers/registry.js';

const PEER_DELAY_MS = 2_500;
let peer: Server;
let peerUrl: string;
let reg: TestRegistry;

before(async () => {
  peer = createServer((req, res) => {
    req.resume();
    setTimeout(() => {
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ errors: [{ code: 'NAME_UNKNOWN', message: 'repository name not known to registry' }] }));
    }, PEER_DELAY_MS).unref();
  });
  await new Promise<void>((resolve) => peer.listen(0, '127.0.0.1', resolve));
  peerUrl = `http://127.0.0.1:${(peer.address() as AddressInfo).port}`;
  reg = await startRegistry({
    scan: { enabled: false },
    replication: { pollMs: 50, leaseMs: 1_000, maxAttempts: 1, requestRetries: 0, requestTimeoutMs: 20_000 },
  });
});

after(async () => {
  await reg?.close();
  peer?.closeAllConnections();
  await new Promise<void>((resolve) => peer.close(() => resolve()));
});

test('a run that outlives its lease renews it: no other worker can claim it while it runs', async () => {
  const store = reg.app.replication.store;
  const rule = await store.createRule({
    namespace: null,
    direction: 'pull',
    remoteUrl: peerUrl,
    username: null,
    password: null,
    repositories: 'slow/app',
    tags: null,
    referrers: false,
    trigger: 'manual',
    intervalMs: null,
    enabled: true,
    createdBy: 'test',
  });
  const queued = await reg.app.replication.enqueue(rule, 'manual');
  assert.ok(queued);
  const deadline = Date.now() + 20_000;
  let run = await store.getRun(queued.id);
  while (run?.state !== 'running' && Date.now() < deadline) {
    await sleep(20);
    run = await store.getRun(queued.id);
  }
  assert.equal(run?.state, 'running', 'the worker took the run');
  // Past the 1 s lease (twice over), the run is still this worker's and cannot be claimed.
  await sleep(2_000);
  const current = await store.getRun(queued.id);
  if (current?.state === 'running') {
    assert.equal(await store.claimRun('intruder-node', 1_000), undefined, 'a renewed lease is not up for grabs');
  }
  while ((await store.getRun(queued.id))?.state === 'running' && Date.now() < deadline) await sleep(50);
  const finished = await store.getRun(queued.id);
  assert.equal(finished?.state, 'failed', 'the slow peer answered 404: the run fails once (maxAttempts 1)');
  assert.equal(finished?.attempts, 1, 'carried out once, not twice');
});

test('renewRun only extends a running run held by the same worker', async () => {
  const store = reg.app.replication.store;
  const rule = await store.createRule({
    namespace: null,
    direction: 'pull',
    remoteUrl: peerUrl,
    username: null,
    password: null,
    repositories: 'other/app',
    tags: null,
    referrers: false,
    trigger: 'manual',
    intervalMs: null,
    enabled: false,
    createdBy: 'test',
  });
  const run = await store.startRun({ ruleId: rule.id, trigger: 'manual', worker: 'node-a', leaseMs: 1_000 });
  assert.equal(await store.renewRun(run.id, 'node-b', 60_000), false, 'not node-b’s run');
  assert.equal(await store.renewRun(run.id, 'node-a', 60_000), true);
  await sleep(1_200);
  assert.equal(await store.claimRun('node-b', 1_000), undefined, 'the renewed lease holds past the first one');
  assert.equal(await store.finishRun(run.id, 'node-a', 'done', { manifests: 0, blobs: 0, bytes: 0 }, null), true);
  assert.equal(await store.renewRun(run.id, 'node-a', 60_000), false, 'a finished run is not renewed');
});
