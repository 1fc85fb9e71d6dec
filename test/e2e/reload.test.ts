// SIGHUP re-reads the configuration without dropping connections: the log level changes at
// once, settings that need a restart are named in the log, an invalid file is refused and the
// running configuration kept, and an upload in progress across the signal completes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { makeTempDir, spawnRegistry } from '../helpers/registry.js';
import { locationOf, randomBytes, sha256, startUpload, withDigest } from '../helpers/oci.js';

test('SIGHUP reloads the configuration; running requests are not dropped', async () => {
  const dir = await makeTempDir('registry-reload-');
  const configFile = join(dir, 'registry.yaml');
  await writeFile(configFile, 'log:\n  level: info\ngc:\n  intervalMs: 0\n');
  const server = await spawnRegistry(join(dir, 'data'), 0, { REGISTRY_CONFIG: configFile, REGISTRY_LOG_LEVEL: '' });
  let log = '';
  server.child.stdout!.on('data', (d: Buffer) => (log += d.toString()));
  server.child.stderr!.on('data', (d: Buffer) => (log += d.toString()));
  const waitForLog = async (pattern: RegExp) => {
    for (let i = 0; i < 100 && !pattern.test(log); i++) await sleep(50);
    assert.match(log, pattern);
  };
  try {
    // An upload whose body is still arriving when the signal comes.
    const data = randomBytes(256 * 1024);
    const location = await startUpload(server.url, 'reload/app');
    const body = new ReadableStream<Uint8Array>({
      async start(controller) {
        controller.enqueue(data.subarray(0, 100_000));
        await sleep(700);
        controller.enqueue(data.subarray(100_000));
        controller.close();
      },
    });
    const patch = fetch(location, { method: 'PATCH', headers: { 'Content-Type': 'application/octet-stream' }, body, duplex: 'half' } as RequestInit);

    await sleep(200);
    await writeFile(configFile, 'log:\n  level: warn\ngc:\n  intervalMs: 60000\n');
    server.child.kill('SIGHUP');
    await waitForLog(/"applied":\["log.level"\],"restartRequired":\["gc.intervalMs"\],"msg":"configuration reloaded"/);

    const patched = await patch;
    assert.equal(patched.status, 202);
    const put = await fetch(withDigest(locationOf(patched, server.url), sha256(data)), { method: 'PUT' });
    assert.equal(put.status, 201);
    const blob = await fetch(`${server.url}/v2/reload/app/blobs/${sha256(data)}`);
    assert.equal(sha256(Buffer.from(await blob.arrayBuffer())), sha256(data));
    // At level warn, requests (logged at info) are not logged any more.
    await sleep(300);
    const afterReload = log.slice(log.indexOf('configuration reloaded'));
    assert.doesNotMatch(afterReload, /"method":"GET"[^\n]*"msg":"request"/);

    // An invalid file is refused; the registry keeps serving with what it had.
    await writeFile(configFile, 'log:\n  level: loud\n');
    server.child.kill('SIGHUP');
    await waitForLog(/configuration reload failed; keeping the current configuration/);
    const ping = await fetch(`${server.url}/v2/`);
    assert.equal(ping.status, 200);
    assert.equal(server.child.exitCode, null);
  } finally {
    await server.kill('SIGTERM');
    await rm(dir, { recursive: true, force: true });
  }
});
