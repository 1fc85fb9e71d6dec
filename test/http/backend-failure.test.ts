// Which errors mean "a backend failed" (503/507) rather than a bug (500).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { backendFailure } from '../../src/http/backend-failure.js';

const withCode = (message: string, code: string, extra: object = {}) => Object.assign(new Error(message), { code, ...extra });

describe('backendFailure', () => {
  test('PostgreSQL down, hung or shutting down is the metadata database', () => {
    for (const err of [
      new Error('Connection terminated unexpectedly'),
      new Error('timeout exceeded when trying to connect'),
      new Error('Query read timeout'),
      withCode('terminating connection due to administrator command', '57P01', { severity: 'FATAL' }),
      withCode('the database system is starting up', '57P03', { severity: 'FATAL' }),
    ]) {
      assert.deepEqual(backendFailure(err), { kind: 'unavailable', backend: 'metadata database' }, err.message);
    }
  });

  test('S3 timeouts and 5xx are the blob storage; its 4xx are not', () => {
    const timeout = Object.assign(new Error('@smithy/node-http-handler - the request socket timed out after 3000 ms of inactivity'), { name: 'TimeoutError' });
    assert.deepEqual(backendFailure(timeout), { kind: 'unavailable', backend: 'blob storage' });
    assert.deepEqual(backendFailure(Object.assign(new Error('x'), { name: 'ServiceUnavailable', $metadata: { httpStatusCode: 503 } })), { kind: 'unavailable', backend: 'blob storage' });
    assert.equal(backendFailure(Object.assign(new Error('denied'), { name: 'AccessDenied', $metadata: { httpStatusCode: 403 } })), undefined);
  });

  test('a full disk or database is "full"', () => {
    assert.deepEqual(backendFailure(withCode('no space left on device', 'ENOSPC')), { kind: 'full' });
    assert.deepEqual(backendFailure(withCode('database or disk is full', 'SQLITE_FULL')), { kind: 'full' });
  });

  test('socket errors, also inside an AggregateError or a cause, are unavailable', () => {
    assert.deepEqual(backendFailure(new AggregateError([withCode('connect ECONNREFUSED 127.0.0.1:5432', 'ECONNREFUSED')])), { kind: 'unavailable', backend: 'network' });
    assert.deepEqual(backendFailure(new Error('wrapped', { cause: new Error('Connection terminated') })), { kind: 'unavailable', backend: 'metadata database' });
  });

  test('bugs and constraint violations are not backend failures', () => {
    assert.equal(backendFailure(new TypeError("Cannot read properties of undefined (reading 'x')")), undefined);
    assert.equal(backendFailure(withCode('duplicate key value violates unique constraint', '23505', { severity: 'ERROR' })), undefined);
    assert.equal(backendFailure('a string'), undefined);
  });
});
