// Prometheus metrics at /metrics: real pushes and pulls, then a scrape shows them by route
// pattern, method and status, with latency histograms, bytes, upload sessions, storage per
// namespace, garbage collection and the process; /metrics on a port of its own; metrics off.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { freePort } from '../helpers/proxy.js';
import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startRegistry, type TestRegistry } from '../helpers/registry.js';
import { expectStatus, locationOf, MediaType, pushBlob, pushImage, randomBytes, startUpload } from '../helpers/oci.js';
import { scrape } from '../helpers/metrics.js';

const MANIFEST_ROUTE = '/v2/{name}/manifests/{reference}';
const BLOB_ROUTE = '/v2/{name}/blobs/{digest}';

describe('metrics at /metrics', () => {
  let reg: TestRegistry;
  before(async () => {
    reg = await startRegistry({ metrics: { storageRefreshMs: 0 } });
  });
  after(async () => {
    await reg.close();
  });

  test('pulls count by route pattern, method and status, with latency histograms; names never become labels', async () => {
    const repo = 'metrics-pulls/some-app';
    const image = await pushImage(reg.url, repo, { reference: 'v1' });
    const before = await scrape(reg.url);
    const labels = { route: MANIFEST_ROUTE, method: 'GET', status: '200' };
    for (let i = 0; i < 3; i++) {
      const res = await fetch(`${reg.url}/v2/${repo}/manifests/v1`, { headers: { Accept: MediaType.OciManifest } });
      await expectStatus(res, 200);
    }
    await expectStatus(await fetch(`${reg.url}/v2/${repo}/manifests/${image.digest}`, { method: 'HEAD' }), 200);
    const missing = await fetch(`${reg.url}/v2/${repo}/manifests/no-such-tag`);
    await expectStatus(missing, 404);
    const after = await scrape(reg.url);

    assert.equal(after.value('registry_http_requests_total', labels) - before.value('registry_http_requests_total', labels), 3);
    assert.equal(after.value('registry_http_requests_total', { ...labels, method: 'HEAD' }) - before.value('registry_http_requests_total', { ...labels, method: 'HEAD' }), 1);
    assert.equal(after.value('registry_http_requests_total', { ...labels, status: '404' }) - before.value('registry_http_requests_total', { ...labels, status: '404' }), 1);
    const count = after.value('registry_http_request_duration_seconds_count', labels);
    assert.equal(count - before.value('registry_http_request_duration_seconds_count', labels), 3);
    assert.equal(after.value('registry_http_request_duration_seconds_bucket', { ...labels, le: '+Inf' }), count, 'every observation is in the +Inf bucket');
    assert.ok(after.value('registry_http_request_duration_seconds_sum', labels) > before.value('registry_http_request_duration_seconds_sum', labels));
    const buckets = after.matching('registry_http_request_duration_seconds_bucket', labels).map((s) => s.value);
    assert.deepEqual(buckets, [...buckets].sort((a, b) => a - b), 'buckets are cumulative');
    // Repository names, tags and digests never appear: only route patterns do.
    assert.ok(!after.text.includes('some-app'), 'a repository name became a label value');
    assert.ok(!after.text.includes(image.digest), 'a digest became a label value');
    assert.ok(!after.text.includes('no-such-tag'), 'a tag became a label value');
  });

  test('bytes received by pushes and sent by pulls are counted per route', async () => {
    const repo = 'metrics-bytes/app';
    const layer = randomBytes(300 * 1024);
    const before = await scrape(reg.url);
    const blob = await pushBlob(reg.url, repo, layer);
    const res = await fetch(`${reg.url}/v2/${repo}/blobs/${blob.digest}`);
    assert.equal(Buffer.from(await res.arrayBuffer()).length, layer.length);
    const after = await scrape(reg.url);
    const received = after.value('registry_http_received_bytes_total', { route: '/v2/{name}/blobs/uploads/', method: 'POST' }) - before.value('registry_http_received_bytes_total', { route: '/v2/{name}/blobs/uploads/', method: 'POST' });
    const sent = after.value('registry_http_sent_bytes_total', { route: BLOB_ROUTE, method: 'GET' }) - before.value('registry_http_sent_bytes_total', { route: BLOB_ROUTE, method: 'GET' });
    // The body and at most a few kilobytes of headers.
    assert.ok(received >= layer.length && received < layer.length + 4096, `received ${received} for a ${layer.length}-byte push`);
    assert.ok(sent >= layer.length && sent < layer.length + 4096, `sent ${sent} for a ${layer.length}-byte pull`);
  });

  test('chunked uploads without Content-Length are counted too, and open upload sessions show in a gauge', async () => {
    const repo = 'metrics-uploads/app';
    const base = (await scrape(reg.url)).value('registry_upload_sessions');
    const location = await startUpload(reg.url, repo);
    assert.equal((await scrape(reg.url)).value('registry_upload_sessions'), base + 1);
    const chunk = randomBytes(200 * 1024);
    const before = await scrape(reg.url);
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(chunk.subarray(0, 100 * 1024));
        controller.enqueue(chunk.subarray(100 * 1024));
        controller.close();
      },
    });
    const patch = await fetch(location, { method: 'PATCH', headers: { 'Content-Type': 'application/octet-stream' }, body, duplex: 'half' } as RequestInit);
    await expectStatus(patch, 202);
    const after = await scrape(reg.url);
    const labels = { route: '/v2/{name}/blobs/uploads/{uuid}', method: 'PATCH' };
    const received = after.value('registry_http_received_bytes_total', labels) - before.value('registry_http_received_bytes_total', labels);
    assert.ok(received >= chunk.length, `received ${received} for a ${chunk.length}-byte chunked PATCH`);
    await expectStatus(await fetch(locationOf(patch, reg.url), { method: 'DELETE' }), 204);
    assert.equal((await scrape(reg.url)).value('registry_upload_sessions'), base);
  });

  test('storage used per namespace counts each distinct blob once', async () => {
    const shared = randomBytes(5000);
    await pushBlob(reg.url, 'metrics-storage/one', shared);
    await pushBlob(reg.url, 'metrics-storage/two', shared);
    await pushBlob(reg.url, 'metrics-storage/two', randomBytes(700));
    await pushBlob(reg.url, 'metrics-storage-other/x', randomBytes(300));
    await pushBlob(reg.url, 'metricsstorageplain', randomBytes(40));
    const metrics = await scrape(reg.url);
    assert.equal(metrics.value('registry_namespace_storage_bytes', { namespace: 'metrics-storage' }), 5700);
    assert.equal(metrics.value('registry_namespace_storage_bytes', { namespace: 'metrics-storage-other' }), 300);
    assert.equal(metrics.value('registry_namespace_storage_bytes', { namespace: 'metricsstorageplain' }), 40, 'a name without a slash is its own namespace');
  });

  test('garbage collection runs, deleted blobs and freed bytes are counted', async () => {
    const before = await scrape(reg.url);
    // Blobs no manifest references: collected once the review delay is over (0 here).
    await pushBlob(reg.url, 'metrics-gc/app', randomBytes(4000));
    await pushBlob(reg.url, 'metrics-gc/app', randomBytes(6000));
    const report = await reg.app.collectGarbage({ reviewDelayMs: 0 });
    assert.ok(report.blobsDeleted >= 2 && report.bytesFreed >= 10_000, JSON.stringify(report));
    const after = await scrape(reg.url);
    assert.equal(after.value('registry_gc_runs_total') - before.value('registry_gc_runs_total'), 1);
    assert.equal(after.value('registry_gc_blobs_deleted_total') - before.value('registry_gc_blobs_deleted_total'), report.blobsDeleted);
    assert.equal(after.value('registry_gc_bytes_freed_total') - before.value('registry_gc_bytes_freed_total'), report.bytesFreed);
    await reg.app.collectGarbage({ reviewDelayMs: 0, dryRun: true });
    assert.equal((await scrape(reg.url)).value('registry_gc_runs_total'), after.value('registry_gc_runs_total'), 'a dry run is not a collection');
  });

  test('process and Node.js metrics, and a counter another subsystem registers', async () => {
    const scans = reg.app.metrics.counter({ name: 'test_scans_total', help: 'scans run', labelNames: ['result'] });
    assert.equal(reg.app.metrics.counter({ name: 'test_scans_total', help: 'scans run', labelNames: ['result'] }), scans, 'asking twice gives the same counter');
    scans.labels('clean').inc(2);
    const metrics = await scrape(reg.url);
    for (const name of ['process_cpu_user_seconds_total', 'process_resident_memory_bytes', 'nodejs_heap_size_used_bytes', 'nodejs_eventloop_lag_seconds']) {
      assert.ok(metrics.has(name), `${name} missing`);
    }
    assert.equal(metrics.value('registry_test_scans_total', { result: 'clean' }), 2);
    // Health and metrics requests are counted like any other route.
    assert.ok(metrics.value('registry_http_requests_total', { route: '/metrics', method: 'GET', status: '200' }) >= 1);
  });

  test('the sample Grafana dashboard queries only metrics the registry exposes', async () => {
    const dashboard = await readFile(resolve(dirname(fileURLToPath(import.meta.url)), '../../../docs/grafana-dashboard.json'), 'utf8');
    const exposed = new Set([...(await scrape(reg.url)).text.matchAll(/^# TYPE (\S+) (\w+)/gm)].flatMap((m) => (m[2] === 'histogram' ? [`${m[1]}_bucket`, `${m[1]}_sum`, `${m[1]}_count`] : [m[1]!])));
    const used = new Set([...dashboard.matchAll(/\b((?:registry|process|nodejs)_[a-z0-9_]+)/g)].map((m) => m[1]!));
    assert.ok(used.size >= 10, `only ${used.size} metrics in the dashboard`);
    for (const name of used) assert.ok(exposed.has(name), `the dashboard uses ${name}, which /metrics does not expose`);
  });

  test('unmatched paths share one label', async () => {
    // (A GET of an unknown path is a route of the web UI; nothing answers a POST there.)
    await expectStatus(await fetch(`${reg.url}/nowhere/${randomBytes(4).toString('hex')}`, { method: 'POST' }), 404);
    const metrics = await scrape(reg.url);
    assert.ok(metrics.value('registry_http_requests_total', { route: 'unmatched', status: '404' }) >= 1);
    assert.ok(!metrics.text.includes('/nowhere/'));
  });
});


describe('metrics settings', () => {
  test('metrics.port serves /metrics on a port of its own, and not on the registry port', async () => {
    const port = await freePort();
    const reg = await startRegistry({ metrics: { port } });
    try {
      await expectStatus(await fetch(`${reg.url}/v2/`), 200);
      const metrics = await scrape(`http://127.0.0.1:${port}`);
      assert.equal(metrics.value('registry_http_requests_total', { route: '/v2/', method: 'GET', status: '200' }), 1);
      await expectStatus(await fetch(`${reg.url}/metrics`), 404);
      await expectStatus(await fetch(`http://127.0.0.1:${port}/other`), 404);
    } finally {
      await reg.close();
    }
  });

  test('metrics.enabled false: no /metrics', async () => {
    const reg = await startRegistry({ metrics: { enabled: false } });
    try {
      await expectStatus(await fetch(`${reg.url}/metrics`), 404);
      await expectStatus(await fetch(`${reg.url}/v2/`), 200);
    } finally {
      await reg.close();
    }
  });
});
