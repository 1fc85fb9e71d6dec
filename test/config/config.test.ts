// Configuration: defaults, YAML file, REGISTRY_* environment variables and flags, with
// precedence flags > env > file, and readable errors for anything invalid or unknown.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { ConfigError, envName, loadConfig, settingPaths, sqlitePath } from '../../src/config/load.js';

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'registry-config-test-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

let fileCounter = 0;
async function yamlFile(text: string): Promise<string> {
  const path = join(dir, `config-${fileCounter++}.yaml`);
  await writeFile(path, text);
  return path;
}

/** Asserts a ConfigError whose message matches every pattern. */
function configError(fn: () => unknown, ...patterns: RegExp[]): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof ConfigError, `expected a ConfigError, got ${String(err)}`);
    assert.ok(err instanceof Error);
    for (const p of patterns) assert.match(err.message, p);
    return true;
  });
}

describe('defaults', () => {
  test('an empty environment gives the documented defaults', () => {
    const c = loadConfig({ env: {} });
    assert.equal(c.http.port, 5000);
    assert.equal(c.http.host, '127.0.0.1');
    assert.equal(c.storage.driver, 'filesystem');
    assert.equal(c.storage.filesystem.root, './data');
    assert.equal(c.metadata.driver, 'sqlite');
    assert.equal(c.metadata.sqlite.path, undefined);
    assert.equal(c.limits.manifestMaxBytes, 4 * 1024 * 1024);
    assert.equal(c.deletes.enabled, true);
    assert.equal(c.log.level, 'info');
    assert.equal(c.uploads.sessionTtlMs, 24 * 3600_000);
  });

  test('the SQLite file defaults to registry.db in the storage root', () => {
    assert.equal(sqlitePath(loadConfig({ env: {} })), resolve('./data/registry.db'));
    assert.equal(sqlitePath(loadConfig({ env: {}, overrides: { storage: { filesystem: { root: '/srv/reg' } } } })), '/srv/reg/registry.db');
    assert.equal(sqlitePath(loadConfig({ env: {}, overrides: { metadata: { sqlite: { path: '/db/meta.db' } } } })), '/db/meta.db');
  });
});

describe('YAML file', () => {
  test('settings are read from the file', async () => {
    const file = await yamlFile(
      [
        'http:',
        '  host: 127.0.0.1',
        '  port: 6000',
        'storage:',
        '  filesystem:',
        '    root: /srv/registry',
        'metadata:',
        '  sqlite:',
        '    path: /srv/meta.db',
        'limits:',
        '  manifestMaxBytes: 1024',
        'deletes:',
        '  enabled: false',
        'log:',
        '  level: debug',
      ].join('\n'),
    );
    const c = loadConfig({ file, env: {} });
    assert.equal(c.http.host, '127.0.0.1');
    assert.equal(c.http.port, 6000);
    assert.equal(c.storage.filesystem.root, '/srv/registry');
    assert.equal(sqlitePath(c), '/srv/meta.db');
    assert.equal(c.limits.manifestMaxBytes, 1024);
    assert.equal(c.deletes.enabled, false);
    assert.equal(c.log.level, 'debug');
    assert.equal(c.http.keepAliveTimeoutMs, 65_000, 'unset settings keep their defaults');
  });

  test('REGISTRY_CONFIG names the file when no file is given', async () => {
    const file = await yamlFile('http:\n  port: 6111\n');
    assert.equal(loadConfig({ env: { REGISTRY_CONFIG: file } }).http.port, 6111);
  });

  test('an empty file gives the defaults', async () => {
    const file = await yamlFile('');
    assert.equal(loadConfig({ file, env: {} }).http.port, 5000);
  });

  test('a file that is not a mapping is refused', async () => {
    const file = await yamlFile('- a\n- b\n');
    configError(() => loadConfig({ file, env: {} }), /mapping/);
  });

  test('a missing or unparsable file is a ConfigError naming the file', async () => {
    const missing = join(dir, 'nope.yaml');
    configError(() => loadConfig({ file: missing, env: {} }), /cannot read config file/, /nope\.yaml/);
    const bad = await yamlFile('http: [unclosed\n');
    configError(() => loadConfig({ file: bad, env: {} }), /cannot read config file/);
  });
});

describe('environment variables', () => {
  test('names follow the setting paths', () => {
    assert.equal(envName(['http', 'port']), 'REGISTRY_HTTP_PORT');
    assert.equal(envName(['limits', 'manifestMaxBytes']), 'REGISTRY_LIMITS_MANIFEST_MAX_BYTES');
    assert.equal(envName(['http', 'headersTimeoutMs']), 'REGISTRY_HTTP_HEADERS_TIMEOUT_MS');
    assert.equal(envName(['metadata', 'sqlite', 'path']), 'REGISTRY_METADATA_SQLITE_PATH');
  });

  test('every setting has its own variable', () => {
    const names = settingPaths().map(envName);
    assert.equal(new Set(names).size, names.length, `duplicate env names: ${names.join(', ')}`);
    for (const n of ['REGISTRY_HTTP_PORT', 'REGISTRY_STORAGE_FILESYSTEM_ROOT', 'REGISTRY_METADATA_SQLITE_PATH', 'REGISTRY_DELETES_ENABLED', 'REGISTRY_LOG_LEVEL']) {
      assert.ok(names.includes(n), `${n} missing from ${names.join(', ')}`);
    }
  });

  test('values are read and coerced', () => {
    const c = loadConfig({
      env: {
        REGISTRY_HTTP_PORT: '6001',
        REGISTRY_HTTP_HOST: '::1',
        REGISTRY_LIMITS_MANIFEST_MAX_BYTES: '2048',
        REGISTRY_HTTP_HEADERS_TIMEOUT_MS: '1500',
        REGISTRY_STORAGE_FILESYSTEM_ROOT: '/var/lib/registry',
        REGISTRY_METADATA_SQLITE_PATH: '/var/lib/meta.db',
        REGISTRY_LOG_LEVEL: 'warn',
      },
    });
    assert.equal(c.http.port, 6001);
    assert.equal(c.http.host, '::1');
    assert.equal(c.limits.manifestMaxBytes, 2048);
    assert.equal(c.http.headersTimeoutMs, 1500);
    assert.equal(c.storage.filesystem.root, '/var/lib/registry');
    assert.equal(sqlitePath(c), '/var/lib/meta.db');
    assert.equal(c.log.level, 'warn');
  });

  test('booleans: REGISTRY_DELETES_ENABLED=false disables deletes', () => {
    assert.equal(loadConfig({ env: { REGISTRY_DELETES_ENABLED: 'false' } }).deletes.enabled, false);
    assert.equal(loadConfig({ env: { REGISTRY_DELETES_ENABLED: '0' } }).deletes.enabled, false);
    assert.equal(loadConfig({ env: { REGISTRY_DELETES_ENABLED: 'true' } }).deletes.enabled, true);
    configError(() => loadConfig({ env: { REGISTRY_DELETES_ENABLED: 'maybe' } }), /deletes\.enabled/);
  });

  test('an empty variable counts as unset', () => {
    const c = loadConfig({ env: { REGISTRY_HTTP_PORT: '', REGISTRY_STORAGE_FILESYSTEM_ROOT: '', REGISTRY_DELETES_ENABLED: '' } });
    assert.equal(c.http.port, 5000);
    assert.equal(c.storage.filesystem.root, './data');
    assert.equal(c.deletes.enabled, true);
  });

  test('unrelated REGISTRY_* variables are ignored (e.g. Kubernetes service links)', () => {
    const c = loadConfig({ env: { REGISTRY_PORT: 'tcp://10.0.0.1:5000', REGISTRY_SERVICE_HOST: '10.0.0.1', REGISTRY_PORT_5000_TCP_PORT: '5000' } });
    assert.equal(c.http.port, 5000);
  });
});

describe('precedence', () => {
  test('flags win over env, env over file, file over defaults', async () => {
    const file = await yamlFile('http:\n  port: 1000\n  host: 10.1.1.1\nlimits:\n  manifestMaxBytes: 111\n');
    const env = { REGISTRY_HTTP_PORT: '2000', REGISTRY_LIMITS_MANIFEST_MAX_BYTES: '222' };
    assert.equal(loadConfig({ file, env: {} }).http.port, 1000);
    assert.equal(loadConfig({ file, env }).http.port, 2000);
    const c = loadConfig({ file, env, overrides: { http: { port: 3000 } } });
    assert.equal(c.http.port, 3000);
    assert.equal(c.limits.manifestMaxBytes, 222, 'env still wins where no flag is given');
    assert.equal(c.http.host, '10.1.1.1', 'merging is per setting, not per section');
  });

  test('a flag of false overrides a true from the environment', () => {
    assert.equal(loadConfig({ env: { REGISTRY_DELETES_ENABLED: 'true' }, overrides: { deletes: { enabled: false } } }).deletes.enabled, false);
  });
});

describe('invalid values', () => {
  test('a non-numeric port names the setting', () => {
    configError(() => loadConfig({ env: { REGISTRY_HTTP_PORT: 'abc' } }), /^invalid configuration/, /http\.port/);
  });

  test('out-of-range and non-integer numbers', () => {
    configError(() => loadConfig({ env: { REGISTRY_HTTP_PORT: '70000' } }), /http\.port/);
    configError(() => loadConfig({ env: { REGISTRY_HTTP_PORT: '-1' } }), /http\.port/);
    configError(() => loadConfig({ env: { REGISTRY_HTTP_PORT: '80.5' } }), /http\.port/);
    configError(() => loadConfig({ env: { REGISTRY_LIMITS_MANIFEST_MAX_BYTES: '0' } }), /limits\.manifestMaxBytes/);
  });

  test('enums list what is allowed', () => {
    configError(() => loadConfig({ env: { REGISTRY_LOG_LEVEL: 'loud' } }), /log\.level/, /info/);
    configError(() => loadConfig({ env: {}, overrides: { storage: { driver: 'ftp' } } }), /storage\.driver/);
  });

  test('a wrong shape in the file', async () => {
    const file = await yamlFile('http: 5\n');
    configError(() => loadConfig({ file, env: {} }), /http/);
  });

  test('an empty storage root is refused', () => {
    configError(() => loadConfig({ env: {}, overrides: { storage: { filesystem: { root: '' } } } }), /storage\.filesystem\.root/);
  });
});

describe('unknown keys', () => {
  test('an unknown section is refused', async () => {
    configError(() => loadConfig({ env: {}, overrides: { htp: { port: 1 } } }), /htp/);
    const file = await yamlFile('storge:\n  driver: filesystem\n');
    configError(() => loadConfig({ file, env: {} }), /storge/);
  });

  test('an unknown setting inside a section is refused', async () => {
    configError(() => loadConfig({ env: {}, overrides: { http: { prot: 5001 } } }), /prot/);
    const file = await yamlFile('storage:\n  filesystem:\n    rooot: /srv\n');
    configError(() => loadConfig({ file, env: {} }), /rooot/);
    const file2 = await yamlFile('deletes:\n  enable: false\n');
    configError(() => loadConfig({ file: file2, env: {} }), /enable/);
  });
});

describe('metrics and rate limit settings', () => {
  test('defaults: metrics on at the registry port, rate limits off', () => {
    const c = loadConfig({ env: {} });
    assert.equal(c.metrics.enabled, true);
    assert.equal(c.metrics.port, undefined);
    assert.equal(c.rateLimit.enabled, false);
    assert.deepEqual(c.rateLimit.exempt, []);
  });

  test('exempt addresses from the environment are a comma-separated list; each must be an address or CIDR range', () => {
    const c = loadConfig({ env: { REGISTRY_RATE_LIMIT_ENABLED: 'true', REGISTRY_RATE_LIMIT_EXEMPT: '10.0.0.0/8, 127.0.0.1,fd00::/8', REGISTRY_METRICS_PORT: '9100' } });
    assert.deepEqual(c.rateLimit.exempt, ['10.0.0.0/8', '127.0.0.1', 'fd00::/8']);
    assert.equal(c.metrics.port, 9100);
    configError(() => loadConfig({ env: { REGISTRY_RATE_LIMIT_EXEMPT: '10.0.0.0/33' } }), /rateLimit\.exempt/);
    configError(() => loadConfig({ env: { REGISTRY_RATE_LIMIT_EXEMPT: 'example.com' } }), /rateLimit\.exempt/);
  });

  test('metrics.port may not be the registry port', () => {
    configError(() => loadConfig({ env: { REGISTRY_METRICS_PORT: '5000' } }), /metrics\.port/);
  });
});
