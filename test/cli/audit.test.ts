// `registry audit`: the audit log from the command line, filtered, as text or JSON.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { TestRegistry } from '../helpers/registry.js';
import { api, createUser, expect, startAuthRegistry } from '../helpers/api.js';
import { runCli } from '../helpers/cli.js';

interface Event {
  id: number;
  at: string;
  actor: string;
  action: string;
  repository: string | null;
  detail: Record<string, unknown> | null;
}

describe('registry audit', () => {
  let reg: TestRegistry;
  before(async () => {
    reg = await startAuthRegistry();
    const olivia = await createUser(reg, 'olivia');
    expect(await api(reg, 'POST', '/namespaces', { as: olivia, body: { name: 'team' } }), 201);
    await reg.app.auditor.record({ actor: 'olivia', action: 'push', repository: 'team/app', reference: 'v1', digest: `sha256:${'a'.repeat(64)}` });
  });
  after(async () => {
    await reg.close();
  });

  async function events(args: string[]): Promise<Event[]> {
    const res = await runCli(reg, ['audit', '--json', ...args]);
    assert.equal(res.code, 0, res.stderr);
    return JSON.parse(res.stdout) as Event[];
  }

  test('--json lists events newest first, with the changes made through the API', async () => {
    const all = await events([]);
    assert.deepEqual(
      all.map((e) => [e.actor, e.action]),
      [
        ['olivia', 'push'],
        ['olivia', 'namespace.create'],
        ['admin', 'user.create'],
        ['system', 'user.create'],
      ],
    );
    assert.deepEqual(all[2]!.detail, { username: 'olivia', admin: false });
    assert.doesNotMatch(JSON.stringify(all), /password-1|argon2/);
  });

  test('filters: --actor, --action, --repository, --since, --until, --limit, --before', async () => {
    assert.deepEqual(
      (await events(['--actor', 'olivia'])).map((e) => e.action),
      ['push', 'namespace.create'],
    );
    assert.deepEqual(
      (await events(['--action', 'user.create'])).map((e) => e.actor),
      ['admin', 'system'],
    );
    assert.deepEqual(
      (await events(['--repository', 'team/app'])).map((e) => e.action),
      ['push'],
    );
    assert.equal((await events(['--since', '1h'])).length, 4);
    assert.equal((await events(['--since', new Date(Date.now() + 60_000).toISOString()])).length, 0);
    assert.equal((await events(['--until', '2000-01-01T00:00:00Z'])).length, 0);
    const first = await events(['--limit', '1']);
    assert.equal(first.length, 1);
    const rest = await events(['--before', String(first[0]!.id)]);
    assert.equal(rest.length, 3);
  });

  test('text output: one tab-separated line per event', async () => {
    const res = await runCli(reg, ['audit', '--action', 'push']);
    assert.equal(res.code, 0, res.stderr);
    const lines = res.stdout.trim().split('\n');
    assert.equal(lines.length, 1);
    const cols = lines[0]!.split('\t');
    assert.equal(cols[2], 'olivia');
    assert.equal(cols[3], 'push');
    assert.equal(cols[4], `team/app:v1@sha256:${'a'.repeat(64)}`);
  });

  test('bad options fail clearly', async () => {
    for (const args of [
      ['--limit', '0'],
      ['--since', 'yesterday-ish'],
    ]) {
      const res = await runCli(reg, ['audit', ...args]);
      assert.equal(res.code, 1, args.join(' '));
      assert.ok(res.stderr.length > 0);
    }
  });
});
