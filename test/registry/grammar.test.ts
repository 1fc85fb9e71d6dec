// Repository names, tags and digests against the OCI Distribution Spec grammars.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { checkName, checkTag, isValidName, isValidTag, namespaceOf, MAX_NAME_LENGTH } from '../../src/registry/names.js';
import { digestOf, parseDigest } from '../../src/registry/digest.js';
import { RegistryError, type ErrorCode } from '../../src/registry/errors.js';

// The grammars as the spec writes them, kept here independently of src/ on purpose.
const SPEC_NAME = /^[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*(\/[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*)*$/;
const SPEC_TAG = /^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}$/;
const SPEC_DIGEST = /^[a-z0-9]+([+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$/;

const SHA256_HEX = 'a'.repeat(64);
const SHA512_HEX = '0123456789abcdef'.repeat(8);

function throwsCode(fn: () => unknown, code: ErrorCode): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof RegistryError, `expected a RegistryError, got ${String(err)}`);
    assert.equal(err.code, code);
    assert.equal(err.status, 400);
    return true;
  });
}

describe('repository names', () => {
  for (const name of ['a', 'a/b', 'a-b/c__d', 'a.b/c', 'library/ubuntu', 'a--b', 'a_b', 'a0/1b/c-d.e_f', 'x'.repeat(MAX_NAME_LENGTH)]) {
    test(`accepts ${JSON.stringify(name.length > 20 ? `${name.slice(0, 10)}…(${name.length})` : name)}`, () => {
      assert.equal(isValidName(name), true);
      assert.equal(checkName(name), name);
    });
  }

  const invalid: [string, string][] = [
    ['uppercase', 'Library/ubuntu'],
    ['uppercase in a later component', 'library/Ubuntu'],
    ['leading slash', '/a'],
    ['trailing slash', 'a/'],
    ['leading dash', '-a'],
    ['trailing dash', 'a-'],
    ['leading dot', '.a'],
    ['trailing dot', 'a.'],
    ['leading underscore', '_a'],
    ['trailing underscore', 'a_'],
    ['double dot', 'a..b'],
    ['triple underscore', 'a___b'],
    ['empty component', 'a//b'],
    ['dot component', 'a/./b'],
    ['dot-dot component', 'a/../b'],
    ['empty', ''],
    ['256 characters', 'x'.repeat(MAX_NAME_LENGTH + 1)],
    ['a space', 'a b'],
    ['a colon', 'a:b'],
    ['non-ASCII', 'café'],
    ['a newline', 'a\n'],
  ];
  for (const [why, name] of invalid) {
    test(`refuses ${why}`, () => {
      assert.equal(isValidName(name), false);
      throwsCode(() => checkName(name), 'NAME_INVALID');
    });
  }

  test('the error detail holds a bounded copy of the name', () => {
    try {
      checkName('A'.repeat(10_000));
      assert.fail('expected NAME_INVALID');
    } catch (err) {
      assert.ok(err instanceof RegistryError);
      assert.ok(String((err.detail as { name: string }).name).length <= MAX_NAME_LENGTH + 1);
    }
  });

  test('namespaceOf is the first path segment', () => {
    assert.equal(namespaceOf('a'), 'a');
    assert.equal(namespaceOf('a/b/c'), 'a');
  });
});

describe('tags', () => {
  for (const tag of ['latest', 'v1.0.0', 'A', '_x', '1', 'a-b_c.D', 't'.repeat(128)]) {
    test(`accepts ${tag.length > 20 ? `a ${tag.length}-character tag` : tag}`, () => {
      assert.equal(isValidTag(tag), true);
      assert.equal(checkTag(tag), tag);
    });
  }
  const invalid: [string, string][] = [
    ['129 characters', 't'.repeat(129)],
    ['a leading dot', '.hidden'],
    ['a leading dash', '-x'],
    ['empty', ''],
    ['a slash', 'a/b'],
    ['a colon', 'a:b'],
    ['a plus', 'a+b'],
    ['a space', 'a b'],
    ['a trailing newline', 'latest\n'],
  ];
  for (const [why, tag] of invalid) {
    test(`refuses ${why}`, () => {
      assert.equal(isValidTag(tag), false);
      throwsCode(() => checkTag(tag), 'TAG_INVALID');
    });
  }
});

describe('digests', () => {
  test('accepts sha256 with 64 lowercase hex', () => {
    const d = parseDigest(`sha256:${SHA256_HEX}`);
    assert.deepEqual(d, { algorithm: 'sha256', hex: SHA256_HEX, value: `sha256:${SHA256_HEX}` });
  });

  test('accepts sha512 with 128 lowercase hex', () => {
    const d = parseDigest(`sha512:${SHA512_HEX}`);
    assert.deepEqual(d, { algorithm: 'sha512', hex: SHA512_HEX, value: `sha512:${SHA512_HEX}` });
  });

  test('digestOf matches known vectors and round-trips through parseDigest', () => {
    const empty256 = 'sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';
    assert.equal(digestOf('sha256', '').value, empty256);
    assert.equal(digestOf('sha256', new Uint8Array()).value, empty256);
    const abc512 =
      'sha512:ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f';
    assert.equal(digestOf('sha512', 'abc').value, abc512);
    assert.equal(parseDigest(abc512).value, abc512);
  });

  const invalid: [string, string][] = [
    ['uppercase sha256 hex', `sha256:${'A'.repeat(64)}`],
    ['uppercase sha512 hex', `sha512:${SHA512_HEX.toUpperCase()}`],
    ['sha256 one hex short', `sha256:${'a'.repeat(63)}`],
    ['sha256 one hex long', `sha256:${'a'.repeat(65)}`],
    ['sha256 with sha512 length', `sha256:${SHA512_HEX}`],
    ['sha512 with sha256 length', `sha512:${SHA256_HEX}`],
    ['non-hex characters', `sha256:${'g'.repeat(64)}`],
    ['an unknown algorithm', `md5:${'a'.repeat(32)}`],
    ['a well-formed but unsupported algorithm', `sha256+b64u:${'a'.repeat(43)}`],
    ['uppercase algorithm', `SHA256:${SHA256_HEX}`],
    ['no colon', SHA256_HEX],
    ['no algorithm', `:${SHA256_HEX}`],
    ['no encoded part', 'sha256:'],
    ['two colons', `sha256::${SHA256_HEX}`],
    ['surrounding whitespace', ` sha256:${SHA256_HEX}`],
    ['a trailing newline', `sha256:${SHA256_HEX}\n`],
    ['empty', ''],
    ['an overly long value', `sha256:${'a'.repeat(1000)}`],
  ];
  for (const [why, value] of invalid) {
    test(`refuses ${why}`, () => throwsCode(() => parseDigest(value), 'DIGEST_INVALID'));
  }
});

describe('grammar properties', () => {
  const NAME_CHARS = [...'abz09', '.', '_', '-', '/', 'A', ' '];
  const TAG_CHARS = [...'aZ09', '.', '_', '-', '/', ':', ' '];
  const DIGEST_CHARS = [...'abcdef0123456789', 'A', 'g', ':', '+', '.', '_', '-', '='];
  const anyString = fc.string({ unit: 'binary', maxLength: 300 });
  const nameish = fc.string({ unit: fc.constantFrom(...NAME_CHARS), maxLength: 40 });
  const tagish = fc.oneof(fc.string({ unit: fc.constantFrom(...TAG_CHARS), maxLength: 140 }), fc.string({ unit: fc.constantFrom(...TAG_CHARS), minLength: 120, maxLength: 140 }));
  const digestish = fc.oneof(
    fc.string({ unit: fc.constantFrom(...DIGEST_CHARS), maxLength: 140 }),
    fc
      .tuple(fc.constantFrom('sha256', 'sha512', 'sha384', 'blake3', 'sha256+b64u'), fc.string({ unit: fc.constantFrom(...DIGEST_CHARS), minLength: 60, maxLength: 130 }))
      .map(([a, h]) => `${a}:${h}`),
    fc.tuple(fc.constantFrom('sha256', 'sha512'), fc.integer({ min: 0, max: 2 ** 31 })).map(([a, seed]) => digestOf(a, String(seed)).value),
  );

  /** Call `fn`; only a RegistryError with `code` may escape. Returns whether it accepted. */
  function accepted(fn: () => unknown, code: ErrorCode): boolean {
    try {
      fn();
      return true;
    } catch (err) {
      if (err instanceof RegistryError && err.code === code) return false;
      throw err;
    }
  }

  test('names: never crash; accepted exactly when the spec grammar matches within 255 characters', () => {
    let acceptedCount = 0;
    fc.assert(
      fc.property(fc.oneof(anyString, nameish), (s) => {
        const ok = accepted(() => checkName(s), 'NAME_INVALID');
        if (ok) acceptedCount++;
        assert.equal(ok, isValidName(s));
        assert.equal(ok, SPEC_NAME.test(s) && s.length <= MAX_NAME_LENGTH, JSON.stringify(s));
      }),
      { numRuns: 3000 },
    );
    assert.ok(acceptedCount > 50, `only ${acceptedCount} generated names were accepted`);
  });

  test('tags: never crash; accepted exactly when the spec grammar matches', () => {
    let acceptedCount = 0;
    fc.assert(
      fc.property(fc.oneof(anyString, tagish), (s) => {
        const ok = accepted(() => checkTag(s), 'TAG_INVALID');
        if (ok) acceptedCount++;
        assert.equal(ok, isValidTag(s));
        assert.equal(ok, SPEC_TAG.test(s), JSON.stringify(s));
      }),
      { numRuns: 3000 },
    );
    assert.ok(acceptedCount > 50, `only ${acceptedCount} generated tags were accepted`);
  });

  test('digests: never crash; anything accepted matches the spec grammar and is a sha256/sha512 of the right length', () => {
    let acceptedCount = 0;
    fc.assert(
      fc.property(fc.oneof(anyString, digestish), (s) => {
        if (!accepted(() => parseDigest(s), 'DIGEST_INVALID')) return;
        acceptedCount++;
        assert.match(s, SPEC_DIGEST);
        assert.match(s, /^(sha256:[0-9a-f]{64}|sha512:[0-9a-f]{128})$/);
        assert.equal(parseDigest(s).value, s);
      }),
      { numRuns: 3000 },
    );
    // The generators must reach the accepting side too, or the property says little.
    assert.ok(acceptedCount > 50, `only ${acceptedCount} generated digests were accepted`);
  });
});
