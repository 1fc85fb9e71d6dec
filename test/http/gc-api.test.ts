// Garbage collection through the management API: administrators see the settings and the last
// run of this node, preview a collection and run one; others are refused; real runs are audited.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import type { TestRegistry } from '../helpers/registry.js';
import { ADMIN, api, auditEvents, expect, startTeamRegistry, type Credentials } from '../helpers/api.js';
import { pushBlob, randomBytes } from '../helpers/oci.js';

describe('garbage collection API', () => {
  let reg: TestRegistry;
  let owner: Credentials;
  before(async () => {
    ({ reg, owner } = await startTeamRegistry({ gc: { reviewDelayMs: 10 } }));
  });
  after(async () => {
    await reg.close();
  });

  test('preview, collect, last run; administrators only', async () => {
    expect(await api(reg, 'GET', '/gc', { as: owner }), 403, 'DENIED');
    expect(await api(reg, 'POST', '/gc', { as: owner, body: { dryRun: true } }), 403, 'DENIED');
    const status = expect(await api(reg, 'GET', '/gc', { as: ADMIN }), 200).json;
    assert.deepEqual(status, { intervalMs: 0, reviewDelayMs: 10, deleteUntaggedManifests: false, unrecordedScanIntervalMs: 86_400_000, lastRun: null });

    const loose = await pushBlob(reg.url, 'admin/gc', randomBytes(2048), undefined, { Authorization: `Basic ${Buffer.from(`${ADMIN.username}:${ADMIN.password}`).toString('base64')}` });
    await sleep(50);
    const preview = expect(await api(reg, 'POST', '/gc', { as: ADMIN, body: {} }), 200).json;
    assert.equal(preview.dryRun, true, 'a dry run unless asked otherwise');
    assert.equal(preview.blobsDeleted, 1);
    assert.equal(preview.bytesFreed, 2048);
    assert.equal(expect(await api(reg, 'GET', '/gc', { as: ADMIN }), 200).json.lastRun, null, 'dry runs are not the last run');

    const run = expect(await api(reg, 'POST', '/gc', { as: ADMIN, body: { dryRun: false } }), 200).json;
    assert.equal(run.blobsDeleted, 1);
    const last = expect(await api(reg, 'GET', '/gc', { as: ADMIN }), 200).json.lastRun;
    assert.equal(last.bytesFreed, 2048);
    assert.ok(Date.parse(last.at) > Date.now() - 60_000);
    const gone = await fetch(`${reg.url}/v2/admin/gc/blobs/${loose.digest}`, { method: 'HEAD', headers: { Authorization: `Basic ${Buffer.from(`${ADMIN.username}:${ADMIN.password}`).toString('base64')}` } });
    assert.equal(gone.status, 404);
    const events = await auditEvents(reg, { action: 'gc.run' });
    assert.equal(events.length, 1);
    assert.equal(events[0]!.detail?.['bytesFreed'], 2048);
  });
});
