// `registry vulndb import` and `registry vulndb status` as operators run them: the compiled CLI
// against a running registry's database, which sees the advisories and the new version.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { makeTempDir, startRegistry, type TestRegistry } from '../helpers/registry.js';
import { runCli } from '../helpers/cli.js';
import { advisory, writeZip } from '../helpers/osv.js';
import type { ImportSummary } from '../../src/scan/vuln/import.js';

/** ImportSummary as JSON: dates are strings. */
type Summary = Omit<ImportSummary, 'state'> & { state: { version: number; advisories: number; changedAt: string; lastImportAt: string } };

describe('registry vulndb', () => {
  let reg: TestRegistry;
  let dir: string;
  before(async () => {
    reg = await startRegistry();
    dir = await makeTempDir('registry-vulndb-cli-');
  });
  after(async () => {
    await reg.close();
    await rm(dir, { recursive: true, force: true });
  });

  test('import --json from a directory and a zip archive; the running registry sees the advisories', async () => {
    const tree = join(dir, 'tree');
    await mkdir(join(tree, 'Debian'), { recursive: true });
    await writeFile(join(tree, 'Debian', 'DSA-1.json'), JSON.stringify(advisory('DSA-1', '2024-01-01T00:00:00Z', 'Debian:12', 'openssl')));
    await writeFile(join(tree, 'bad.json'), '{');
    const zip = join(dir, 'all.zip');
    await writeZip(zip, { 'GHSA-1.json': advisory('GHSA-1', '2024-01-01T00:00:00Z', 'npm', 'lodash') });

    const res = await runCli(reg, ['vulndb', 'import', tree, zip, '--json']);
    assert.equal(res.code, 0, res.stderr);
    const summary = JSON.parse(res.stdout) as Summary;
    assert.deepEqual([summary.files, summary.added, summary.skipped, summary.invalid], [3, 2, 0, 1]);
    assert.equal(summary.state.version, 1);
    assert.equal(summary.state.advisories, 2);
    assert.match(res.stderr, /invalid: .*bad\.json: not JSON/);

    const state = await reg.app.vulns.state();
    assert.equal(state.version, 1);
    assert.deepEqual((await reg.app.vulns.findByPackages('npm', ['lodash'])).map((a) => a.id), ['GHSA-1']);
  });

  test('a second import of the same files changes nothing; text output and status', async () => {
    const res = await runCli(reg, ['vulndb', 'import', join(dir, 'tree'), join(dir, 'all.zip')]);
    assert.equal(res.code, 0, res.stderr);
    const lines = res.stdout.trim().split('\n');
    assert.equal(lines[0], '3 files: 0 added, 0 updated, 0 removed, 2 unchanged, 1 invalid');
    assert.match(lines[1]!, /^database version 1: 2 advisories, changed \d{4}-\d\d-\d\dT[\d:.]+Z, last import \d{4}-/);

    const status = await runCli(reg, ['vulndb', 'status', '--json']);
    assert.equal(status.code, 0, status.stderr);
    const state = JSON.parse(status.stdout) as Summary['state'];
    assert.deepEqual([state.version, state.advisories], [1, 2]);
    assert.ok(Date.parse(state.lastImportAt) >= Date.parse(state.changedAt));
  });

  test('a source that does not exist, or no source at all, fails', async () => {
    const missing = await runCli(reg, ['vulndb', 'import', join(dir, 'nope.zip')]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /ENOENT/);
    const none = await runCli(reg, ['vulndb', 'import']);
    assert.notEqual(none.code, 0);
    assert.match(none.stderr, /missing required argument 'paths'/);
  });
});
