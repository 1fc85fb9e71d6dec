// Retention policies through the management API with real pushes: keep the newest N, keep and
// remove by tag pattern, age and "not pulled for" conditions (fractions of a day, so the test
// can wait them out), untagged manifests with indexes and referrers, immutable tags, dry runs
// that change nothing and agree with the real run, scheduled runs, and the audit trail.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import type { TestRegistry } from '../helpers/registry.js';
import { ADMIN, api, auditEvents, basic, expect, startTeamRegistry, type Credentials } from '../helpers/api.js';
import { MediaType, pushImage, pushManifest, type Descriptor, type PushedImage } from '../helpers/oci.js';

const SECOND_IN_DAYS = 1 / 86_400;

function auth(c: Credentials): Record<string, string> {
  return { Authorization: basic(c) };
}

async function tags(reg: TestRegistry, repo: string, as: Credentials): Promise<string[]> {
  const res = await fetch(`${reg.url}/v2/${repo}/tags/list`, { headers: auth(as) });
  const body = (await res.json()) as { tags?: string[] };
  assert.equal(res.status, 200);
  return body.tags ?? [];
}

async function manifestStatus(reg: TestRegistry, repo: string, reference: string, as: Credentials): Promise<number> {
  const res = await fetch(`${reg.url}/v2/${repo}/manifests/${reference}`, {
    headers: { ...auth(as), Accept: [MediaType.OciManifest, MediaType.OciIndex].join(', ') },
  });
  await res.arrayBuffer();
  return res.status;
}

/** Pushes one image per tag, a few milliseconds apart so their push times differ. */
async function pushTags(reg: TestRegistry, repo: string, names: string[], as: Credentials): Promise<Map<string, PushedImage>> {
  const pushed = new Map<string, PushedImage>();
  for (const name of names) {
    pushed.set(name, await pushImage(reg.url, repo, { reference: name, headers: auth(as) }));
    await sleep(5);
  }
  return pushed;
}

async function createPolicy(reg: TestRegistry, as: Credentials, body: object): Promise<string> {
  return expect(await api(reg, 'POST', '/namespaces/team/retention-policies', { as, body }), 201).json.id as string;
}

async function run(reg: TestRegistry, as: Credentials, id: string, dryRun: boolean) {
  return expect(await api(reg, 'POST', `/namespaces/team/retention-policies/${id}/run`, { as, body: { dryRun } }), 200).json;
}

describe('retention policies', () => {
  let reg: TestRegistry;
  let owner: Credentials;
  let reader: Credentials;
  let outsider: Credentials;
  before(async () => {
    ({ reg, owner, reader, outsider } = await startTeamRegistry({ retention: { intervalMs: 0, untaggedGraceMs: 0 } }));
  });
  after(async () => {
    await reg.close();
  });

  test('owners and admins manage policies; members read them; bad rules are refused; changes are audited', async () => {
    const body = { repositories: 'app-*', rules: { keepLatest: 3 } };
    expect(await api(reg, 'POST', '/namespaces/team/retention-policies', { as: reader, body }), 403, 'DENIED');
    expect(await api(reg, 'POST', '/namespaces/team/retention-policies', { as: outsider, body }), 404, 'NAME_UNKNOWN');
    expect(await api(reg, 'POST', '/namespaces/team/retention-policies', { body }), 401, 'UNAUTHORIZED');
    // A policy must say what it removes; patterns and numbers are checked.
    expect(await api(reg, 'POST', '/namespaces/team/retention-policies', { as: owner, body: { rules: {} } }), 400, 'UNSUPPORTED');
    expect(await api(reg, 'POST', '/namespaces/team/retention-policies', { as: owner, body: { rules: { keepTags: ['v*'] } } }), 400, 'UNSUPPORTED');
    expect(await api(reg, 'POST', '/namespaces/team/retention-policies', { as: owner, body: { rules: { keepLatest: -1 } } }), 400, 'UNSUPPORTED');
    expect(await api(reg, 'POST', '/namespaces/team/retention-policies', { as: owner, body: { rules: { removeTags: ['a/b'] } } }), 400, 'UNSUPPORTED');
    expect(await api(reg, 'POST', '/namespaces/team/retention-policies', { as: owner, body: { rules: { keepLatest: 1 }, extra: 1 } }), 400, 'UNSUPPORTED');

    const created = expect(await api(reg, 'POST', '/namespaces/team/retention-policies', { as: owner, body }), 201);
    const id = created.json.id as string;
    assert.equal(created.headers.get('location'), `/api/v1/namespaces/team/retention-policies/${id}`);
    assert.deepEqual({ ...created.json, id: undefined, createdAt: undefined, updatedAt: undefined }, {
      id: undefined,
      namespace: 'team',
      repositories: 'app-*',
      rules: { keepLatest: 3 },
      enabled: true,
      createdBy: 'olivia',
      createdAt: undefined,
      updatedAt: undefined,
      lastRunAt: null,
      lastRun: null,
    });
    const listed = expect(await api(reg, 'GET', '/namespaces/team/retention-policies', { as: reader }), 200);
    assert.deepEqual(listed.json.policies.map((p: { id: string }) => p.id), [id]);
    expect(await api(reg, 'GET', '/namespaces/team/retention-policies', { as: outsider }), 404, 'NAME_UNKNOWN');

    expect(await api(reg, 'PATCH', `/namespaces/team/retention-policies/${id}`, { as: reader, body: { enabled: false } }), 403, 'DENIED');
    const changed = expect(await api(reg, 'PATCH', `/namespaces/team/retention-policies/${id}`, { as: ADMIN, body: { enabled: false, rules: { keepLatest: 5, untagged: true } } }), 200);
    assert.equal(changed.json.enabled, false);
    assert.deepEqual(changed.json.rules, { keepLatest: 5, untagged: true });
    assert.deepEqual(expect(await api(reg, 'GET', `/namespaces/team/retention-policies/${id}`, { as: reader }), 200).json.rules, { keepLatest: 5, untagged: true });

    // A reader may preview, not run.
    expect(await api(reg, 'POST', `/namespaces/team/retention-policies/${id}/run`, { as: reader, body: { dryRun: true } }), 200);
    expect(await api(reg, 'POST', `/namespaces/team/retention-policies/${id}/run`, { as: reader, body: { dryRun: false } }), 403, 'DENIED');

    expect(await api(reg, 'DELETE', `/namespaces/team/retention-policies/${id}`, { as: owner }), 204);
    expect(await api(reg, 'DELETE', `/namespaces/team/retention-policies/${id}`, { as: owner }), 404, 'NAME_UNKNOWN');
    expect(await api(reg, 'GET', `/namespaces/team/retention-policies/${id}`, { as: owner }), 404, 'NAME_UNKNOWN');

    const events = await auditEvents(reg, { actor: 'olivia' });
    const actions = events.filter((e) => e.detail?.['id'] === id).map((e) => e.action);
    assert.ok(actions.includes('retention-policy.create') && actions.includes('retention-policy.delete'), actions.join());
    assert.ok((await auditEvents(reg, { action: 'retention-policy.update' })).some((e) => e.actor === 'admin' && e.detail?.['id'] === id));
  });

  test('the OpenAPI document describes the retention routes and bodies', async () => {
    const doc = expect(await api(reg, 'GET', '/openapi.json'), 200).json;
    for (const p of ['/namespaces/{name}/retention-policies', '/namespaces/{name}/retention-policies/{id}', '/namespaces/{name}/retention-policies/{id}/run']) {
      assert.ok(doc.paths[p], `${p} is described`);
    }
    const schema = doc.components.schemas.NewRetentionPolicy;
    assert.deepEqual(schema.required, ['rules']);
    assert.deepEqual(Object.keys(schema.properties.rules.properties).sort(), ['keepLatest', 'keepTags', 'notPulledForDays', 'olderThanDays', 'removeTags', 'untagged']);
  });

  test('keep the newest N and tags matching a pattern; a dry run changes nothing and names what would go', async () => {
    const repo = 'team/app-web';
    await pushTags(reg, repo, ['stable', 't1', 't2', 't3', 't4', 't5'], owner);
    const id = await createPolicy(reg, owner, { repositories: 'app-*', rules: { keepLatest: 2, keepTags: ['stable'] } });

    const preview = await run(reg, reader, id, true);
    assert.equal(preview.dryRun, true);
    assert.equal(preview.repositories, 1);
    assert.deepEqual(preview.removedTags.map((t: { tag: string }) => t.tag).sort(), ['t1', 't2', 't3']);
    assert.equal(preview.tagsRemoved, 3);
    assert.equal(preview.tagsKept, 3);
    assert.match(preview.removedTags[0].reason, /not one of the newest 2/);
    assert.deepEqual(await tags(reg, repo, owner), ['stable', 't1', 't2', 't3', 't4', 't5']);

    const report = await run(reg, owner, id, false);
    assert.equal(report.dryRun, false);
    assert.deepEqual(report.removedTags, preview.removedTags);
    assert.deepEqual(await tags(reg, repo, owner), ['stable', 't4', 't5']);
    assert.equal(await manifestStatus(reg, repo, 't1', owner), 404);
    assert.equal(await manifestStatus(reg, repo, 't5', owner), 200);

    // Every removal is in the audit log, with the policy; so is the run.
    const deletes = (await auditEvents(reg, { action: 'delete' })).filter((e) => e.repository === repo);
    assert.equal(deletes.length, 3);
    for (const e of deletes) {
      assert.equal(e.actor, 'olivia');
      assert.equal(e.detail?.['policy'], id);
    }
    const runs = (await auditEvents(reg, { action: 'retention.run' })).filter((e) => e.detail?.['id'] === id);
    assert.equal(runs.length, 1);
    assert.equal(runs[0]!.detail?.['tagsRemoved'], 3);
    const policy = expect(await api(reg, 'GET', `/namespaces/team/retention-policies/${id}`, { as: owner }), 200).json;
    assert.equal(policy.lastRun.tagsRemoved, 3);
    assert.equal(policy.lastRun.trigger, 'manual');

    // A second run finds nothing more; the repository glob leaves other repositories alone.
    await pushTags(reg, 'team/other', ['o1', 'o2', 'o3', 'o4'], owner);
    const again = await run(reg, owner, id, false);
    assert.equal(again.tagsRemoved, 0);
    assert.deepEqual(await tags(reg, 'team/other', owner), ['o1', 'o2', 'o3', 'o4']);
    expect(await api(reg, 'DELETE', `/namespaces/team/retention-policies/${id}`, { as: owner }), 204);
  });

  test('remove tags pushed more than D days ago and not pulled for D days', async () => {
    const repo = 'team/aged';
    const pushedOld = Date.now();
    await pushTags(reg, repo, ['old-pulled', 'old-idle'], owner);
    await sleep(3000);
    const pulled = Date.now();
    assert.equal(await manifestStatus(reg, repo, 'old-pulled', owner), 200);
    await pushTags(reg, repo, ['fresh'], owner);
    // A threshold halfway between the pull (and the fresh push) and the old pushes, however
    // long the steps above took on a busy machine: up to 1.5 s may pass until the run.
    const days = (Date.now() - pulled + (pulled - pushedOld) / 2) * (SECOND_IN_DAYS / 1000);
    const id = await createPolicy(reg, owner, { repositories: 'aged', rules: { olderThanDays: days, notPulledForDays: days } });
    const report = await run(reg, owner, id, false);
    assert.deepEqual(report.removedTags.map((t: { tag: string }) => t.tag), ['old-idle']);
    assert.match(report.removedTags[0].reason, /pushed \d+ days ago; never pulled/);
    assert.deepEqual(await tags(reg, repo, owner), ['fresh', 'old-pulled']);
    expect(await api(reg, 'DELETE', `/namespaces/team/retention-policies/${id}`, { as: owner }), 204);
  });

  test('untagged manifests go with their platform manifests and referrers; immutable tags stay; garbage collection then frees the bytes', async () => {
    const repo = 'team/multi';
    const h = auth(owner);
    expect(await api(reg, 'POST', '/namespaces/team/immutable-rules', { as: owner, body: { pattern: 'keep-*' } }), 201);
    const images = await pushTags(reg, repo, ['dev-1', 'dev-2', 'keep-1', 'v1'], owner);
    // A multi-arch index tagged `multi` whose platform manifests are untagged.
    const amd = await pushImage(reg.url, repo, { headers: h });
    const arm = await pushImage(reg.url, repo, { headers: h });
    const platform = (p: PushedImage, architecture: string): Descriptor & { platform: object } => ({
      mediaType: MediaType.OciManifest,
      digest: p.digest,
      size: p.bytes.length,
      platform: { os: 'linux', architecture },
    });
    const index = await pushManifest(reg.url, repo, 'multi', { schemaVersion: 2, mediaType: MediaType.OciIndex, manifests: [platform(amd, 'amd64'), platform(arm, 'arm64')] }, MediaType.OciIndex, h);
    // A signature-like referrer of dev-1, and one of v1 (which stays).
    const dev1 = images.get('dev-1')!;
    const subjectOf = (p: PushedImage): Descriptor => ({ mediaType: MediaType.OciManifest, digest: p.digest, size: p.bytes.length });
    const sig = await pushImage(reg.url, repo, { subject: subjectOf(dev1), headers: h });
    const v1sig = await pushImage(reg.url, repo, { subject: subjectOf(images.get('v1')!), headers: h });
    // An untagged manifest from the start.
    const loose = await pushImage(reg.url, repo, { headers: h });

    const id = await createPolicy(reg, owner, { repositories: 'multi', rules: { removeTags: ['dev-*', 'multi', 'keep-*'], untagged: true } });
    const preview = await run(reg, owner, id, true);
    const removedDigests = [dev1.digest, images.get('dev-2')!.digest, index.digest, amd.digest, arm.digest, sig.digest, loose.digest].sort();
    assert.deepEqual(preview.removedTags.map((t: { tag: string }) => t.tag).sort(), ['dev-1', 'dev-2', 'multi']);
    assert.deepEqual(preview.immutableKept.map((t: { tag: string }) => t.tag), ['keep-1']);
    assert.deepEqual(preview.removedManifests.map((m: { digest: string }) => m.digest).sort(), removedDigests);
    assert.equal(await manifestStatus(reg, repo, sig.digest, owner), 200);

    const report = await run(reg, owner, id, false);
    assert.deepEqual(report.removedManifests.map((m: { digest: string }) => m.digest).sort(), removedDigests);
    assert.equal(report.manifestsRemoved, 7);
    for (const digest of removedDigests) assert.equal(await manifestStatus(reg, repo, digest, owner), 404, digest);
    for (const kept of ['keep-1', 'v1', v1sig.digest]) assert.equal(await manifestStatus(reg, repo, kept, owner), 200, kept);
    assert.deepEqual(await tags(reg, repo, owner), ['keep-1', 'v1']);
    const untaggedDeletes = (await auditEvents(reg, { action: 'delete' })).filter((e) => e.repository === repo && e.detail?.['reason'] === 'untagged');
    assert.equal(untaggedDeletes.length, 7);

    // The layers of what retention removed are garbage now; the others are not.
    const layer = dev1.layers[0]!.digest;
    await reg.app.collectGarbage({ reviewDelayMs: 0 });
    const gone = await fetch(`${reg.url}/v2/${repo}/blobs/${layer}`, { headers: h });
    await gone.arrayBuffer();
    assert.equal(gone.status, 404);
    const kept = await fetch(`${reg.url}/v2/${repo}/blobs/${images.get('v1')!.layers[0]!.digest}`, { headers: h });
    await kept.arrayBuffer();
    assert.equal(kept.status, 200);
    expect(await api(reg, 'DELETE', `/namespaces/team/retention-policies/${id}`, { as: owner }), 204);
  });
});

describe('scheduled retention', () => {
  let reg: TestRegistry;
  let owner: Credentials;
  before(async () => {
    ({ reg, owner } = await startTeamRegistry({ retention: { intervalMs: 1000, untaggedGraceMs: 0 } }));
  });
  after(async () => {
    await reg.close();
  });

  test('enabled policies run on the schedule, first an interval after their creation; disabled ones never', async () => {
    await pushTags(reg, 'team/sched', ['a', 'b', 'c'], owner);
    await pushTags(reg, 'team/paused', ['a', 'b', 'c'], owner);
    const id = await createPolicy(reg, owner, { repositories: 'sched', rules: { keepLatest: 1 } });
    await createPolicy(reg, owner, { repositories: 'paused', rules: { keepLatest: 1 }, enabled: false });
    const deadline = Date.now() + 15_000;
    while ((await tags(reg, 'team/sched', owner)).length > 1 && Date.now() < deadline) await sleep(200);
    assert.deepEqual(await tags(reg, 'team/sched', owner), ['c']);
    assert.deepEqual(await tags(reg, 'team/paused', owner), ['a', 'b', 'c']);
    const policy = expect(await api(reg, 'GET', `/namespaces/team/retention-policies/${id}`, { as: owner }), 200).json;
    assert.equal(policy.lastRun.trigger, 'schedule');
    assert.equal(policy.lastRun.tagsRemoved, 2);
    const deletes = (await auditEvents(reg, { action: 'delete' })).filter((e) => e.repository === 'team/sched');
    assert.deepEqual(deletes.map((e) => e.actor), ['retention', 'retention']);
  });
});
