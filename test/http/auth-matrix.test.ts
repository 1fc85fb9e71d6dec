// The permission matrix of access control: every kind of caller (namespace roles, a user of no
// namespace, anonymous, an admin, namespace robots, a system-wide robot) against every /v2
// operation in a public and a private namespace, through both ways of authenticating: HTTP
// Basic sent straight to /v2, and a Bearer token from GET /token asked with the scopes a
// client would ask. Allowed operations succeed and change what they should; denied ones get
// 403 DENIED (Basic) or 401 with the Bearer challenge (token, anonymous) and change nothing.
// Also: the catalog lists only pullable repositories, cross-repository mounts need pull on the
// source, and the audit log holds every push, pull and delete with its actor.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startRegistry, type TestRegistry } from '../helpers/registry.js';
import { MediaType, checkErrorBody, expectError, expectStatus, pushBlob, pushImage, pushManifest, randomBytes, sha256, type PushedImage } from '../helpers/oci.js';
import {
  ADMIN,
  addNamespace,
  addRobot,
  addUser,
  authSettings,
  basicAuth,
  bearerAuth,
  checkChallenge,
  decodeJwt,
  eventually,
  expectChallenge,
  tokenFor,
  type Credentials,
} from '../helpers/auth.js';
import type { RepositoryAction, Role } from '../../src/auth/model.js';

type Ns = 'pub' | 'priv';
const NAMESPACES: Ns[] = ['pub', 'priv'];
const repoOf = (ns: string) => `${ns}/app`;
type Path = 'basic' | 'token';

interface Actor {
  key: string;
  /** The name the audit log records. */
  actor(ns: Ns): string;
  creds(ns: Ns): Credentials | undefined;
  /** What it may do in the namespace beyond pulling a public one. */
  grants(ns: Ns): RepositoryAction[];
  /** What GET /v2/_catalog lists for it. */
  catalog: string[];
}

const ALL: RepositoryAction[] = ['pull', 'push', 'delete'];
const ALL_REPOS = ['other/app', 'priv/app', 'pub/app'];

function userActor(key: string, username: string, grants: RepositoryAction[], catalog: string[]): Actor {
  const creds = { username, password: `${username}-password-0` };
  return { key, actor: () => username, creds: () => creds, grants: () => grants, catalog };
}

/** A robot of the namespace tested (robot$pub+x in pub, robot$priv+x in priv). */
function namespaceRobot(key: string, suffix: string, grants: RepositoryAction[]): Actor {
  const name = (ns: Ns) => `robot$${ns}+${suffix}`;
  return { key, actor: name, creds: (ns) => ({ username: name(ns), password: `secret-${name(ns)}` }), grants: () => grants, catalog: ['priv/app', 'pub/app'] };
}

const ACTORS: Actor[] = [
  userActor('owner', 'u-owner', ALL, ['priv/app', 'pub/app']),
  userActor('maintainer', 'u-maintainer', ALL, ['priv/app', 'pub/app']),
  userActor('developer', 'u-developer', ['pull', 'push'], ['priv/app', 'pub/app']),
  userActor('reader', 'u-reader', ['pull'], ['priv/app', 'pub/app']),
  userActor('non-member', 'u-outsider', [], ['pub/app']),
  { key: 'anonymous', actor: () => 'anonymous', creds: () => undefined, grants: () => [], catalog: ['pub/app'] },
  { key: 'admin', actor: () => ADMIN.username, creds: () => ADMIN, grants: () => ALL, catalog: ALL_REPOS },
  namespaceRobot('robot-pull', 'puller', ['pull']),
  namespaceRobot('robot-push', 'pusher', ['pull', 'push']),
  {
    key: 'system-robot',
    actor: () => 'robot$ci',
    creds: () => ({ username: 'robot$ci', password: 'secret-robot-ci' }),
    grants: () => ['pull', 'push'],
    catalog: ALL_REPOS,
  },
  {
    // Every right, but in another namespace: nothing here beyond what anyone may do.
    key: 'foreign-robot',
    actor: () => 'robot$other+all',
    creds: () => ({ username: 'robot$other+all', password: 'secret-robot-other' }),
    grants: () => [],
    catalog: ['other/app', 'pub/app'],
  },
];

function may(actor: Actor, ns: Ns, action: RepositoryAction): boolean {
  return (ns === 'pub' && action === 'pull') || actor.grants(ns).includes(action);
}

type Op = 'pull manifest' | 'pull blob' | 'push blob' | 'push manifest' | 'delete manifest' | 'list tags';
/** The action each operation needs, and the scope actions a client asks a token for. */
const OPS: Record<Op, { needs: RepositoryAction; asks: RepositoryAction[] }> = {
  'pull manifest': { needs: 'pull', asks: ['pull'] },
  'pull blob': { needs: 'pull', asks: ['pull'] },
  'push blob': { needs: 'push', asks: ['pull', 'push'] },
  'push manifest': { needs: 'push', asks: ['pull', 'push'] },
  'delete manifest': { needs: 'delete', asks: ['delete'] },
  'list tags': { needs: 'pull', asks: ['pull'] },
};

interface AuditExpectation {
  actor: string;
  repository: string;
  reference: string;
}

describe('permission matrix', { timeout: 240_000 }, () => {
  let reg: TestRegistry;
  const seeds = new Map<string, PushedImage>();
  const admin = basicAuth(ADMIN);
  /** Successful manifest pulls of `v1` per `actor|repository`. */
  const pulls = new Map<string, number>();
  const pushes: AuditExpectation[] = [];
  const deletes: AuditExpectation[] = [];
  const refusedPushes: AuditExpectation[] = [];
  const refusedDeletes: AuditExpectation[] = [];

  before(async () => {
    reg = await startRegistry(authSettings());
    const { app } = reg;
    const roles: Record<string, Role> = { 'u-owner': 'owner', 'u-maintainer': 'maintainer', 'u-developer': 'developer', 'u-reader': 'reader' };
    for (const username of [...Object.keys(roles), 'u-outsider']) await addUser(app, username, `${username}-password-0`);
    await addNamespace(app, 'pub', 'public', roles);
    await addNamespace(app, 'priv', 'private', roles);
    await addNamespace(app, 'other', 'private');
    for (const ns of NAMESPACES) {
      await addRobot(app, `robot$${ns}+puller`, ns, ['pull'], `secret-robot$${ns}+puller`);
      await addRobot(app, `robot$${ns}+pusher`, ns, ['pull', 'push'], `secret-robot$${ns}+pusher`);
    }
    await addRobot(app, 'robot$ci', null, ['pull', 'push'], 'secret-robot-ci');
    await addRobot(app, 'robot$other+all', 'other', ['pull', 'push', 'delete'], 'secret-robot-other');
    for (const repo of ALL_REPOS) seeds.set(repo, await pushImage(reg.url, repo, { reference: 'v1', headers: admin }));
  });

  after(async () => {
    await reg?.close();
  });

  /** Headers for one request of `actor` through `path`, plus the actions a token granted. */
  async function credentialsFor(path: Path, actor: Actor, ns: Ns, op: Op): Promise<{ headers: Record<string, string>; granted?: string[] }> {
    const creds = actor.creds(ns);
    if (path === 'basic') return { headers: basicAuth(creds) };
    const repo = repoOf(ns);
    const token = await tokenFor(reg.url, creds, [`repository:${repo}:${OPS[op].asks.join(',')}`]);
    const access = decodeJwt(token).payload['access'] as { type: string; name: string; actions: string[] }[];
    const granted = access.filter((a) => a.type === 'repository' && a.name === repo).flatMap((a) => a.actions);
    return { headers: bearerAuth(token), granted };
  }

  /** Run one cell; returns what went wrong (empty when the cell is right). */
  async function cell(path: Path, actor: Actor, ns: Ns, op: Op): Promise<string[]> {
    const repo = repoOf(ns);
    const seed = seeds.get(repo)!;
    const allowed = may(actor, ns, OPS[op].needs);
    const id = `${path}-${actor.key}-${ns}-${op.replace(/ /g, '-')}`;
    const problems: string[] = [];
    const { headers, granted } = await credentialsFor(path, actor, ns, op);
    if (granted) {
      const want = OPS[op].asks.filter((a) => may(actor, ns, a));
      if (granted.join(',') !== want.join(',')) problems.push(`token granted [${granted}], wanted [${want}]`);
    }

    let res: Response;
    let okStatus: number;
    /** Checks after the request, as the admin: did it change what it should, and nothing else? */
    let after: (() => Promise<void>) | undefined;
    switch (op) {
      case 'pull manifest':
        res = await fetch(`${reg.url}/v2/${repo}/manifests/v1`, { headers: { ...headers, Accept: MediaType.OciManifest } });
        okStatus = 200;
        if (res.status === 200) {
          if (!Buffer.from(await res.clone().arrayBuffer()).equals(seed.bytes)) problems.push('manifest bytes differ');
          const key = `${actor.actor(ns)}|${repo}`;
          pulls.set(key, (pulls.get(key) ?? 0) + 1);
        }
        break;
      case 'pull blob': {
        const layer = seed.layers[0]!;
        res = await fetch(`${reg.url}/v2/${repo}/blobs/${layer.digest}`, { headers });
        okStatus = 200;
        if (res.status === 200 && sha256(Buffer.from(await res.clone().arrayBuffer())) !== layer.digest) problems.push('blob bytes differ');
        break;
      }
      case 'push blob': {
        const bytes = randomBytes(100);
        const digest = sha256(bytes);
        res = await fetch(`${reg.url}/v2/${repo}/blobs/uploads/?digest=${digest}`, {
          method: 'POST',
          headers: { ...headers, 'Content-Type': 'application/octet-stream' },
          body: bytes,
        });
        okStatus = 201;
        after = async () => {
          const head = await fetch(`${reg.url}/v2/${repo}/blobs/${digest}`, { method: 'HEAD', headers: admin });
          if (head.status !== (allowed ? 200 : 404)) problems.push(`afterwards the blob answers HEAD with ${head.status}`);
        };
        break;
      }
      case 'push manifest': {
        res = await fetch(`${reg.url}/v2/${repo}/manifests/${id}`, {
          method: 'PUT',
          headers: { ...headers, 'Content-Type': MediaType.OciManifest },
          body: seed.bytes,
        });
        okStatus = 201;
        (allowed ? pushes : refusedPushes).push({ actor: actor.actor(ns), repository: repo, reference: id });
        after = async () => {
          const head = await fetch(`${reg.url}/v2/${repo}/manifests/${id}`, { method: 'HEAD', headers: { ...admin, Accept: MediaType.OciManifest } });
          if (head.status !== (allowed ? 200 : 404)) problems.push(`afterwards the tag answers HEAD with ${head.status}`);
        };
        break;
      }
      case 'delete manifest': {
        // A manifest of its own for each cell (same blobs, its own annotation, so its own digest).
        const doomed = await pushManifest(reg.url, repo, id, { ...seed.manifest, annotations: { cell: id } }, MediaType.OciManifest, admin);
        res = await fetch(`${reg.url}/v2/${repo}/manifests/${doomed.digest}`, { method: 'DELETE', headers });
        okStatus = 202;
        (allowed ? deletes : refusedDeletes).push({ actor: actor.actor(ns), repository: repo, reference: doomed.digest });
        after = async () => {
          const head = await fetch(`${reg.url}/v2/${repo}/manifests/${doomed.digest}`, { method: 'HEAD', headers: { ...admin, Accept: MediaType.OciManifest } });
          if (head.status !== (allowed ? 404 : 200)) problems.push(`afterwards the manifest answers HEAD with ${head.status}`);
        };
        break;
      }
      case 'list tags':
        res = await fetch(`${reg.url}/v2/${repo}/tags/list`, { headers });
        okStatus = 200;
        if (res.status === 200) {
          const body = (await res.clone().json()) as { name: string; tags: string[] };
          if (body.name !== repo || !body.tags.includes('v1')) problems.push(`tags list ${JSON.stringify(body).slice(0, 200)}`);
        }
        break;
    }

    const text = await res.text();
    if (allowed) {
      if (res.status !== okStatus) problems.push(`status ${res.status}, wanted ${okStatus}: ${text.slice(0, 200)}`);
    } else if (path === 'basic' && actor.creds(ns)) {
      if (res.status !== 403) problems.push(`status ${res.status}, wanted 403 DENIED: ${text.slice(0, 200)}`);
      else {
        try {
          checkErrorBody(text, 'DENIED');
        } catch (err) {
          problems.push((err as Error).message.split('\n')[0]!);
        }
        if (res.headers.get('www-authenticate') !== null) problems.push('a 403 carries a challenge');
      }
    } else {
      const expected = { scope: `repository:${repo}:${OPS[op].needs}`, ...(path === 'token' ? { error: 'insufficient_scope' } : {}) };
      problems.push(...checkChallenge(reg.url, res.status, res.headers, text, expected));
    }
    if (after) await after();
    return problems.map((p) => `${actor.key} ${op} in ${ns}: ${p}`);
  }

  for (const path of ['basic', 'token'] as Path[]) {
    for (const actor of ACTORS) {
      test(`${path}: ${actor.key} in a public and a private namespace`, async () => {
        const problems: string[] = [];
        for (const ns of NAMESPACES) for (const op of Object.keys(OPS) as Op[]) problems.push(...(await cell(path, actor, ns, op)));
        assert.deepEqual(problems, []);
      });
    }
  }

  for (const path of ['basic', 'token'] as Path[]) {
    test(`${path}: the catalog lists exactly the repositories each caller may pull`, async () => {
      const problems: string[] = [];
      for (const actor of ACTORS) {
        const creds = actor.creds('priv');
        let headers: Record<string, string>;
        if (path === 'basic') {
          if (!creds) {
            const res = await fetch(`${reg.url}/v2/_catalog`);
            problems.push(...checkChallenge(reg.url, res.status, res.headers, await res.text(), { scope: 'registry:catalog:*' }).map((p) => `anonymous: ${p}`));
            continue;
          }
          headers = basicAuth(creds);
        } else {
          headers = bearerAuth(await tokenFor(reg.url, creds, ['registry:catalog:*']));
        }
        const res = await fetch(`${reg.url}/v2/_catalog`, { headers });
        const text = await res.text();
        if (res.status !== 200) {
          problems.push(`${actor.key}: status ${res.status}: ${text.slice(0, 200)}`);
          continue;
        }
        const listed = (JSON.parse(text) as { repositories: string[] }).repositories;
        if (JSON.stringify(listed) !== JSON.stringify(actor.catalog)) problems.push(`${actor.key}: lists ${JSON.stringify(listed)}, wanted ${JSON.stringify(actor.catalog)}`);
      }
      assert.deepEqual(problems, []);
    });
  }

  test('token: a token without the catalog scope may not list the catalog', async () => {
    const token = await tokenFor(reg.url, ADMIN, ['repository:pub/app:pull']);
    const res = await fetch(`${reg.url}/v2/_catalog`, { headers: bearerAuth(token) });
    await expectChallenge(reg.url, res, { scope: 'registry:catalog:*', error: 'insufficient_scope' });
  });

  test('token: a token for one repository does not open another', async () => {
    const token = await tokenFor(reg.url, ADMIN, ['repository:pub/app:pull,push,delete']);
    const res = await fetch(`${reg.url}/v2/priv/app/manifests/v1`, { headers: { ...bearerAuth(token), Accept: MediaType.OciManifest } });
    await expectChallenge(reg.url, res, { scope: 'repository:priv/app:pull', error: 'insufficient_scope' });
    // Nor a repository whose name only starts the same.
    const other = await fetch(`${reg.url}/v2/pub/app2/tags/list`, { headers: bearerAuth(token) });
    await expectChallenge(reg.url, other, { scope: 'repository:pub/app2:pull', error: 'insufficient_scope' });
  });

  test('audit log: every push, pull and delete of the matrix, with its actor; nothing for refusals', async () => {
    assert.ok(pushes.length > 0 && deletes.length > 0 && pulls.size > 0 && refusedPushes.length > 0 && refusedDeletes.length > 0, 'the matrix ran');
    await reg.app.auditor.flush();
    const query = async (action: string) => reg.app.access.queryAudit({ action, limit: 100_000 });

    // Pulls: every successful manifest pull of v1 is counted (refused ones leave nothing).
    const pullEvents = (await query('pull')).filter((e) => e.reference === 'v1');
    const counted = new Map<string, number>();
    // Repeated pulls within one audit batch are one record carrying their count.
    const times = (e: { detail: Record<string, unknown> | null }) => (typeof e.detail?.['count'] === 'number' ? (e.detail['count'] as number) : 1);
    for (const e of pullEvents) counted.set(`${e.actor}|${e.repository}`, (counted.get(`${e.actor}|${e.repository}`) ?? 0) + times(e));
    assert.deepEqual([...counted].sort(), [...pulls].sort());
    for (const e of pullEvents) {
      assert.equal(e.digest, seeds.get(e.repository!)!.digest, 'a pull records the digest served');
      assert.equal(e.source, '127.0.0.1');
    }

    const has = (events: Awaited<ReturnType<typeof query>>, x: AuditExpectation) =>
      events.some((e) => e.actor === x.actor && e.repository === x.repository && e.reference === x.reference);
    await eventually(async () => {
      const [p, d] = await Promise.all([query('push'), query('delete')]);
      return pushes.every((x) => has(p, x)) && deletes.every((x) => has(d, x));
    }, 'push and delete events');
    const [pushEvents, deleteEvents] = await Promise.all([query('push'), query('delete')]);
    for (const x of pushes) {
      const e = pushEvents.find((ev) => ev.actor === x.actor && ev.reference === x.reference)!;
      assert.equal(e.digest, seeds.get(x.repository)!.digest, 'a push records the manifest digest');
    }
    const refs = (events: typeof pushEvents) => new Set(events.map((e) => e.reference));
    assert.deepEqual(refusedPushes.filter((x) => refs(pushEvents).has(x.reference)), [], 'refused pushes are not recorded as pushes');
    assert.deepEqual(refusedDeletes.filter((x) => refs(deleteEvents).has(x.reference)), [], 'refused deletes are not recorded as deletes');
  });
});

describe('cross-repository mount', () => {
  let reg: TestRegistry;
  const admin = basicAuth(ADMIN);
  let mover: Credentials;
  const openBytes = randomBytes(300);
  const closedBytes = randomBytes(300);
  const openDigest = sha256(openBytes);
  const closedDigest = sha256(closedBytes);

  before(async () => {
    reg = await startRegistry(authSettings());
    mover = await addUser(reg.app, 'mover', 'mover-password-0');
    await addNamespace(reg.app, 'source-open', 'private', { mover: 'reader' });
    await addNamespace(reg.app, 'source-closed', 'private');
    await addNamespace(reg.app, 'target', 'private', { mover: 'developer' });
    await addNamespace(reg.app, 'readonly', 'private', { mover: 'reader' });
    await pushBlob(reg.url, 'source-open/app', openBytes, 'application/octet-stream', admin);
    await pushBlob(reg.url, 'source-closed/app', closedBytes, 'application/octet-stream', admin);
  });

  after(async () => {
    await reg?.close();
  });

  async function headersFor(path: Path, scopes: string[]): Promise<Record<string, string>> {
    return path === 'basic' ? basicAuth(mover) : bearerAuth(await tokenFor(reg.url, mover, scopes));
  }

  const mount = (target: string, digest: string, from: string, headers: Record<string, string>) =>
    fetch(`${reg.url}/v2/${target}/blobs/uploads/?mount=${digest}&from=${from}`, { method: 'POST', headers: { ...headers, 'Content-Length': '0' } });

  for (const path of ['basic', 'token'] as Path[]) {
    test(`${path}: pull on the source and push on the target: 201, and the blob is in the target`, async () => {
      const target = `target/${path}-mounted`;
      const headers = await headersFor(path, [`repository:${target}:pull,push`, 'repository:source-open/app:pull']);
      const res = await mount(target, openDigest, 'source-open/app', headers);
      await expectStatus(res, 201);
      assert.equal(res.headers.get('location'), `/v2/${target}/blobs/${openDigest}`);
      assert.equal(res.headers.get('docker-content-digest'), openDigest);
      const get = await fetch(`${reg.url}/v2/${target}/blobs/${openDigest}`, { headers: admin });
      assert.ok((await expectStatus(get, 200)).equals(openBytes));
    });

    test(`${path}: no pull on the source: 202 and an ordinary upload, whether or not the blob exists there`, async () => {
      const target = `target/${path}-fallback`;
      const headers = await headersFor(path, [`repository:${target}:pull,push`, 'repository:source-closed/app:pull']);
      const existing = await mount(target, closedDigest, 'source-closed/app', headers);
      const missing = await mount(target, sha256(randomBytes(16)), 'source-closed/app', headers);
      for (const res of [existing, missing]) {
        await expectStatus(res, 202);
        assert.match(res.headers.get('location') ?? '', new RegExp(`^/v2/${target}/blobs/uploads/[^/]+$`));
        assert.equal(res.headers.get('docker-content-digest'), null);
        assert.equal(res.headers.get('range'), '0-0');
      }
      // The same answer either way: nothing tells whether the blob exists in the source.
      const shape = (res: Response) =>
        [...res.headers.keys()].filter((k) => !['date', 'location', 'docker-upload-uuid', 'blob-upload-session-id', 'x-request-id'].includes(k)).sort();
      assert.deepEqual(shape(existing), shape(missing));
      const get = await fetch(`${reg.url}/v2/${target}/blobs/${closedDigest}`, { headers: admin });
      await expectError(get, 404, 'BLOB_UNKNOWN');

      // The session is a real one: the client uploads the bytes itself.
      const put = await fetch(`${reg.url}${existing.headers.get('location')}?digest=${closedDigest}`, {
        method: 'PUT',
        headers: { ...headers, 'Content-Type': 'application/octet-stream' },
        body: closedBytes,
      });
      await expectStatus(put, 201);
    });

    test(`${path}: pull on the source without push on the target: refused, nothing mounted`, async () => {
      const target = `readonly/${path}-app`;
      const headers = await headersFor(path, [`repository:${target}:pull,push`, 'repository:source-open/app:pull']);
      const res = await mount(target, openDigest, 'source-open/app', headers);
      if (path === 'basic') await expectError(res, 403, 'DENIED');
      else await expectChallenge(reg.url, res, { scope: `repository:${target}:push`, error: 'insufficient_scope' });
      const get = await fetch(`${reg.url}/v2/${target}/blobs/${openDigest}`, { headers: admin });
      await expectError(get, 404, 'BLOB_UNKNOWN');
    });
  }
});

describe('personal namespaces and namespaces made by a push', () => {
  let reg: TestRegistry;
  let carol: Credentials;
  let dave: Credentials;

  before(async () => {
    reg = await startRegistry(authSettings());
    carol = await addUser(reg.app, 'carol', 'carol-password-1');
    dave = await addUser(reg.app, 'dave', 'dave-password-1');
    await addNamespace(reg.app, 'robots', 'private');
    await addRobot(reg.app, 'robot$robots+ci', 'robots', ['pull', 'push'], 'robots-secret-1');
    await addRobot(reg.app, 'robot$system', null, ['pull', 'push'], 'system-secret-1');
  });

  after(async () => {
    await reg?.close();
  });

  test('a user owns the namespace named after them: the first push makes it, private, with them as owner', async () => {
    const token = await tokenFor(reg.url, carol, ['repository:carol/app:pull,push']);
    assert.deepEqual(decodeJwt(token).payload['access'], [{ type: 'repository', name: 'carol/app', actions: ['pull', 'push'] }]);
    const image = await pushImage(reg.url, 'carol/app', { reference: 'v1', headers: bearerAuth(token) });
    assert.equal((await reg.app.access.getNamespace('carol'))?.visibility, 'private');
    assert.deepEqual(await reg.app.access.listMembers('carol'), [{ namespace: 'carol', username: 'carol', role: 'owner' }]);
    // Now a member namespace like any other: carol deletes, dave sees nothing.
    const del = await fetch(`${reg.url}/v2/carol/app/manifests/${image.digest}`, { method: 'DELETE', headers: basicAuth(carol) });
    await expectStatus(del, 202);
    await expectError(await fetch(`${reg.url}/v2/carol/app/tags/list`, { headers: basicAuth(dave) }), 403, 'DENIED');
    const catalog = await fetch(`${reg.url}/v2/_catalog`, { headers: basicAuth(dave) });
    assert.deepEqual(JSON.parse((await expectStatus(catalog, 200)).toString()), { repositories: [] });
  });

  test("nobody else may push into a user's namespace before it exists", async () => {
    const res = await fetch(`${reg.url}/v2/erin/app/blobs/uploads/`, { method: 'POST', headers: basicAuth(dave) });
    await expectError(res, 403, 'DENIED');
    assert.equal(await reg.app.access.getNamespace('erin'), undefined, 'a refused push makes no namespace');
    const token = await tokenFor(reg.url, dave, ['repository:erin/app:pull,push']);
    assert.deepEqual(decodeJwt(token).payload['access'], [{ type: 'repository', name: 'erin/app', actions: [] }]);
  });

  test('a namespace robot cannot make namespaces; a system-wide robot can', async () => {
    const robot = { username: 'robot$robots+ci', password: 'robots-secret-1' };
    const refused = await fetch(`${reg.url}/v2/fresh/app/blobs/uploads/`, { method: 'POST', headers: basicAuth(robot) });
    await expectError(refused, 403, 'DENIED');
    assert.equal(await reg.app.access.getNamespace('fresh'), undefined);
    const system = { username: 'robot$system', password: 'system-secret-1' };
    await pushImage(reg.url, 'fresh/app', { reference: 'v1', headers: basicAuth(system) });
    assert.equal((await reg.app.access.getNamespace('fresh'))?.visibility, 'private');
    assert.deepEqual(await reg.app.access.listMembers('fresh'), []);
  });
});
