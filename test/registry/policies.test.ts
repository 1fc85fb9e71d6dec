// The glob matching of immutable-tag rules.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { globMatch, TAG_PATTERN } from '../../src/registry/policies.js';

test('globs: * any run (possibly empty), ? one character, everything else literal', () => {
  assert.ok(globMatch('v*', 'v1.0'));
  assert.ok(globMatch('v*', 'v'));
  assert.ok(!globMatch('v*', 'latest'));
  assert.ok(globMatch('*', 'anything_at-all.1'));
  assert.ok(globMatch('release-??', 'release-01'));
  assert.ok(!globMatch('release-??', 'release-1'));
  assert.ok(!globMatch('release-??', 'release-001'));
  // '.' and '-' are literal, not regular-expression syntax.
  assert.ok(globMatch('1.0', '1.0'));
  assert.ok(!globMatch('1.0', '1x0'));
  assert.ok(globMatch('*-rc?', '2.0-rc1'));
  assert.ok(!globMatch('v1', 'v10'));
});

test('rule patterns: tag characters and wildcards only', () => {
  for (const ok of ['v*', '*', 'release-??', 'A_b.c-d']) assert.ok(TAG_PATTERN.test(ok), ok);
  for (const bad of ['', 'a/b', 'a b', '[abc]', 'x'.repeat(129)]) assert.ok(!TAG_PATTERN.test(bad), bad);
});
