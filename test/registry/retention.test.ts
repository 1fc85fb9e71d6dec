// The retention planners on their own: which tags a rule set removes (ranking, patterns, ages,
// pulls, immutable tags) and which manifests become untagged (indexes, referrers, grace).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { matchesRepository, planTags, planUntagged } from '../../src/registry/retention.js';
import type { ManifestNode, TaggedManifest } from '../../src/metadata/retention-store.js';
import type { ImmutableRule } from '../../src/metadata/policy-store.js';

const DAY = 24 * 3600_000;
const NOW = Date.UTC(2026, 10, 30);

function tag(name: string, ageDays: number, pulledDaysAgo?: number): TaggedManifest {
  return {
    tag: name,
    digest: `sha256:${name}`,
    taggedAt: new Date(NOW - ageDays * DAY),
    lastPulledAt: pulledDaysAgo === undefined ? null : new Date(NOW - pulledDaysAgo * DAY),
  };
}

const removed = (plan: ReturnType<typeof planTags>) => plan.remove.map((d) => d.tag).sort();

describe('planTags', () => {
  const tags = [tag('v1', 100), tag('v2', 50), tag('latest', 1), tag('dev-a', 40, 2), tag('dev-b', 30), tag('dev-c', 10), tag('dev-d', 5)];

  test('keepLatest ranks by push time, newest first, among the tags that may go', () => {
    assert.deepEqual(removed(planTags(tags, { keepLatest: 3 }, NOW)), ['dev-a', 'dev-b', 'v1', 'v2']);
    // Tags kept by pattern do not use up the newest N.
    assert.deepEqual(removed(planTags(tags, { keepLatest: 3, keepTags: ['latest', 'v*'] }, NOW)), ['dev-a']);
    // Only removeTags candidates are ranked.
    assert.deepEqual(removed(planTags(tags, { keepLatest: 1, removeTags: ['dev-*'] }, NOW)), ['dev-a', 'dev-b', 'dev-c']);
    assert.deepEqual(removed(planTags(tags, { keepLatest: 0, removeTags: ['dev-?'] }, NOW)), ['dev-a', 'dev-b', 'dev-c', 'dev-d']);
    assert.deepEqual(removed(planTags(tags, { keepLatest: 100 }, NOW)), []);
  });

  test('age conditions must all hold; never pulled counts from the push', () => {
    assert.deepEqual(removed(planTags(tags, { olderThanDays: 35 }, NOW)), ['dev-a', 'v1', 'v2']);
    // dev-a was pulled 2 days ago.
    assert.deepEqual(removed(planTags(tags, { notPulledForDays: 20 }, NOW)), ['dev-b', 'v1', 'v2']);
    assert.deepEqual(removed(planTags(tags, { olderThanDays: 35, notPulledForDays: 20, keepTags: ['v1'] }, NOW)), ['v2']);
    assert.deepEqual(removed(planTags(tags, { olderThanDays: 35, keepLatest: 6 }, NOW)), ['v1']);
    // Exactly D days old stays (strictly older goes).
    assert.deepEqual(removed(planTags([tag('edge', 10)], { olderThanDays: 10 }, NOW)), []);
    const reasons = planTags(tags, { olderThanDays: 35, notPulledForDays: 20 }, NOW).remove.find((d) => d.tag === 'v1')!.reason;
    assert.equal(reasons, 'pushed 100 days ago; never pulled');
  });

  test('removeTags alone removes every matching tag; immutable tags are kept and listed', () => {
    const rules: ImmutableRule[] = [{ id: '1', namespace: 'ns', pattern: 'dev-c', createdBy: 'x', createdAt: new Date() }];
    const plan = planTags(tags, { removeTags: ['dev-*'] }, NOW, rules);
    assert.deepEqual(removed(plan), ['dev-a', 'dev-b', 'dev-d']);
    assert.deepEqual(plan.immutable.map((d) => d.tag), ['dev-c']);
    assert.equal(plan.keep.length + plan.remove.length, tags.length);
  });

  test('a policy that only cleans untagged manifests keeps every tag', () => {
    const plan = planTags(tags, { untagged: true }, NOW);
    assert.equal(plan.remove.length, 0);
    assert.equal(plan.keep.length, tags.length);
  });

  test('equal push times are ranked by name, so every run decides alike', () => {
    const same = [tag('b', 1), tag('a', 1), tag('c', 1)];
    assert.deepEqual(removed(planTags(same, { keepLatest: 1 }, NOW)), ['b', 'c']);
  });
});

describe('planUntagged', () => {
  const node = (digest: string, extra: Partial<ManifestNode> = {}): ManifestNode => ({ digest, size: 1, createdAt: NOW - DAY, subject: null, children: [], ...extra });

  test('an untagged index frees its platform manifests; a removed subject frees its referrers', () => {
    const graph = [
      node('index', { children: ['amd', 'arm'] }),
      node('amd'),
      node('arm'),
      node('sig', { subject: 'image' }),
      node('image'),
      node('kept-sig', { subject: 'tagged' }),
      node('tagged'),
      node('orphan-sig', { subject: 'never-pushed' }),
    ];
    const order = planUntagged(graph, new Set(['tagged']), NOW).map((m) => m.digest);
    assert.deepEqual([...order].sort(), ['amd', 'arm', 'image', 'index', 'orphan-sig', 'sig']);
    // Parents before what they kept.
    assert.ok(order.indexOf('index') < order.indexOf('amd'));
    assert.ok(order.indexOf('image') < order.indexOf('sig'));
  });

  test('a tagged index keeps its children; young manifests stay', () => {
    const graph = [node('index', { children: ['amd'] }), node('amd'), node('young', { createdAt: NOW })];
    assert.deepEqual(planUntagged(graph, new Set(['index']), NOW).map((m) => m.digest), []);
  });
});

test('repository globs match the path below the namespace or the whole name', () => {
  const p = (repositories: string) => ({ namespace: 'team', repositories });
  assert.ok(matchesRepository(p('*'), 'team'));
  assert.ok(matchesRepository(p('app-*'), 'team/app-web'));
  assert.ok(!matchesRepository(p('app-*'), 'team/web'));
  assert.ok(matchesRepository(p('team/ci/*'), 'team/ci/build'));
  assert.ok(matchesRepository(p('ci/*'), 'team/ci/build'));
});
