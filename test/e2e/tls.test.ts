// HTTPS: the registry serves TLS from PEM files, and SIGHUP swaps in a renewed certificate for
// new connections without a restart. Certificates are made by openssl in the test.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:https';
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { PeerCertificate } from 'node:tls';
import { makeTempDir, spawnRegistry } from '../helpers/registry.js';
import { run } from '../helpers/exec.js';

async function makeCert(dir: string, name: string, cn: string): Promise<{ cert: string; key: string }> {
  const cert = join(dir, `${name}.crt`);
  const key = join(dir, `${name}.key`);
  await run('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '2', '-subj', `/CN=${cn}`,
    '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', key, '-out', cert], { timeoutMs: 20_000 });
  return { cert, key };
}

function get(port: number, path: string, ca: Buffer): Promise<{ status: number; cert: PeerCertificate; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, ca, agent: false, timeout: 5000 }, (res) => {
      const cert = (res.socket as import('node:tls').TLSSocket).getPeerCertificate();
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, cert, body }));
    });
    req.on('error', reject);
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.end();
  });
}

test('HTTPS from PEM files, and SIGHUP reloads a renewed certificate', async () => {
  const dir = await makeTempDir('registry-tls-');
  const first = await makeCert(dir, 'first', 'registry-first');
  const second = await makeCert(dir, 'second', 'registry-second');
  // The registry always reads these two paths; renewal overwrites them.
  const certFile = join(dir, 'live.crt');
  const keyFile = join(dir, 'live.key');
  await run('cp', [first.cert, certFile]);
  await run('cp', [first.key, keyFile]);
  const server = await spawnRegistry(join(dir, 'data'), 0, { REGISTRY_HTTP_TLS_CERT_FILE: certFile, REGISTRY_HTTP_TLS_KEY_FILE: keyFile });
  try {
    const ca1 = await readFile(first.cert);
    const ca2 = await readFile(second.cert);
    const before = await get(server.port, '/v2/', ca1);
    assert.equal(before.status, 200);
    assert.equal(before.cert.subject.CN, 'registry-first');
    await assert.rejects(get(server.port, '/v2/', ca2), 'the second CA does not vouch for the first certificate');

    await run('cp', [second.cert, certFile]);
    await run('cp', [second.key, keyFile]);
    server.child.kill('SIGHUP');
    let after: Awaited<ReturnType<typeof get>> | undefined;
    for (let i = 0; i < 50 && after === undefined; i++) {
      await new Promise((r) => setTimeout(r, 100));
      after = await get(server.port, '/v2/', ca2).catch(() => undefined);
    }
    assert.ok(after, 'the renewed certificate is served after SIGHUP');
    assert.equal(after.status, 200);
    assert.equal(after.cert.subject.CN, 'registry-second');
    assert.equal(server.child.exitCode, null, 'still the same process');

    // Plain HTTP is not served on the TLS port.
    await assert.rejects(fetch(`http://127.0.0.1:${server.port}/v2/`, { signal: AbortSignal.timeout(3000) }).then(async (r) => {
      if (r.status === 200) return;
      throw new Error(`status ${r.status}`);
    }));
  } finally {
    await server.kill('SIGTERM');
    await rm(dir, { recursive: true, force: true });
  }
});
