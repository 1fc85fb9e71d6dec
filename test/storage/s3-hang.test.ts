// A hung S3 store (it accepts connections and answers nothing, as a frozen RGW does) with the
// DEFAULT storage.s3 timeouts: blob requests answer 503 within about requestTimeoutMs (10 s),
// not maxAttempts × requestTimeoutMs. The store is the test server's, reached through a TCP
// proxy that the test stalls, so nothing shared is stopped. Quick failures are still retried.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { startRegistry } from '../helpers/registry.js';
import { pushBlob, randomBytes } from '../helpers/oci.js';
import { TcpProxy } from '../helpers/proxy.js';
import { s3Settings } from '../helpers/services.js';
import { BudgetedRetryStrategy } from '../../src/storage/s3.js';

/** The default requestTimeoutMs (10 s), with room for a loaded machine. */
const BOUND_MS = 12_000;

describe('a hung S3 store with the default settings', { timeout: 90_000 }, () => {
  test('a blob GET and a blob push answer 503 UNAVAILABLE within 12 s; the store answers again once it resumes', async () => {
    const s3 = new URL(s3Settings().endpoint);
    const proxy = await TcpProxy.start(s3.hostname, Number(s3.port || 80));
    // Only where the store is; its timeouts and attempts stay the defaults.
    const reg = await startRegistry({ storage: { driver: 's3', s3: { ...s3Settings(), endpoint: proxy.via(s3Settings().endpoint), prefix: `hang-${Date.now()}/` } } });
    try {
      assert.equal(reg.app.config.storage.s3.requestTimeoutMs, 10_000);
      assert.equal(reg.app.config.storage.s3.maxAttempts, 3);
      const blob = await pushBlob(reg.url, 'hang/app', randomBytes(1000));
      proxy.stall();
      const pull = async () => {
        const started = Date.now();
        const res = await fetch(`${reg.url}/v2/hang/app/blobs/${blob.digest}`, { signal: AbortSignal.timeout(60_000) });
        return { what: 'blob GET', status: res.status, body: await res.text(), ms: Date.now() - started };
      };
      // A push: the upload session and its bytes go to the store.
      const push = async () => {
        const started = Date.now();
        const bytes = randomBytes(1000);
        let res = await fetch(`${reg.url}/v2/hang/app/blobs/uploads/`, { method: 'POST', signal: AbortSignal.timeout(60_000) });
        if (res.status === 202) {
          const location = new URL(res.headers.get('location')!, reg.url);
          location.searchParams.set('digest', `sha256:${createHash('sha256').update(bytes).digest('hex')}`);
          res = await fetch(location, { method: 'PUT', body: bytes, headers: { 'content-type': 'application/octet-stream' }, signal: AbortSignal.timeout(60_000) });
        }
        return { what: 'blob push', status: res.status, body: await res.text(), ms: Date.now() - started };
      };
      const answers = await Promise.all([pull(), push()]);
      console.log(`hung store, default settings: ${answers.map((a) => `${a.what} ${a.status} in ${a.ms} ms`).join(', ')}`);
      for (const a of answers) {
        assert.equal(a.status, 503, `${a.what}: ${a.body}`);
        assert.ok(a.ms < BOUND_MS, `${a.what} answered after ${a.ms} ms`);
        assert.equal(JSON.parse(a.body).errors[0].code, 'UNAVAILABLE');
      }
      proxy.resume();
      await proxy.close();
      await proxy.open();
      const back = await fetch(`${reg.url}/v2/hang/app/blobs/${blob.digest}`);
      assert.equal(back.status, 200);
      assert.equal((await back.arrayBuffer()).byteLength, 1000);
    } finally {
      await proxy.close();
      await reg.close();
    }
  });

  test('the retry budget: quick failures are retried, none starts once requestTimeoutMs is spent', async () => {
    const strategy = new BudgetedRetryStrategy(3, 300);
    const transient = { errorType: 'TRANSIENT' as const, error: Object.assign(new Error('socket hang up'), { name: 'ECONNRESET', $metadata: {} }) } as unknown as Parameters<BudgetedRetryStrategy['refreshRetryTokenForRetry']>[1];
    const first = await strategy.acquireInitialRetryToken('');
    const second = await strategy.refreshRetryTokenForRetry(first, transient);
    assert.equal(second.getRetryCount(), 1, 'a quick failure is retried');
    await new Promise((r) => setTimeout(r, 320));
    await assert.rejects(strategy.refreshRetryTokenForRetry(second, transient), /socket hang up/, 'no retry after the budget');
    const fresh = await strategy.acquireInitialRetryToken('');
    assert.equal((await strategy.refreshRetryTokenForRetry(fresh, transient)).getRetryCount(), 1, 'the budget is per request');
  });
});
