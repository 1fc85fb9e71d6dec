// Management API: GET /api/v1/audit — filters, paging, and who may read what.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { TestRegistry } from '../helpers/registry.js';
import { ADMIN, api, createUser, expect, startAuthRegistry, type Credentials } from '../helpers/api.js';

describe('management API: audit log', () => {
  let reg: TestRegistry;
  let owner: Credentials;
  let dev: Credentials;
  let start: Date;
  before(async () => {
    reg = await startAuthRegistry();
    start = new Date();
    owner = await createUser(reg, 'olivia');
    dev = await createUser(reg, 'dan');
    expect(await api(reg, 'POST', '/namespaces', { as: owner, body: { name: 'team' } }), 201);
    expect(await api(reg, 'PUT', '/namespaces/team/members/dan', { as: owner, body: { role: 'maintainer' } }), 201);
    for (let i = 0; i < 5; i++) await reg.app.auditor.record({ actor: 'dan', action: 'push', repository: 'team/app', reference: `v${i}`, source: '127.0.0.1' });
    await reg.app.auditor.record({ actor: 'dan', action: 'push', repository: 'other/app', reference: 'v1' });
  });
  after(async () => {
    await reg.close();
  });

  test('an admin sees every event, newest first, and filters by actor, action and repository', async () => {
    const all = expect(await api(reg, 'GET', '/audit', { as: ADMIN }), 200);
    const events = all.json.events as { id: number; actor: string; action: string; repository: string | null; at: string }[];
    assert.ok(events.length >= 10);
    for (let i = 1; i < events.length; i++) assert.ok(events[i - 1]!.id > events[i]!.id);
    assert.equal(all.json.next, undefined);
    assert.equal(all.headers.get('link'), null);
    const actions = new Set(events.map((e) => e.action));
    for (const a of ['user.create', 'namespace.create', 'member.set', 'push']) assert.ok(actions.has(a), a);

    const byActor = expect(await api(reg, 'GET', '/audit?actor=olivia', { as: ADMIN }), 200).json.events as { actor: string }[];
    assert.deepEqual([...new Set(byActor.map((e) => e.actor))], ['olivia']);
    assert.equal(byActor.length, 2);
    const pushes = expect(await api(reg, 'GET', '/audit?action=push&repository=team%2Fapp', { as: ADMIN }), 200).json.events as { reference: string }[];
    assert.deepEqual(
      pushes.map((e) => e.reference),
      ['v4', 'v3', 'v2', 'v1', 'v0'],
    );
  });

  test('since and until bound the time', async () => {
    const future = new Date(Date.now() + 60_000).toISOString();
    assert.equal(expect(await api(reg, 'GET', `/audit?since=${encodeURIComponent(future)}`, { as: ADMIN }), 200).json.events.length, 0);
    assert.equal(expect(await api(reg, 'GET', `/audit?until=${encodeURIComponent(start.toISOString())}&action=push`, { as: ADMIN }), 200).json.events.length, 0);
    const some = expect(await api(reg, 'GET', `/audit?since=${encodeURIComponent(start.toISOString())}&until=${encodeURIComponent(future)}&action=push`, { as: ADMIN }), 200);
    assert.equal(some.json.events.length, 6);
  });

  test('pages with limit and the before cursor (next field and Link header)', async () => {
    const seen: number[] = [];
    let path: string | undefined = '/api/v1/audit?action=push&limit=2';
    let pages = 0;
    while (path) {
      const res = expect(await api(reg, 'GET', path.replace('/api/v1', ''), { as: ADMIN }), 200);
      pages++;
      seen.push(...(res.json.events as { id: number }[]).map((e) => e.id));
      const next = res.json.next as string | undefined;
      if (next) assert.equal(res.headers.get('link'), `<${next}>; rel="next"`);
      else assert.equal(res.headers.get('link'), null);
      path = next;
    }
    assert.equal(pages, 3);
    assert.equal(seen.length, 6);
    assert.equal(new Set(seen).size, 6);
    const everything = expect(await api(reg, 'GET', '/audit?action=push', { as: ADMIN }), 200).json.events.map((e: { id: number }) => e.id);
    assert.deepEqual(seen, everything);
  });

  test('bad query parameters are 400 UNSUPPORTED', async () => {
    for (const q of ['limit=0', 'limit=5000', 'limit=x', 'before=-1', 'since=yesterday', 'color=red', 'actor=a&actor=b']) {
      expect(await api(reg, 'GET', `/audit?${q}`, { as: ADMIN }), 400, 'UNSUPPORTED');
    }
  });

  test('an owner reads the events of a repository in their namespace, nothing else', async () => {
    const own = expect(await api(reg, 'GET', '/audit?repository=team%2Fapp', { as: owner }), 200);
    assert.equal(own.json.events.length, 5);
    expect(await api(reg, 'GET', '/audit', { as: owner }), 403, 'DENIED');
    expect(await api(reg, 'GET', '/audit?action=user.create', { as: owner }), 403, 'DENIED');
    expect(await api(reg, 'GET', '/audit?repository=other%2Fapp', { as: owner }), 403, 'DENIED');
    // A maintainer is not an owner.
    expect(await api(reg, 'GET', '/audit?repository=team%2Fapp', { as: dev }), 403, 'DENIED');
    expect(await api(reg, 'GET', '/audit?repository=team%2Fapp'), 401, 'UNAUTHORIZED');
  });

  test('failed logins on the API are audited without the password', async () => {
    expect(await api(reg, 'GET', '/me', { as: { username: 'dan', password: 'not-the-password' } }), 401, 'UNAUTHORIZED');
    const res = expect(await api(reg, 'GET', '/audit?action=login.failed', { as: ADMIN }), 200);
    assert.equal(res.json.events[0].actor, 'dan');
    assert.ok(!res.text.includes('not-the-password'));
  });
});
