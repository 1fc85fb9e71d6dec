// Rate limits per client address and per identity: past the budget of a window a request is
// answered 429 with the spec's TOOMANYREQUESTS and a Retry-After, until the window ends. On
// scale-out the counters live in Redis, and two registry processes share one budget.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { makeTempDir, scaleOut, spawnRegistry, startRegistry, type RegistryProcess, type TestRegistry } from '../helpers/registry.js';
import { checkErrorBody } from '../helpers/oci.js';
import { freshAddress, requestFrom, type SimpleResponse } from '../helpers/auth.js';
import { ADMIN, basic, createUser, startAuthRegistry } from '../helpers/api.js';
import { scrape } from '../helpers/metrics.js';
import { TcpProxy } from '../helpers/proxy.js';
import { requireEnv } from '../helpers/services.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Wait, if need be, for a fresh fixed window with at least `needMs` left of it. */
async function freshWindow(windowMs: number, needMs: number): Promise<void> {
  const left = windowMs - (Date.now() % windowMs);
  if (left < needMs) await sleep(left + 20);
}

function assertTooMany(res: SimpleResponse, windowMs: number): number {
  assert.equal(res.status, 429, res.text);
  checkErrorBody(res.text, 'TOOMANYREQUESTS');
  const retryAfter = Number(res.headers['retry-after']);
  assert.ok(Number.isInteger(retryAfter) && retryAfter >= 1 && retryAfter <= Math.ceil(windowMs / 1000), `Retry-After: ${res.headers['retry-after']}`);
  return retryAfter;
}

describe('rate limit per client address', () => {
  const windowMs = 2_000;
  let reg: TestRegistry;
  before(async () => {
    reg = await startRegistry({ rateLimit: { enabled: true, perAddress: 5, perIdentity: 0, windowMs, exempt: ['127.200.0.0/16'] } });
  });
  after(async () => {
    await reg.close();
  });

  test('past the budget: 429 TOOMANYREQUESTS with Retry-After; other addresses unaffected; back after the window', async () => {
    const address = freshAddress();
    await freshWindow(windowMs, 1_500);
    for (let i = 0; i < 5; i++) assert.equal((await requestFrom(address, `${reg.url}/v2/`)).status, 200, `request ${i + 1}`);
    const refused = await requestFrom(address, `${reg.url}/v2/some/repo/manifests/latest`);
    const retryAfter = assertTooMany(refused, windowMs);
    assert.equal((await requestFrom(freshAddress(), `${reg.url}/v2/`)).status, 200, 'another address has its own budget');
    // Probes and scrapes are never limited.
    for (const path of ['/healthz', '/readyz', '/metrics']) assert.equal((await requestFrom(address, `${reg.url}${path}`)).status, 200, path);
    await sleep(retryAfter * 1000);
    assert.equal((await requestFrom(address, `${reg.url}/v2/`)).status, 200, 'the budget is back after Retry-After');
    const metrics = await scrape(reg.url);
    assert.ok(metrics.value('registry_rate_limited_total', { limit: 'address' }) >= 1);
  });

  test('exempt addresses are never limited', async () => {
    for (let i = 0; i < 12; i++) assert.equal((await requestFrom('127.200.1.2', `${reg.url}/v2/`)).status, 200, `request ${i + 1}`);
  });
});

describe('rate limit per identity', () => {
  const windowMs = 3_000;
  let reg: TestRegistry;
  before(async () => {
    reg = await startAuthRegistry({ rateLimit: { enabled: true, perAddress: 0, perIdentity: 4, windowMs } });
  });
  after(async () => {
    await reg.close();
  });

  test('a user past the budget is refused from any address, on /v2 and the API; other users and anonymous requests are not', async () => {
    const alice = await createUser(reg, 'rate-alice');
    await freshWindow(windowMs, 2_000);
    // /v2 and the management API draw on the same budget.
    for (const path of ['/v2/', '/api/v1/me', '/v2/', '/api/v1/me']) {
      assert.equal((await requestFrom(freshAddress(), `${reg.url}${path}`, { headers: { Authorization: basic(alice) } })).status, 200, path);
    }
    assertTooMany(await requestFrom(freshAddress(), `${reg.url}/api/v1/me`, { headers: { Authorization: basic(alice) } }), windowMs);
    const refused = await requestFrom(freshAddress(), `${reg.url}/v2/`, { headers: { Authorization: basic(alice) } });
    const retryAfter = assertTooMany(refused, windowMs);
    assert.equal((await requestFrom(freshAddress(), `${reg.url}/v2/`, { headers: { Authorization: basic(ADMIN) } })).status, 200, 'another user has a budget of their own');
    // Anonymous requests get their challenge (they have only the address budget, unlimited here).
    for (let i = 0; i < 6; i++) assert.equal((await requestFrom(freshAddress(), `${reg.url}/v2/`)).status, 401);
    await sleep(retryAfter * 1000);
    assert.equal((await requestFrom(freshAddress(), `${reg.url}/v2/`, { headers: { Authorization: basic(alice) } })).status, 200, 'back after the window');
    assert.ok((await scrape(reg.url)).value('registry_rate_limited_total', { limit: 'identity' }) >= 1);
  });
});

describe('rate limit shared by a cluster through Redis', { skip: !scaleOut() && 'needs Redis (scale-out backends)' }, () => {
  const windowMs = 5_000;
  let nodes: RegistryProcess[] = [];
  before(async () => {
    const dir = await makeTempDir();
    const env = { REGISTRY_RATE_LIMIT_ENABLED: 'true', REGISTRY_RATE_LIMIT_PER_ADDRESS: '6', REGISTRY_RATE_LIMIT_PER_IDENTITY: '0', REGISTRY_RATE_LIMIT_WINDOW_MS: String(windowMs) };
    // The same data dir: the same database, bucket prefix and Redis keys.
    nodes = [await spawnRegistry(dir, 0, env), await spawnRegistry(dir, 0, env)];
  });
  after(async () => {
    await Promise.all(nodes.map((n) => n.kill()));
  });

  test('two registry processes draw on one budget per address', async () => {
    const [a, b] = nodes as [RegistryProcess, RegistryProcess];
    const address = freshAddress();
    await freshWindow(windowMs, 3_000);
    for (let i = 0; i < 3; i++) assert.equal((await requestFrom(address, `${a.url}/v2/`)).status, 200);
    for (let i = 0; i < 3; i++) assert.equal((await requestFrom(address, `${b.url}/v2/`)).status, 200);
    // Six in all: each node alone would allow six more.
    assertTooMany(await requestFrom(address, `${a.url}/v2/`), windowMs);
    assertTooMany(await requestFrom(address, `${b.url}/v2/`), windowMs);
    assert.equal((await requestFrom(freshAddress(), `${b.url}/v2/`)).status, 200);
  });
});

describe('rate limit with Redis gone', { skip: !scaleOut() && 'needs Redis (scale-out backends)' }, () => {
  test('requests are let through, and only the first waits for Redis', async () => {
    const redis = new URL(requireEnv('TEST_REDIS_URL'));
    const proxy = await TcpProxy.start(redis.hostname, Number(redis.port || 6379));
    const reg = await startRegistry({ redis: { url: proxy.via(redis.toString()) }, rateLimit: { enabled: true, perAddress: 2, perIdentity: 0, windowMs: 60_000 } });
    try {
      const address = freshAddress();
      for (let i = 0; i < 2; i++) assert.equal((await requestFrom(address, `${reg.url}/v2/`)).status, 200);
      assertTooMany(await requestFrom(address, `${reg.url}/v2/`), 60_000);
      await proxy.close();
      const started = Date.now();
      assert.equal((await requestFrom(address, `${reg.url}/v2/`)).status, 200, 'a limit that cannot be counted is not enforced');
      const first = Date.now() - started;
      const times: number[] = [];
      for (let i = 0; i < 5; i++) {
        const t = Date.now();
        assert.equal((await requestFrom(address, `${reg.url}/v2/`)).status, 200);
        times.push(Date.now() - t);
      }
      assert.ok(first < 4_000, `the first request waited ${first} ms`);
      assert.ok(Math.max(...times) < 500, `later requests waited ${times.join(', ')} ms`);
    } finally {
      await reg.close();
      await proxy.close();
    }
  });
});

