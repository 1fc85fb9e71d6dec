// Secure defaults: `registry serve` with no settings listens on loopback only and accepts a push
// there; on any other address it refuses to start without TLS (or http.allowPlainHttp) and auth
// (or auth.allowAnonymousPush), naming the settings, and starts with each opt-in (warning about
// it); SIGHUP warns about a configuration the next start would refuse. Nothing here is reachable
// from the network: the refusals happen before listening, and the registries that do listen on
// 0.0.0.0 run in a network namespace of their own (unshare).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { connect } from 'node:net';
import { networkInterfaces } from 'node:os';
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { backendEnv, CLI, makeTempDir } from '../helpers/registry.js';
import { freePort } from '../helpers/proxy.js';
import { makeCertificates } from '../helpers/certificates.js';
import { expectStatus, pushImage } from '../helpers/oci.js';
import { loadConfig } from '../../src/config/load.js';
import { exposureRefusals, exposureWarnings, isLoopbackHost } from '../../src/config/exposure.js';

interface Served {
  pid: number;
  /** Everything the process wrote so far. */
  output(): string;
  /** Resolves with the exit code. */
  exited: Promise<number | null>;
  stop(): Promise<number | null>;
}

/**
 * `registry serve <args> --data-dir <dir>` with only the backends (and `env`) set, like `npm start`.
 * `isolated`: in a network namespace of its own (unshare), where even 0.0.0.0 reaches nothing,
 * on the embedded backends (the shared servers are not reachable from there).
 */
async function serve(dir: string, args: string[], env: Record<string, string> = {}, isolated = false): Promise<Served> {
  const command = [process.execPath, CLI, 'serve', ...args, '--data-dir', dir];
  const [file, ...argv] = isolated ? ['unshare', '--map-root-user', '--net', '--', ...command] : command;
  const child = spawn(file!, argv, {
    env: { PATH: process.env['PATH'], ...(isolated ? {} : await backendEnv(dir)), REGISTRY_LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((res) => child.once('exit', (code) => res(code)));
  return {
    pid: child.pid!,
    output: () => out,
    exited,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      return exited;
    },
  };
}

async function waitFor(served: Served, pattern: RegExp, timeoutMs = 30_000): Promise<RegExpExecArray> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const m = pattern.exec(served.output());
    if (m) return m;
    if (Date.now() > deadline) throw new Error(`no ${pattern} in: ${served.output().slice(-2000)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Whether a TCP connection to host:port is accepted. */
function accepts(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port, timeout: 5_000 });
    socket.once('connect', () => (socket.destroy(), resolve(true)));
    socket.once('error', () => resolve(false));
    socket.once('timeout', () => (socket.destroy(), resolve(false)));
  });
}

describe('secure defaults', () => {
  let dir: string;
  before(async () => {
    dir = await makeTempDir('secure-defaults-');
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  test('no settings: listens on 127.0.0.1 only and accepts an anonymous push and pull there', async (t) => {
    const port = await freePort();
    const served = await serve(dir, ['--port', String(port)]);
    try {
      const m = await waitFor(served, /"host":"([^"]+)","port":(\d+)[^\n]*"msg":"registry listening"/);
      assert.equal(m[1], '127.0.0.1');
      assert.doesNotMatch(served.output(), /insecure settings/);
      const image = await pushImage(`http://127.0.0.1:${port}`, 'team/app', { reference: 'v1', layers: 2 });
      // Clients that name the host `localhost` (which may resolve to ::1 first) still get through.
      const pulled = await expectStatus(await fetch(`http://localhost:${port}/v2/team/app/manifests/v1`, { headers: { Accept: image.manifest.mediaType } }), 200);
      assert.deepEqual(pulled, image.bytes);
      const external = Object.values(networkInterfaces())
        .flat()
        .find((i) => i && i.family === 'IPv4' && !i.internal);
      if (external) assert.equal(await accepts(external.address, port), false, `reachable on ${external.address}`);
      else t.diagnostic('no non-loopback IPv4 address on this machine: reachability from outside not checked');
    } finally {
      assert.equal(await served.stop(), 0, served.output().slice(-2000));
    }
  });

  for (const [what, env, expected] of [
    ['no TLS, no auth', {}, [/refusing plain HTTP on 0\.0\.0\.0: .*http\.tls\.certFile.*http\.tls\.keyFile.*http\.allowPlainHttp/, /refusing anonymous push and delete on 0\.0\.0\.0: .*auth\.enabled.*auth\.allowAnonymousPush/]],
    ['auth on, no TLS', { REGISTRY_AUTH_ENABLED: 'true' }, [/refusing plain HTTP/]],
    ['anonymous push allowed, no TLS', { REGISTRY_AUTH_ALLOW_ANONYMOUS_PUSH: 'true' }, [/refusing plain HTTP/]],
    ['plain HTTP allowed, no auth', { REGISTRY_HTTP_ALLOW_PLAIN_HTTP: 'true' }, [/refusing anonymous push/]],
  ] as const) {
    test(`0.0.0.0 with ${what}: refuses to start (exit 2), naming the settings, and listens nowhere`, async () => {
      const port = await freePort();
      const served = await serve(dir, ['--host', '0.0.0.0', '--port', String(port)], env);
      const code = await Promise.race([served.exited, new Promise<string>((r) => setTimeout(() => r('still running'), 30_000))]);
      if (code === 'still running') await served.stop();
      assert.equal(code, 2, served.output());
      for (const pattern of expected) assert.match(served.output(), pattern);
      assert.equal(served.output().match(/refusing/g)?.length, expected.length, served.output());
      assert.doesNotMatch(served.output(), /registry listening/);
      assert.equal(await accepts('127.0.0.1', port), false);
    });
  }

  for (const [what, env, warned] of [
    ['plain HTTP and anonymous push allowed', { REGISTRY_HTTP_ALLOW_PLAIN_HTTP: 'true', REGISTRY_AUTH_ALLOW_ANONYMOUS_PUSH: 'true' }, [/http\.allowPlainHttp/, /auth\.allowAnonymousPush/]],
    ['plain HTTP allowed, auth on', { REGISTRY_HTTP_ALLOW_PLAIN_HTTP: 'true', REGISTRY_AUTH_ENABLED: 'true' }, [/http\.allowPlainHttp/]],
    ['TLS, anonymous push allowed', { tls: 'yes', REGISTRY_AUTH_ALLOW_ANONYMOUS_PUSH: 'true' }, [/auth\.allowAnonymousPush/]],
    ['TLS and auth on', { tls: 'yes', REGISTRY_AUTH_ENABLED: 'true' }, []],
  ] as const) {
    test(`0.0.0.0 with ${what}: starts (in a network namespace of its own), warning about each opt-in`, async () => {
      const data = await makeTempDir('secure-defaults-optin-');
      try {
        const { tls, ...settings } = env as Record<string, string>;
        if (tls) {
          const { cert, key } = await makeCertificates(data);
          Object.assign(settings, { REGISTRY_HTTP_TLS_CERT_FILE: cert, REGISTRY_HTTP_TLS_KEY_FILE: key });
        }
        const served = await serve(data, ['--host', '0.0.0.0', '--port', '5000'], settings, true);
        try {
          await waitFor(served, /"host":"0\.0\.0\.0","port":5000[^\n]*"msg":"registry listening"/);
          const logged = served.output();
          for (const pattern of warned) assert.match(logged, pattern);
          if (warned.length === 0) assert.doesNotMatch(logged, /allowPlainHttp|allowAnonymousPush/);
          assert.doesNotMatch(logged, /refusing/);
        } finally {
          assert.equal(await served.stop(), 0, served.output().slice(-2000));
        }
      } finally {
        await rm(data, { recursive: true, force: true });
      }
    });
  }

  test('SIGHUP with a configuration the next start would refuse: keeps serving, logs why', async () => {
    const port = await freePort();
    const file = join(dir, 'registry.yaml');
    await writeFile(file, 'log:\n  level: info\n');
    const served = await serve(dir, ['--port', String(port), '--config', file]);
    try {
      await waitFor(served, /"msg":"registry listening"/);
      await writeFile(file, 'http:\n  host: 0.0.0.0\n');
      process.kill(served.pid, 'SIGHUP');
      await waitFor(served, /"msg":"the reloaded configuration would be refused at the next start"/);
      assert.match(served.output(), /"restartRequired":\["http\.host"\]/);
      assert.match(served.output(), /refusing plain HTTP on 0\.0\.0\.0/);
      await expectStatus(await fetch(`http://127.0.0.1:${port}/v2/`), 200);
    } finally {
      assert.equal(await served.stop(), 0, served.output().slice(-2000));
    }
  });
});

describe('exposure check (what serve refuses, what it allows with a warning)', () => {
  const config = (env: Record<string, string>) => loadConfig({ env });

  test('loopback hosts', () => {
    for (const h of ['127.0.0.1', '127.1.2.3', '::1', '[::1]', '0:0:0:0:0:0:0:1', '::ffff:127.0.0.1', 'localhost', 'LOCALHOST']) assert.equal(isLoopbackHost(h), true, h);
    for (const h of ['0.0.0.0', '::', '10.0.0.1', '192.168.1.1', '::ffff:10.0.0.1', 'registry.example.com', 'localhost.example.com', '128.0.0.1']) assert.equal(isLoopbackHost(h), false, h);
  });

  test('the defaults are loopback, so nothing is refused and nothing warned', () => {
    const c = config({});
    assert.equal(c.http.host, '127.0.0.1');
    assert.deepEqual(exposureRefusals(c), []);
    assert.deepEqual(exposureWarnings(c), []);
  });

  test('each opt-in lifts its refusal and turns it into a warning', () => {
    const exposed = { REGISTRY_HTTP_HOST: '0.0.0.0' };
    assert.equal(exposureRefusals(config(exposed)).length, 2);
    const both = config({ ...exposed, REGISTRY_HTTP_ALLOW_PLAIN_HTTP: 'true', REGISTRY_AUTH_ALLOW_ANONYMOUS_PUSH: 'true' });
    assert.deepEqual(exposureRefusals(both), []);
    const warnings = exposureWarnings(both).join('\n');
    assert.match(warnings, /plain HTTP on 0\.0\.0\.0 \(http\.allowPlainHttp\)/);
    assert.match(warnings, /may push and delete \(auth\.allowAnonymousPush\)/);
    assert.match(warnings, /\/metrics answers without authentication/);
  });

  test('TLS and auth: served on any address without an opt-in', () => {
    const c = config({ REGISTRY_HTTP_HOST: '::', REGISTRY_HTTP_TLS_CERT_FILE: '/etc/registry/tls.crt', REGISTRY_HTTP_TLS_KEY_FILE: '/etc/registry/tls.key', REGISTRY_AUTH_ENABLED: 'true' });
    assert.deepEqual(exposureRefusals(c), []);
    assert.doesNotMatch(exposureWarnings(c).join('\n'), /allowPlainHttp|allowAnonymousPush/);
  });

  test('other weakening settings are warned about', () => {
    const c = config({
      REGISTRY_AUTH_ENABLED: 'true',
      REGISTRY_AUTH_INITIAL_ADMIN_USERNAME: 'admin',
      REGISTRY_AUTH_INITIAL_ADMIN_PASSWORD: 'a-long-password',
      REGISTRY_LDAP_URL: 'ldap://ldap.example.com',
      REGISTRY_LDAP_USER_BASE_DN: 'ou=people,dc=example,dc=com',
      REGISTRY_AUDIT_FORWARDING_SYSLOG_URL: 'udp://syslog.example.com:514',
    });
    const warnings = exposureWarnings(c).join('\n');
    assert.match(warnings, /auth\.initialAdminPassword is still set/);
    assert.match(warnings, /ldap:\/\/ without ldap\.startTls/);
    assert.match(warnings, /syslog\.url is not tls:\/\//);
  });
});
