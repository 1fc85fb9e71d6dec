// Range (blob GET), Content-Range (upload chunk) and the upload status Range header.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { parseContentRange, parseRangeHeader, uploadRangeHeader } from '../../src/registry/ranges.js';

describe('parseRangeHeader', () => {
  const SIZE = 100;

  test('a normal range', () => {
    assert.deepEqual(parseRangeHeader('bytes=0-9', SIZE), { start: 0, end: 9 });
    assert.deepEqual(parseRangeHeader('bytes=10-10', SIZE), { start: 10, end: 10 });
    assert.deepEqual(parseRangeHeader('bytes=0-99', SIZE), { start: 0, end: 99 });
  });

  test('tolerates case and whitespace', () => {
    assert.deepEqual(parseRangeHeader(' Bytes = 5 - 7 ', SIZE), { start: 5, end: 7 });
  });

  test('an open-ended range runs to the last byte', () => {
    assert.deepEqual(parseRangeHeader('bytes=10-', SIZE), { start: 10, end: 99 });
    assert.deepEqual(parseRangeHeader('bytes=99-', SIZE), { start: 99, end: 99 });
  });

  test('a suffix range is the last N bytes', () => {
    assert.deepEqual(parseRangeHeader('bytes=-10', SIZE), { start: 90, end: 99 });
    assert.deepEqual(parseRangeHeader('bytes=-1', SIZE), { start: 99, end: 99 });
    assert.deepEqual(parseRangeHeader('bytes=-500', SIZE), { start: 0, end: 99 }, 'longer than the blob: the whole blob');
  });

  test('an end beyond the blob is clamped to the last byte', () => {
    assert.deepEqual(parseRangeHeader('bytes=50-500', SIZE), { start: 50, end: 99 });
    assert.deepEqual(parseRangeHeader('bytes=0-100', SIZE), { start: 0, end: 99 });
  });

  test('a start at or past the size is unsatisfiable', () => {
    assert.equal(parseRangeHeader('bytes=100-', SIZE), 'unsatisfiable');
    assert.equal(parseRangeHeader('bytes=100-200', SIZE), 'unsatisfiable');
    assert.equal(parseRangeHeader('bytes=1000-1001', SIZE), 'unsatisfiable');
  });

  test('an empty blob satisfies no first-last range', () => {
    assert.equal(parseRangeHeader('bytes=0-', 0), 'unsatisfiable');
    assert.equal(parseRangeHeader('bytes=0-0', 0), 'unsatisfiable');
  });

  test('a zero-length suffix is unsatisfiable', () => {
    assert.equal(parseRangeHeader('bytes=-0', SIZE), 'unsatisfiable');
  });

  test('several ranges are ignored (the whole blob is served)', () => {
    assert.equal(parseRangeHeader('bytes=0-1,5-6', SIZE), undefined);
    assert.equal(parseRangeHeader('bytes=0-1, -5', SIZE), undefined);
  });

  test('garbage is ignored', () => {
    for (const header of ['', 'bytes', 'bytes=', 'bytes=-', 'bytes=abc', 'bytes=1-b', 'items=0-9', 'bytes 0-9', 'bytes=0x1-2', 'bytes=-1-2', 'bytes=1.5-2', 'bytes=+1-2']) {
      assert.equal(parseRangeHeader(header, SIZE), undefined, JSON.stringify(header));
    }
  });

  test('a range whose last byte is before its first is ignored', () => {
    assert.equal(parseRangeHeader('bytes=9-5', SIZE), undefined);
  });

  test('numbers beyond safe integers are ignored', () => {
    assert.equal(parseRangeHeader('bytes=-99999999999999999999', SIZE), undefined);
  });

  test('whatever it returns stays inside the blob', () => {
    for (let size = 0; size <= 6; size++) {
      for (const header of ['bytes=0-', 'bytes=3-', 'bytes=-2', 'bytes=-9', 'bytes=2-4', 'bytes=1-99', 'bytes=5-5']) {
        const r = parseRangeHeader(header, size);
        if (r === undefined || r === 'unsatisfiable') continue;
        assert.ok(r.start >= 0 && r.start <= r.end && r.end < size, `${header} on ${size}: ${JSON.stringify(r)}`);
      }
    }
  });
});

describe('parseContentRange', () => {
  test('plain start-end', () => {
    assert.deepEqual(parseContentRange('0-99'), { start: 0, end: 99 });
    assert.deepEqual(parseContentRange('100-100'), { start: 100, end: 100 });
  });

  test('tolerates a bytes prefix, a total and whitespace', () => {
    assert.deepEqual(parseContentRange('bytes 0-99/100'), { start: 0, end: 99 });
    assert.deepEqual(parseContentRange('bytes=5-9'), { start: 5, end: 9 });
    assert.deepEqual(parseContentRange('BYTES 5-9/*'), { start: 5, end: 9 });
    assert.deepEqual(parseContentRange(' 1-2 '), { start: 1, end: 2 });
  });

  test('refuses malformed values', () => {
    for (const header of ['', '-', '5', '5-', '-5', 'a-b', '9-5', '0-9/x', 'bytes */100', '1-2-3', '0-9,10-19', '0 - 9']) {
      assert.equal(parseContentRange(header), undefined, JSON.stringify(header));
    }
  });

  test('refuses numbers beyond safe integers', () => {
    assert.equal(parseContentRange('0-99999999999999999999'), undefined);
  });
});

describe('uploadRangeHeader', () => {
  test('0-<last byte>, and 0-0 for an empty upload', () => {
    assert.equal(uploadRangeHeader(0), '0-0');
    assert.equal(uploadRangeHeader(1), '0-0');
    assert.equal(uploadRangeHeader(2), '0-1');
    assert.equal(uploadRangeHeader(1024), '0-1023');
    assert.equal(uploadRangeHeader(5 * 2 ** 30), `0-${5 * 2 ** 30 - 1}`);
  });
});
