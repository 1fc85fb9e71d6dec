// `registry doctor`: every check ok on a registry's own configuration (exit 0), and each kind
// of failure reported on its line with a reason and exit 1: an invalid configuration, pending
// migrations, a broken blob store, an unreachable Redis or database, mismatched TLS files.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { rm, writeFile } from 'node:fs/promises';
import { freePort } from '../helpers/proxy.js';
import { join } from 'node:path';
import { makeTempDir, scaleOut, startRegistry, type TestRegistry } from '../helpers/registry.js';
import { runCli, type CliResult } from '../helpers/cli.js';
import { startAuthRegistry } from '../helpers/api.js';
import { run } from '../helpers/exec.js';

interface DoctorJson {
  ok: boolean;
  checks: { name: string; ok: boolean; detail: string }[];
}

function parse(result: CliResult): DoctorJson {
  return JSON.parse(result.stdout) as DoctorJson;
}

function check(report: DoctorJson, name: string): { ok: boolean; detail: string } {
  const found = report.checks.find((c) => c.name === name);
  assert.ok(found, `no ${name} check in ${JSON.stringify(report)}`);
  return found;
}


describe('registry doctor', () => {
  let reg: TestRegistry;
  before(async () => {
    reg = await startRegistry();
  });
  after(async () => {
    await reg.close();
  });

  test('a working setup: one ok line per check, exit 0', async () => {
    const result = await runCli(reg, ['doctor']);
    assert.equal(result.code, 0, result.stdout + result.stderr);
    const lines = result.stdout.trim().split('\n');
    const expected = ['config', 'exposure', 'metadata', 'blobStore', ...(scaleOut() ? ['redis'] : [])];
    assert.deepEqual(lines.map((l) => /^(ok  |FAIL) (\w+):/.exec(l)?.slice(1)), expected.map((name) => ['ok  ', name]));
    assert.match(result.stdout, /schema up to date/);
    assert.match(result.stdout, /wrote, read and deleted a probe/);
  });

  test('--json: the same checks as data', async () => {
    const result = await runCli(reg, ['doctor', '--json']);
    assert.equal(result.code, 0, result.stdout + result.stderr);
    const report = parse(result);
    assert.equal(report.ok, true);
    assert.ok(report.checks.every((c) => c.ok && c.detail.length > 0), JSON.stringify(report));
  });

  test('an invalid configuration: FAIL config, nothing else checked, exit 1', async () => {
    const result = await runCli(reg, ['doctor', '--json'], { env: { REGISTRY_HTTP_PORT: 'not-a-port' } });
    assert.equal(result.code, 1);
    const report = parse(result);
    assert.equal(report.ok, false);
    assert.deepEqual(report.checks.map((c) => c.name), ['config']);
    assert.match(check(report, 'config').detail, /http\.port/);
  });

  test('a non-loopback host without TLS and auth: FAIL exposure naming the settings; opted in: warn, exit 0', async () => {
    const refused = await runCli(reg, ['doctor'], { env: { REGISTRY_HTTP_HOST: '0.0.0.0' } });
    assert.equal(refused.code, 1, refused.stdout);
    assert.match(refused.stdout, /^FAIL exposure: refusing plain HTTP on 0\.0\.0\.0: .*http\.tls\.certFile.*http\.allowPlainHttp/m);
    assert.match(refused.stdout, /^FAIL exposure: refusing anonymous push and delete on 0\.0\.0\.0: .*auth\.enabled.*auth\.allowAnonymousPush/m);
    assert.match(refused.stdout, /^ok   metadata:/m);

    const optedIn = await runCli(reg, ['doctor'], {
      env: { REGISTRY_HTTP_HOST: '0.0.0.0', REGISTRY_HTTP_ALLOW_PLAIN_HTTP: 'true', REGISTRY_AUTH_ALLOW_ANONYMOUS_PUSH: 'true' },
    });
    assert.equal(optedIn.code, 0, optedIn.stdout);
    assert.doesNotMatch(optedIn.stdout, /^FAIL/m);
    assert.match(optedIn.stdout, /^warn exposure: plain HTTP on 0\.0\.0\.0 \(http\.allowPlainHttp\)/m);
    assert.match(optedIn.stdout, /^warn exposure: anyone who reaches 0\.0\.0\.0 may push and delete/m);
  });

  test('Redis not reachable: FAIL redis with the reason, exit 1', async () => {
    const result = await runCli(reg, ['doctor'], { env: { REGISTRY_REDIS_URL: `redis://127.0.0.1:${await freePort()}` } });
    assert.equal(result.code, 1);
    assert.match(result.stdout, /^FAIL redis: .*not reachable/m);
    assert.match(result.stdout, /^ok   metadata:/m);
  });

  test('TLS files that do not belong together: FAIL tls; a matching pair: ok', async () => {
    const dir = await makeTempDir('doctor-tls-');
    try {
      for (const name of ['a', 'b']) {
        await run('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '2', '-subj', `/CN=${name}`,
          '-keyout', join(dir, `${name}.key`), '-out', join(dir, `${name}.crt`)], { timeoutMs: 20_000 });
      }
      const good = await runCli(reg, ['doctor'], { env: { REGISTRY_HTTP_TLS_CERT_FILE: join(dir, 'a.crt'), REGISTRY_HTTP_TLS_KEY_FILE: join(dir, 'a.key') } });
      assert.equal(good.code, 0, good.stdout);
      assert.match(good.stdout, /^ok   tls: CN=a; expires /m);
      const bad = await runCli(reg, ['doctor'], { env: { REGISTRY_HTTP_TLS_CERT_FILE: join(dir, 'a.crt'), REGISTRY_HTTP_TLS_KEY_FILE: join(dir, 'b.key') } });
      assert.equal(bad.code, 1);
      assert.match(bad.stdout, /^FAIL tls: .*(mismatch|does not match)/im);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('registry doctor on broken backends', () => {
  test('a database never migrated: FAIL metadata asking for `registry migrate`', async () => {
    const fresh = await makeTempDir();
    try {
      const result = await runCli({ dataDir: fresh }, ['doctor']);
      assert.equal(result.code, 1, result.stdout);
      assert.match(result.stdout, /^FAIL metadata: .*registry migrate/m);
      const migrated = await runCli({ dataDir: fresh }, ['migrate']);
      assert.equal(migrated.code, 0, migrated.stderr);
      assert.equal((await runCli({ dataDir: fresh }, ['doctor'])).code, 0);
    } finally {
      await rm(fresh, { recursive: true, force: true });
    }
  });

  test('a blob store that cannot take writes: FAIL blobStore', async () => {
    const reg = await startRegistry({}, await makeTempDir());
    await reg.close();
    try {
      // A file where the store keeps its uploads (filesystem); a bucket that does not exist (S3).
      const env: Record<string, string> = scaleOut() ? { REGISTRY_STORAGE_S3_BUCKET: 'doctor-no-such-bucket' } : {};
      if (!scaleOut()) {
        await rm(join(reg.dataDir, 'uploads'), { recursive: true });
        await writeFile(join(reg.dataDir, 'uploads'), 'not a directory');
      }
      const result = await runCli(reg, ['doctor', '--json'], { env });
      assert.equal(result.code, 1, result.stdout);
      const report = parse(result);
      assert.equal(check(report, 'blobStore').ok, false);
      assert.equal(check(report, 'metadata').ok, true);
    } finally {
      await rm(reg.dataDir, { recursive: true, force: true });
    }
  });

  test('access control on: the stored signing key is checked; without a metadata store it cannot be', async () => {
    const reg = await startAuthRegistry();
    try {
      const ok = await runCli(reg, ['doctor', '--json'], { env: { REGISTRY_AUTH_ENABLED: 'true' } });
      assert.equal(ok.code, 0, ok.stdout);
      assert.match(check(parse(ok), 'auth').detail, /signing key \S+ signs and verifies/);
      // The database gone: metadata and the key both fail, each with its reason.
      const gone: Record<string, string> = scaleOut()
        ? { REGISTRY_AUTH_ENABLED: 'true', REGISTRY_METADATA_POSTGRES_URL: `postgres://registry:x@127.0.0.1:${await freePort()}/none` }
        : { REGISTRY_AUTH_ENABLED: 'true', REGISTRY_METADATA_SQLITE_PATH: join(reg.dataDir, 'missing', 'registry.db') };
      const failed = await runCli(reg, ['doctor', '--json'], { env: gone });
      assert.equal(failed.code, 1, failed.stdout);
      const report = parse(failed);
      assert.equal(check(report, 'metadata').ok, false);
      assert.match(check(report, 'auth').detail, /metadata store/);
      assert.equal(check(report, 'blobStore').ok, true);
    } finally {
      await reg.close();
    }
  });
});
