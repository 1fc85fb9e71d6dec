// The browse API the web UI reads (GET /api/v1/repositories, .../tags, .../manifests/{ref})
// with access control on and off, and how the registry serves the UI itself: index.html for
// client routes with strict security headers, hashed assets, never shadowing its own paths.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startRegistry, type TestRegistry } from '../helpers/registry.js';
import { ADMIN, api, basic, expect, startTeamRegistry, type Credentials } from '../helpers/api.js';
import { pushBuiltImage, pushPlatformIndex, pushSignatureArtifact, SIGNATURE_TYPE, type BuiltImage } from '../helpers/images.js';
import { rawRequest } from '../helpers/oci.js';

const as = (c: Credentials) => ({ Authorization: basic(c) });

describe('browse API (access control on)', () => {
  let reg: TestRegistry;
  let owner: Credentials;
  let reader: Credentials;
  let outsider: Credentials;
  let image: BuiltImage;
  let index: { digest: string; children: BuiltImage[] };
  let signature: string;
  before(async () => {
    ({ reg, owner, reader, outsider } = await startTeamRegistry());
    image = await pushBuiltImage(reg.url, 'team/app', 'v1', { labels: { 'org.opencontainers.image.title': 'app' }, layerSizes: [1000, 2000], headers: as(owner) });
    await pushBuiltImage(reg.url, 'team/app', 'v2', { headers: as(owner) });
    index = await pushPlatformIndex(reg.url, 'team/multi', 'latest', as(owner));
    signature = await pushSignatureArtifact(reg.url, 'team/app', image, as(owner));
    expect(await api(reg, 'POST', '/namespaces', { as: ADMIN, body: { name: 'pub', visibility: 'public' } }), 201);
    expect(await api(reg, 'POST', '/namespaces', { as: ADMIN, body: { name: 'secret' } }), 201);
    await pushBuiltImage(reg.url, 'pub/tool', '1.0', { headers: as(ADMIN) });
    await pushBuiltImage(reg.url, 'secret/thing', '1.0', { headers: as(ADMIN) });
  });
  after(async () => {
    await reg.close();
  });

  test('a member lists the repositories of their namespaces and public ones, with tag counts', async () => {
    const res = expect(await api(reg, 'GET', '/repositories', { as: reader }), 200);
    assert.equal(res.json.total, 3);
    assert.deepEqual(
      res.json.repositories.map((r: { name: string; tagCount: number }) => [r.name, r.tagCount]),
      [
        ['pub/tool', 1],
        ['team/app', 2],
        ['team/multi', 3],
      ],
    );
    const outsiders = expect(await api(reg, 'GET', '/repositories', { as: outsider }), 200);
    assert.deepEqual(outsiders.json.repositories.map((r: { name: string }) => r.name), ['pub/tool']);
    const admin = expect(await api(reg, 'GET', '/repositories', { as: ADMIN }), 200);
    assert.equal(admin.json.total, 4);
    // A namespace filter cannot widen what the caller sees.
    assert.equal(expect(await api(reg, 'GET', '/repositories?namespace=secret', { as: reader }), 200).json.total, 0);
  });

  test('search, sort and offset pagination', async () => {
    const found = expect(await api(reg, 'GET', '/repositories?q=MUL', { as: ADMIN }), 200).json;
    assert.deepEqual(found.repositories.map((r: { name: string }) => r.name), ['team/multi']);
    // `_` and `%` are literal characters, not wildcards.
    assert.equal(expect(await api(reg, 'GET', '/repositories?q=%25', { as: ADMIN }), 200).json.total, 0);
    const byTags = expect(await api(reg, 'GET', '/repositories?sort=-tags', { as: ADMIN }), 200).json;
    assert.equal(byTags.repositories[0].name, 'team/multi');
    const desc = expect(await api(reg, 'GET', '/repositories?sort=-name&limit=2&offset=1', { as: ADMIN }), 200).json;
    assert.equal(desc.total, 4);
    assert.deepEqual(desc.repositories.map((r: { name: string }) => r.name), ['team/app', 'secret/thing']);
    expect(await api(reg, 'GET', '/repositories?sort=size', { as: ADMIN }), 400, 'UNSUPPORTED');
    expect(await api(reg, 'GET', '/repositories'), 401, 'UNAUTHORIZED');
  });

  test('tags carry digest, total size, platforms and tracking', async () => {
    const res = expect(await api(reg, 'GET', '/repositories/team/app/tags', { as: reader }), 200).json;
    const v1 = res.tags.find((t: { tag: string }) => t.tag === 'v1');
    assert.equal(v1.digest, image.digest);
    assert.equal(v1.size, image.size + image.config.size + 1000 + 2000);
    assert.deepEqual(v1.platforms, ['linux/amd64']);
    assert.equal(v1.pushedBy, 'olivia');
    const multi = expect(await api(reg, 'GET', '/repositories/team/multi/tags', { as: reader }), 200).json;
    const latest = multi.tags.find((t: { tag: string }) => t.tag === 'latest');
    assert.deepEqual(latest.platforms, ['linux/amd64', 'linux/arm64']);
    assert.equal(latest.mediaType, 'application/vnd.oci.image.index.v1+json');
    expect(await api(reg, 'GET', '/repositories/secret/thing/tags', { as: reader }), 404, 'NAME_UNKNOWN');
  });

  test('manifest details: layers with sizes, configuration labels and history, tags, referrers', async () => {
    const m = expect(await api(reg, 'GET', '/repositories/team/app/manifests/v1', { as: reader }), 200).json;
    assert.equal(m.digest, image.digest);
    assert.equal(m.kind, 'image');
    assert.deepEqual(m.layers.map((l: { size: number }) => l.size), [1000, 2000]);
    assert.equal(m.layers[0].mediaType, 'application/vnd.oci.image.layer.v1.tar+gzip');
    assert.equal(m.totalSize, image.size + image.config.size + 3000);
    assert.equal(m.config.image.labels['org.opencontainers.image.title'], 'app');
    assert.equal(m.config.image.architecture, 'amd64');
    assert.deepEqual(m.config.image.cmd, ['/app', '--serve']);
    assert.deepEqual(m.config.image.history.map((h: { createdBy: string }) => h.createdBy), ['ADD rootfs.tar /', 'COPY app /app', 'CMD ["/app"]']);
    assert.equal(m.config.image.history[2].emptyLayer, true);
    assert.deepEqual(m.tags, ['v1']);
    assert.deepEqual(m.referrers.map((r: { digest: string; artifactType: string }) => [r.digest, r.artifactType]), [[signature, SIGNATURE_TYPE]]);
    const byDigest = expect(await api(reg, 'GET', `/repositories/team/app/manifests/${image.digest}`, { as: reader }), 200).json;
    assert.equal(byDigest.digest, image.digest);
    const sig = expect(await api(reg, 'GET', `/repositories/team/app/manifests/${signature}`, { as: reader }), 200).json;
    assert.equal(sig.kind, 'artifact');
    assert.equal(sig.subject.digest, image.digest);
  });

  test('an index lists its platforms with their digests', async () => {
    const m = expect(await api(reg, 'GET', '/repositories/team/multi/manifests/latest', { as: reader }), 200).json;
    assert.equal(m.kind, 'index');
    assert.deepEqual(
      m.manifests.map((c: { digest: string; platform: { architecture: string } }) => [c.digest, c.platform.architecture]),
      index.children.map((c, i) => [c.digest, i === 0 ? 'amd64' : 'arm64']),
    );
    expect(await api(reg, 'GET', '/repositories/team/multi/manifests/nope', { as: reader }), 404, 'NAME_UNKNOWN');
    expect(await api(reg, 'GET', '/repositories/secret/thing/manifests/1.0', { as: reader }), 404, 'NAME_UNKNOWN');
  });
});

describe('browse API and UI with access control off', () => {
  let reg: TestRegistry;
  before(async () => {
    reg = await startRegistry();
    await pushBuiltImage(reg.url, 'library/web', 'stable');
  });
  after(async () => {
    await reg.close();
  });

  test('anyone browses read-only; the session says access control is off', async () => {
    assert.deepEqual(expect(await api(reg, 'GET', '/session'), 200).json, { authEnabled: false, user: null, csrfToken: null, expiresAt: null });
    assert.deepEqual(expect(await api(reg, 'GET', '/repositories'), 200).json.repositories.map((r: { name: string }) => r.name), ['library/web']);
    assert.equal(expect(await api(reg, 'GET', '/repositories/library/web/manifests/stable'), 200).json.kind, 'image');
    // No management API without access control.
    expect(await api(reg, 'GET', '/users'), 404);
  });

  test('the UI is served at / and for client routes, with strict security headers', async () => {
    for (const path of ['/', '/r/library/web', '/r/library/web/-/stable', '/admin/users?x=1']) {
      const res = await rawRequest(reg.url, 'GET', path);
      assert.equal(res.status, 200, path);
      assert.match(String(res.headers['content-type']), /^text\/html/);
      const html = res.body.toString();
      assert.match(html, /<div id="root"><\/div>/);
      assert.doesNotMatch(html, /<script(?![^>]*\bsrc=)[^>]*>/, 'no inline script');
      const csp = String(res.headers['content-security-policy']);
      assert.match(csp, /script-src 'self'(;|$)/);
      assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/);
      assert.match(csp, /frame-ancestors 'none'/);
      assert.equal(res.headers['x-content-type-options'], 'nosniff');
      assert.equal(res.headers['referrer-policy'], 'no-referrer');
    }
    const html = (await rawRequest(reg.url, 'GET', '/')).body.toString();
    const script = /src="(\/assets\/[^"]+\.js)"/.exec(html)![1]!;
    const asset = await rawRequest(reg.url, 'GET', script);
    assert.equal(asset.status, 200);
    assert.match(String(asset.headers['content-type']), /^text\/javascript/);
    assert.match(String(asset.headers['cache-control']), /immutable/);
    assert.equal(Number(asset.headers['content-length']), asset.body.length);
  });

  test("the UI never shadows the registry's own paths", async () => {
    assert.equal((await rawRequest(reg.url, 'GET', '/v2/')).status, 200);
    assert.equal((await rawRequest(reg.url, 'GET', '/healthz')).status, 200);
    for (const path of ['/api/v1/nothing', '/v2/library/web/nothing', '/token/x', '/metrics/x', '/assets/missing.js', '/../etc/passwd', '/assets/../../package.json']) {
      const res = await rawRequest(reg.url, 'GET', path);
      assert.equal(res.status, 404, path);
      assert.match(String(res.headers['content-type']), /^application\/json/, path);
    }
  });
});

describe('UI switched off', () => {
  let reg: TestRegistry;
  before(async () => {
    reg = await startRegistry({ ui: { enabled: false } });
  });
  after(async () => {
    await reg.close();
  });

  test('/ is not served and the browse API is absent', async () => {
    assert.equal((await rawRequest(reg.url, 'GET', '/')).status, 404);
    assert.equal((await rawRequest(reg.url, 'GET', '/api/v1/repositories')).status, 404);
  });
});
