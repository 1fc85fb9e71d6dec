// `registry retention list|run` against a running registry's data: a dry run that removes
// nothing, a real run that removes what it reported, disabled policies skipped unless named.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import type { TestRegistry } from '../helpers/registry.js';
import { api, auditEvents, basic, expect, startTeamRegistry, type Credentials } from '../helpers/api.js';
import { runCli } from '../helpers/cli.js';
import { pushImage } from '../helpers/oci.js';
import type { RetentionReport } from '../../src/registry/retention.js';

describe('registry retention', () => {
  let reg: TestRegistry;
  let owner: Credentials;
  const tagsOf = async (repo: string) => {
    const res = await fetch(`${reg.url}/v2/${repo}/tags/list`, { headers: { Authorization: basic(owner) } });
    return ((await res.json()) as { tags: string[] }).tags;
  };
  before(async () => {
    ({ reg, owner } = await startTeamRegistry({ retention: { intervalMs: 0 } }));
  });
  after(async () => {
    await reg.close();
  });

  test('list, dry run, run; disabled policies run only when named', async () => {
    for (const tag of ['a', 'b', 'c']) {
      await pushImage(reg.url, 'team/cli', { reference: tag, headers: { Authorization: basic(owner) } });
      await sleep(5);
    }
    const enabled = expect(await api(reg, 'POST', '/namespaces/team/retention-policies', { as: owner, body: { repositories: 'cli', rules: { keepLatest: 2 } } }), 201).json.id as string;
    const disabled = expect(await api(reg, 'POST', '/namespaces/team/retention-policies', { as: owner, body: { repositories: 'cli', rules: { keepLatest: 1 }, enabled: false } }), 201).json.id as string;

    const list = await runCli(reg, ['retention', 'list']);
    assert.equal(list.code, 0, list.stderr);
    assert.match(list.stdout, new RegExp(`${enabled}  team/cli  \\{"keepLatest":2\\}  enabled  never run`));
    assert.match(list.stdout, new RegExp(`${disabled} .* disabled`));

    const dry = await runCli(reg, ['retention', 'run', '--dry-run', '--json']);
    assert.equal(dry.code, 0, dry.stderr);
    const dryReports = JSON.parse(dry.stdout) as RetentionReport[];
    assert.deepEqual(dryReports.map((r) => [r.policy, r.dryRun, r.removedTags.map((t) => t.tag)]), [[enabled, true, ['a']]]);
    assert.deepEqual(await tagsOf('team/cli'), ['a', 'b', 'c']);

    const real = await runCli(reg, ['retention', 'run']);
    assert.equal(real.code, 0, real.stderr);
    assert.match(real.stdout, /removed 1 tag\(s\) and 0 manifest\(s\)/);
    assert.match(real.stdout, /removed team\/cli:a \(sha256:[0-9a-f]{64}\): not one of the newest 2/);
    assert.deepEqual(await tagsOf('team/cli'), ['b', 'c']);

    const named = await runCli(reg, ['retention', 'run', '--policy', disabled, '--json']);
    assert.equal(named.code, 0, named.stderr);
    assert.deepEqual((JSON.parse(named.stdout) as RetentionReport[]).map((r) => r.tagsRemoved), [1]);
    assert.deepEqual(await tagsOf('team/cli'), ['c']);

    const unknown = await runCli(reg, ['retention', 'run', '--policy', 'nope']);
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /no retention policy nope/);

    const deletes = (await auditEvents(reg, { action: 'delete' })).filter((e) => e.repository === 'team/cli');
    assert.deepEqual(deletes.map((e) => e.actor), ['retention', 'retention']);
  });
});
