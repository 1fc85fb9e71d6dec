// The behaviour every AccessStore driver must have. A driver's test file calls
// accessStoreContract(name, makeStore) with a factory that gives a fresh, empty store.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { AccessStore, NewRobot } from '../../src/metadata/access-store.js';
import type { NewAuditEvent } from '../../src/auth/model.js';

export interface AccessStoreFixture {
  store: AccessStore;
  /** A second store over the same database (another node), as a separate connection / pool. */
  reopen(): Promise<AccessStore>;
  /** Close the store(s) and remove the database. */
  cleanup(): Promise<void>;
}

export type AccessStoreFactory = () => Promise<AccessStoreFixture>;

function robot(name: string, extra: Partial<NewRobot> = {}): NewRobot {
  return { name, namespace: null, secretHash: `hash-of-${name}`, actions: ['pull'], expiresAt: null, createdBy: 'admin', ...extra };
}

function event(extra: Partial<NewAuditEvent> = {}): NewAuditEvent {
  return { actor: 'alice', action: 'push', source: '10.0.0.1', repository: 'team/app', reference: 'latest', digest: null, detail: null, ...extra };
}

export function accessStoreContract(name: string, makeStore: AccessStoreFactory): void {
  describe(`AccessStore contract: ${name}`, () => {
    function withStore(title: string, fn: (store: AccessStore, fixture: AccessStoreFixture) => Promise<void>): void {
      test(title, async () => {
        const fixture = await makeStore();
        try {
          await fn(fixture.store, fixture);
        } finally {
          await fixture.cleanup();
        }
      });
    }

    describe('users', () => {
      withStore('createUser stores a user that getUser and listUsers return', async (store) => {
        const before = Date.now();
        const created = await store.createUser({ username: 'bob', passwordHash: '$argon2id$bob', admin: false });
        const after = Date.now();
        assert.match(created.id, /^[0-9a-f-]{36}$/);
        assert.equal(created.username, 'bob');
        assert.equal(created.passwordHash, '$argon2id$bob');
        assert.equal(created.admin, false);
        assert.equal(created.disabled, false);
        assert.ok(created.createdAt instanceof Date);
        assert.ok(created.createdAt.getTime() >= before && created.createdAt.getTime() <= after);
        assert.deepEqual(await store.getUser('bob'), created);
        assert.equal(await store.getUser('nobody'), undefined);

        await store.createUser({ username: 'alice', passwordHash: 'h', admin: true });
        const listed = await store.listUsers();
        assert.deepEqual(listed.map((u) => u.username), ['alice', 'bob'], 'sorted by username');
        assert.equal(listed[0]!.admin, true);
        assert.deepEqual(listed[1], created);
      });

      withStore('a taken username is refused and the first user is kept', async (store) => {
        const first = await store.createUser({ username: 'bob', passwordHash: 'first', admin: false });
        await assert.rejects(store.createUser({ username: 'bob', passwordHash: 'second', admin: true }), /exists/);
        assert.deepEqual(await store.getUser('bob'), first);
        assert.equal((await store.listUsers()).length, 1);
      });

      withStore('users created at once under one name: exactly one succeeds', async (store) => {
        const results = await Promise.allSettled(
          Array.from({ length: 8 }, (_, i) => store.createUser({ username: 'racer', passwordHash: `h${i}`, admin: false })),
        );
        assert.equal(results.filter((r) => r.status === 'fulfilled').length, 1);
        for (const r of results) if (r.status === 'rejected') assert.match(String(r.reason), /exists/);
        assert.equal((await store.listUsers()).length, 1);
      });

      withStore('usernames are case-sensitive and listed by code point', async (store) => {
        for (const username of ['b', 'B', 'a', '_x']) await store.createUser({ username, passwordHash: 'h', admin: false });
        assert.deepEqual((await store.listUsers()).map((u) => u.username), ['B', '_x', 'a', 'b']);
        assert.equal((await store.getUser('A')), undefined);
      });

      withStore('updateUser changes the password, admin flag and disabled flag', async (store) => {
        const created = await store.createUser({ username: 'bob', passwordHash: 'old', admin: false });
        assert.equal(await store.updateUser('bob', { passwordHash: 'new' }), true);
        assert.deepEqual(await store.getUser('bob'), { ...created, passwordHash: 'new' });

        assert.equal(await store.updateUser('bob', { disabled: true }), true);
        assert.equal((await store.getUser('bob'))!.disabled, true);
        assert.equal(await store.updateUser('bob', { disabled: false }), true, 'enable again');
        assert.equal((await store.getUser('bob'))!.disabled, false);

        assert.equal(await store.updateUser('bob', { admin: true, disabled: true }), true);
        assert.deepEqual(await store.getUser('bob'), { ...created, passwordHash: 'new', admin: true, disabled: true });

        assert.equal(await store.updateUser('nobody', { disabled: true }), false);
        assert.equal(await store.updateUser('bob', {}), true, 'an empty change on an existing user');
        assert.equal(await store.updateUser('nobody', {}), false);
      });

      withStore('countAdmins counts admins that are not disabled', async (store) => {
        assert.equal(await store.countAdmins(), 0);
        await store.createUser({ username: 'root', passwordHash: 'h', admin: true });
        await store.createUser({ username: 'bob', passwordHash: 'h', admin: false });
        assert.equal(await store.countAdmins(), 1);
        await store.updateUser('bob', { admin: true });
        assert.equal(await store.countAdmins(), 2);
        await store.updateUser('root', { disabled: true });
        assert.equal(await store.countAdmins(), 1, 'a disabled admin cannot act as one');
        await store.updateUser('root', { disabled: false });
        await store.updateUser('bob', { admin: false });
        assert.equal(await store.countAdmins(), 1);
        await store.deleteUser('root');
        assert.equal(await store.countAdmins(), 0);
      });

      withStore('deleteUser removes the user and its memberships', async (store) => {
        await store.createUser({ username: 'bob', passwordHash: 'h', admin: false });
        await store.createUser({ username: 'carol', passwordHash: 'h', admin: false });
        await store.ensureNamespace('team', 'private');
        await store.ensureNamespace('other', 'public');
        await store.setMember('team', 'bob', 'developer');
        await store.setMember('other', 'bob', 'owner');
        await store.setMember('team', 'carol', 'reader');

        assert.equal(await store.deleteUser('bob'), true);
        assert.equal(await store.getUser('bob'), undefined);
        assert.equal(await store.deleteUser('bob'), false);
        assert.deepEqual(await store.rolesOf('bob'), []);
        assert.deepEqual(await store.listMembers('team'), [{ namespace: 'team', username: 'carol', role: 'reader' }]);
        assert.deepEqual(await store.listMembers('other'), []);

        // A new account under the old name inherits nothing.
        await store.createUser({ username: 'bob', passwordHash: 'h', admin: false });
        assert.deepEqual(await store.rolesOf('bob'), []);
      });
    });

    describe('namespaces', () => {
      withStore('ensureNamespace creates once and keeps the first visibility', async (store) => {
        const first = await store.ensureNamespace('team', 'private');
        assert.equal(first.name, 'team');
        assert.equal(first.visibility, 'private');
        assert.ok(first.createdAt instanceof Date);
        const again = await store.ensureNamespace('team', 'public');
        assert.deepEqual(again, first);
        assert.deepEqual(await store.getNamespace('team'), first);
        assert.equal(await store.getNamespace('nope'), undefined);
      });

      withStore('ensureNamespace called at once from several callers yields one namespace', async (store) => {
        const results = await Promise.all(
          Array.from({ length: 6 }, (_, i) => store.ensureNamespace('team', i % 2 === 0 ? 'public' : 'private')),
        );
        for (const r of results) assert.deepEqual(r, results[0]);
        assert.equal((await store.listNamespaces()).length, 1);
      });

      withStore('listNamespaces is sorted; setNamespaceVisibility changes it', async (store) => {
        await store.ensureNamespace('zeta', 'public');
        await store.ensureNamespace('alpha', 'private');
        await store.ensureNamespace('Beta', 'public');
        assert.deepEqual((await store.listNamespaces()).map((n) => n.name), ['Beta', 'alpha', 'zeta']);

        assert.equal(await store.setNamespaceVisibility('alpha', 'public'), true);
        assert.equal((await store.getNamespace('alpha'))!.visibility, 'public');
        assert.equal(await store.setNamespaceVisibility('alpha', 'private'), true);
        assert.equal((await store.getNamespace('alpha'))!.visibility, 'private');
        assert.equal(await store.setNamespaceVisibility('missing', 'public'), false);
        assert.equal(await store.getNamespace('missing'), undefined, 'setting visibility does not create');
      });

      withStore('deleteNamespace removes it with its memberships and robots', async (store) => {
        await store.createUser({ username: 'bob', passwordHash: 'h', admin: false });
        await store.ensureNamespace('team', 'private');
        await store.ensureNamespace('keep', 'private');
        await store.setMember('team', 'bob', 'owner');
        await store.setMember('keep', 'bob', 'reader');
        await store.createRobot(robot('robot$team+ci', { namespace: 'team' }));
        await store.createRobot(robot('robot$keep+ci', { namespace: 'keep' }));
        await store.createRobot(robot('robot$global'));

        assert.equal(await store.deleteNamespace('team'), true);
        assert.equal(await store.getNamespace('team'), undefined);
        assert.equal(await store.deleteNamespace('team'), false);
        assert.deepEqual(await store.rolesOf('bob'), [{ namespace: 'keep', username: 'bob', role: 'reader' }]);
        assert.equal(await store.getRobot('robot$team+ci'), undefined);
        assert.ok(await store.getRobot('robot$keep+ci'));
        assert.ok(await store.getRobot('robot$global'));

        // Made again, it starts empty.
        await store.ensureNamespace('team', 'public');
        assert.deepEqual(await store.listMembers('team'), []);
        assert.deepEqual(await store.listRobots('team'), []);
        assert.ok(await store.getUser('bob'), 'users are untouched');
      });
    });

    describe('members', () => {
      withStore('setMember adds, changes the role; removeMember removes', async (store) => {
        await store.createUser({ username: 'bob', passwordHash: 'h', admin: false });
        await store.createUser({ username: 'alice', passwordHash: 'h', admin: false });
        await store.ensureNamespace('team', 'private');
        assert.deepEqual(await store.listMembers('team'), []);

        await store.setMember('team', 'bob', 'reader');
        await store.setMember('team', 'alice', 'owner');
        assert.deepEqual(await store.listMembers('team'), [
          { namespace: 'team', username: 'alice', role: 'owner' },
          { namespace: 'team', username: 'bob', role: 'reader' },
        ]);

        await store.setMember('team', 'bob', 'maintainer');
        assert.deepEqual(await store.listMembers('team'), [
          { namespace: 'team', username: 'alice', role: 'owner' },
          { namespace: 'team', username: 'bob', role: 'maintainer' },
        ]);

        assert.equal(await store.removeMember('team', 'bob'), true);
        assert.equal(await store.removeMember('team', 'bob'), false);
        assert.equal(await store.removeMember('team', 'nobody'), false);
        assert.equal(await store.removeMember('elsewhere', 'alice'), false);
        assert.deepEqual(await store.listMembers('team'), [{ namespace: 'team', username: 'alice', role: 'owner' }]);
        assert.deepEqual(await store.listMembers('nonexistent'), []);
      });

      withStore('rolesOf lists the user’s role in each namespace, by namespace', async (store) => {
        await store.createUser({ username: 'bob', passwordHash: 'h', admin: false });
        await store.createUser({ username: 'carol', passwordHash: 'h', admin: false });
        for (const ns of ['zoo', 'apps', 'mid']) await store.ensureNamespace(ns, 'private');
        await store.setMember('zoo', 'bob', 'reader');
        await store.setMember('apps', 'bob', 'developer');
        await store.setMember('mid', 'carol', 'owner');
        assert.deepEqual(await store.rolesOf('bob'), [
          { namespace: 'apps', username: 'bob', role: 'developer' },
          { namespace: 'zoo', username: 'bob', role: 'reader' },
        ]);
        assert.deepEqual(await store.rolesOf('carol'), [{ namespace: 'mid', username: 'carol', role: 'owner' }]);
        assert.deepEqual(await store.rolesOf('nobody'), []);
      });

      withStore('setMember refuses an unknown user or namespace', async (store) => {
        await store.createUser({ username: 'bob', passwordHash: 'h', admin: false });
        await store.ensureNamespace('team', 'private');
        await assert.rejects(store.setMember('team', 'nobody', 'reader'), /not found/);
        await assert.rejects(store.setMember('missing', 'bob', 'reader'), /not found/);
        assert.deepEqual(await store.listMembers('team'), []);
        assert.deepEqual(await store.rolesOf('bob'), []);
      });
    });

    describe('robots', () => {
      withStore('createRobot stores every field; getRobot returns it', async (store) => {
        const expiresAt = new Date(Date.now() + 86_400_000);
        const created = await store.createRobot(
          robot('robot$team+ci', { namespace: 'team', actions: ['pull', 'push', 'delete'], expiresAt, createdBy: 'alice', secretHash: '$argon2id$x' }),
        );
        assert.match(created.id, /^[0-9a-f-]{36}$/);
        assert.deepEqual(created, {
          id: created.id,
          name: 'robot$team+ci',
          namespace: 'team',
          secretHash: '$argon2id$x',
          actions: ['pull', 'push', 'delete'],
          expiresAt,
          revoked: false,
          lastUsedAt: null,
          createdBy: 'alice',
          createdAt: created.createdAt,
        });
        assert.deepEqual(await store.getRobot('robot$team+ci'), created);

        const global = await store.createRobot(robot('robot$ci'));
        assert.deepEqual(await store.getRobot('robot$ci'), global);
        assert.equal(global.namespace, null);
        assert.equal(global.expiresAt, null);
        assert.equal(await store.getRobot('robot$none'), undefined);
      });

      withStore('a taken robot name is refused', async (store) => {
        const first = await store.createRobot(robot('robot$ci', { actions: ['pull'] }));
        await assert.rejects(store.createRobot(robot('robot$ci', { actions: ['push'], namespace: 'x' })), /exists/);
        assert.deepEqual(await store.getRobot('robot$ci'), first);
      });

      withStore('listRobots gives a namespace’s robots, or with null the system-wide ones', async (store) => {
        await store.createRobot(robot('robot$team+b', { namespace: 'team' }));
        await store.createRobot(robot('robot$team+a', { namespace: 'team' }));
        await store.createRobot(robot('robot$other+a', { namespace: 'other' }));
        await store.createRobot(robot('robot$global'));
        assert.deepEqual((await store.listRobots('team')).map((r) => r.name), ['robot$team+a', 'robot$team+b']);
        assert.deepEqual((await store.listRobots('other')).map((r) => r.name), ['robot$other+a']);
        assert.deepEqual((await store.listRobots(null)).map((r) => r.name), ['robot$global']);
        assert.deepEqual(await store.listRobots('empty'), []);
      });

      withStore('revokeRobot marks it revoked', async (store) => {
        const created = await store.createRobot(robot('robot$ci'));
        await store.createRobot(robot('robot$other'));
        assert.equal(await store.revokeRobot('robot$ci'), true);
        assert.deepEqual(await store.getRobot('robot$ci'), { ...created, revoked: true });
        assert.equal(await store.revokeRobot('robot$ci'), true, 'revoking again still finds it');
        assert.equal(await store.revokeRobot('robot$none'), false);
        assert.equal((await store.getRobot('robot$other'))!.revoked, false);
      });

      withStore('touchRobot records the last use and never moves it back', async (store) => {
        await store.createRobot(robot('robot$ci'));
        await store.createRobot(robot('robot$other'));
        const t1 = new Date(1_700_000_000_123);
        await store.touchRobot('robot$ci', t1);
        assert.deepEqual((await store.getRobot('robot$ci'))!.lastUsedAt, t1);
        const t2 = new Date(t1.getTime() + 5_000);
        await store.touchRobot('robot$ci', t2);
        assert.deepEqual((await store.getRobot('robot$ci'))!.lastUsedAt, t2);
        await store.touchRobot('robot$ci', t1);
        assert.deepEqual((await store.getRobot('robot$ci'))!.lastUsedAt, t2, 'an older report does not win');
        assert.equal((await store.getRobot('robot$other'))!.lastUsedAt, null);
        await store.touchRobot('robot$none', t2); // no robot: nothing happens
      });
    });

    describe('audit', () => {
      withStore('appendAudit stores every field; detail round-trips as JSON', async (store) => {
        const detail = { role: 'owner', count: 3, nested: { list: [1, 'two', null], ok: true }, unicode: 'naïve ✓' };
        const at = new Date(1_700_000_000_456);
        await store.appendAudit({
          at,
          actor: 'alice',
          action: 'member.set',
          source: '2001:db8::1',
          repository: 'team/app',
          reference: 'v1.0',
          digest: 'sha256:' + 'a'.repeat(64),
          detail,
        });
        const [e] = await store.queryAudit({ limit: 10 });
        assert.ok(e);
        assert.equal(typeof e.id, 'number');
        assert.deepEqual(e, {
          id: e.id,
          at,
          actor: 'alice',
          action: 'member.set',
          source: '2001:db8::1',
          repository: 'team/app',
          reference: 'v1.0',
          digest: 'sha256:' + 'a'.repeat(64),
          detail,
        });
      });

      withStore('null fields stay null; at defaults to now', async (store) => {
        const before = Date.now();
        await store.appendAudit({ actor: 'anonymous', action: 'login.failed', source: null, repository: null, reference: null, digest: null, detail: null });
        const after = Date.now();
        const [e] = await store.queryAudit({ limit: 1 });
        assert.ok(e);
        assert.equal(e.source, null);
        assert.equal(e.repository, null);
        assert.equal(e.reference, null);
        assert.equal(e.digest, null);
        assert.equal(e.detail, null);
        assert.ok(e.at.getTime() >= before && e.at.getTime() <= after);
      });

      withStore('an over-long client-supplied actor is kept (cut), not refused', async (store) => {
        const long = 'x'.repeat(1000);
        await store.appendAudit(event({ actor: long, action: 'login.failed' }));
        const [e] = await store.queryAudit({ limit: 1 });
        assert.equal(e!.actor, 'x'.repeat(255));
      });

      withStore('appendAuditBatch writes all events in order, interleaving with single appends', async (store) => {
        await store.appendAuditBatch([]);
        assert.deepEqual(await store.queryAudit({ limit: 10 }), []);
        await store.appendAudit(event({ reference: 'single-0' }));
        const batch = Array.from({ length: 250 }, (_, i) => event({ action: 'pull', reference: `b${i}`, detail: i % 50 === 0 ? { i } : null }));
        await store.appendAuditBatch(batch);
        await store.appendAudit(event({ reference: 'single-1' }));

        const all = await store.queryAudit({ limit: 1000 });
        assert.equal(all.length, 252);
        assert.deepEqual(
          all.map((e) => e.reference),
          ['single-1', ...Array.from({ length: 250 }, (_, i) => `b${249 - i}`), 'single-0'],
          'ids follow the order given',
        );
        assert.deepEqual(all.find((e) => e.reference === 'b100')!.detail, { i: 100 });
        assert.equal(all.find((e) => e.reference === 'b101')!.detail, null);
        assert.equal((await store.queryAudit({ limit: 1000, action: 'pull' })).length, 250);

        // An event that cannot be stored spoils the whole batch, not just itself.
        await assert.rejects(store.appendAuditBatch([event({ reference: 'ok' }), event({ detail: { bad: 1n } })]));
        assert.equal((await store.queryAudit({ limit: 1000 })).length, 252);
      });

      withStore('newest first, paged with limit and before', async (store) => {
        for (let i = 0; i < 25; i++) await store.appendAudit(event({ reference: `t${i}` }));
        const pages: string[][] = [];
        let before: number | undefined;
        for (;;) {
          const page = await store.queryAudit({ limit: 10, ...(before !== undefined ? { before } : {}) });
          if (page.length === 0) break;
          pages.push(page.map((e) => e.reference!));
          for (let i = 1; i < page.length; i++) assert.ok(page[i - 1]!.id > page[i]!.id, 'ids strictly descending');
          before = page[page.length - 1]!.id;
          assert.ok(pages.length <= 3);
        }
        assert.deepEqual(pages.map((p) => p.length), [10, 10, 5]);
        assert.deepEqual(pages.flat(), Array.from({ length: 25 }, (_, i) => `t${24 - i}`));
        assert.deepEqual(await store.queryAudit({ limit: 0 }), []);
      });

      withStore('filters: actor, action, repository, since/until, combined with paging', async (store) => {
        const base = 1_700_000_000_000;
        // 25 events: actors alternate, every 5th is a delete, repositories cycle over three.
        for (let i = 0; i < 25; i++) {
          await store.appendAudit(
            event({
              at: new Date(base + i * 1000),
              actor: i % 2 === 0 ? 'alice' : 'robot$ci',
              action: i % 5 === 0 ? 'delete' : 'push',
              repository: ['a/one', 'a/two', 'b/three'][i % 3]!,
              reference: `r${i}`,
            }),
          );
        }
        const refs = async (q: Parameters<AccessStore['queryAudit']>[0]) => (await store.queryAudit(q)).map((e) => e.reference);
        const expect = (pred: (i: number) => boolean) =>
          Array.from({ length: 25 }, (_, i) => 24 - i)
            .filter(pred)
            .map((i) => `r${i}`);

        assert.deepEqual(await refs({ limit: 100, actor: 'alice' }), expect((i) => i % 2 === 0));
        assert.deepEqual(await refs({ limit: 100, actor: 'robot$ci' }), expect((i) => i % 2 === 1));
        assert.deepEqual(await refs({ limit: 100, action: 'delete' }), expect((i) => i % 5 === 0));
        assert.deepEqual(await refs({ limit: 100, repository: 'b/three' }), expect((i) => i % 3 === 2));
        assert.deepEqual(await refs({ limit: 100, actor: 'nobody' }), []);
        // since is inclusive, until exclusive.
        assert.deepEqual(await refs({ limit: 100, since: new Date(base + 20_000) }), expect((i) => i >= 20));
        assert.deepEqual(await refs({ limit: 100, until: new Date(base + 3_000) }), expect((i) => i < 3));
        assert.deepEqual(
          await refs({ limit: 100, since: new Date(base + 5_000), until: new Date(base + 10_000) }),
          expect((i) => i >= 5 && i < 10),
        );
        assert.deepEqual(
          await refs({ limit: 100, actor: 'alice', action: 'push', repository: 'a/one' }),
          expect((i) => i % 2 === 0 && i % 5 !== 0 && i % 3 === 0),
        );

        // Paging through a filtered listing.
        const alice = expect((i) => i % 2 === 0);
        const first = await store.queryAudit({ limit: 5, actor: 'alice' });
        assert.deepEqual(first.map((e) => e.reference), alice.slice(0, 5));
        const second = await store.queryAudit({ limit: 5, actor: 'alice', before: first[4]!.id });
        assert.deepEqual(second.map((e) => e.reference), alice.slice(5, 10));
        const third = await store.queryAudit({ limit: 5, actor: 'alice', before: second[4]!.id });
        assert.deepEqual(third.map((e) => e.reference), alice.slice(10));
      });
    });

    describe('settings', () => {
      withStore('getOrSetSetting keeps the first value and calls make only when unset', async (store) => {
        let calls = 0;
        const make = (v: string) => () => {
          calls++;
          return v;
        };
        assert.equal(await store.getSetting('signing-key'), undefined, 'unset: no value, and none created');
        assert.equal(await store.getOrSetSetting('signing-key', make('first')), 'first');
        assert.equal(await store.getSetting('signing-key'), 'first');
        assert.equal(await store.getOrSetSetting('signing-key', make('second')), 'first');
        assert.equal(calls, 1);
        assert.equal(await store.getOrSetSetting('other', make('x'.repeat(10_000))), 'x'.repeat(10_000), 'long values');
      });

      withStore('two stores on one database agree on one value, even when racing', async (store, fixture) => {
        const other = await fixture.reopen();
        assert.equal(await store.getOrSetSetting('a', () => 'from-1'), 'from-1');
        assert.equal(await other.getOrSetSetting('a', () => 'from-2'), 'from-1', 'the first value wins');

        const racers = Array.from({ length: 12 }, (_, i) => (i % 2 === 0 ? store : other).getOrSetSetting('raced', () => `value-${i}`));
        const values = await Promise.all(racers);
        assert.equal(new Set(values).size, 1, `all callers see one value, got ${values.join(',')}`);
        assert.match(values[0]!, /^value-\d+$/);
        assert.equal(await other.getOrSetSetting('raced', () => 'late'), values[0]);
        assert.equal(await store.getOrSetSetting('raced', () => 'late'), values[0]);
      });
    });

    withStore('changes through one store are seen by another on the same database', async (store, fixture) => {
      const other = await fixture.reopen();
      await store.createUser({ username: 'bob', passwordHash: 'h', admin: true });
      await assert.rejects(other.createUser({ username: 'bob', passwordHash: 'h', admin: false }), /exists/);
      await other.ensureNamespace('team', 'public');
      await store.setMember('team', 'bob', 'owner');
      assert.deepEqual(await other.rolesOf('bob'), [{ namespace: 'team', username: 'bob', role: 'owner' }]);
      await other.createRobot(robot('robot$ci'));
      await assert.rejects(store.createRobot(robot('robot$ci')), /exists/);
      await store.appendAudit(event());
      await other.appendAudit(event({ actor: 'bob' }));
      assert.deepEqual((await store.queryAudit({ limit: 10 })).map((e) => e.actor), ['bob', 'alice']);
    });
  });
}
