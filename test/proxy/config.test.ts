// proxy.upstreams: from YAML-like trees and from REGISTRY_PROXY_UPSTREAMS (a JSON array), with
// defaults, and refused when malformed or when a namespace has two upstreams.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError, loadConfig } from '../../src/config/load.js';

describe('proxy configuration', () => {
  test('off by default; pushes into proxied namespaces refused by default', () => {
    const c = loadConfig({ env: {} });
    assert.deepEqual(c.proxy.upstreams, []);
    assert.equal(c.proxy.allowPush, false);
  });

  test('REGISTRY_PROXY_UPSTREAMS takes a JSON array; TTL and timeout have defaults', () => {
    const c = loadConfig({ env: { REGISTRY_PROXY_UPSTREAMS: '[{"namespace":"dockerhub","url":"docker.io","username":"me","password":"pw"}]', REGISTRY_PROXY_ALLOW_PUSH: 'true' } });
    assert.deepEqual(c.proxy.upstreams, [{ namespace: 'dockerhub', url: 'docker.io', username: 'me', password: 'pw', tagTtlSeconds: 300, timeoutMs: 30_000 }]);
    assert.equal(c.proxy.allowPush, true);
  });

  test('malformed JSON, a nested namespace or a namespace given twice stop the start with a message', () => {
    assert.throws(() => loadConfig({ env: { REGISTRY_PROXY_UPSTREAMS: '[{"namespace":' } }), (err: Error) => err instanceof ConfigError && /proxy\.upstreams/.test(err.message));
    assert.throws(() => loadConfig({ env: {}, overrides: { proxy: { upstreams: [{ namespace: 'a/b', url: 'docker.io' }] } } }), ConfigError);
    const twice = [{ namespace: 'hub', url: 'docker.io' }, { namespace: 'hub', url: 'quay.io' }];
    assert.throws(() => loadConfig({ env: {}, overrides: { proxy: { upstreams: twice } } }), /one upstream only/);
  });
});
