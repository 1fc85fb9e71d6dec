// GET /v2/<name>/tags/list and GET /v2/_catalog: lexical order, n/last pagination, Link headers.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startRegistry, type TestRegistry } from '../helpers/registry.js';
import { MediaType, expectError, expectStatus, nextLink, pushBlob, pushImage, pushManifest } from '../helpers/oci.js';

interface TagList {
  name: string;
  tags: string[];
}

async function getJson<T>(url: string | URL): Promise<{ res: Response; body: T }> {
  const res = await fetch(url);
  const raw = await expectStatus(res, 200);
  assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
  return { res, body: JSON.parse(raw.toString()) as T };
}

/** Walk the Link headers from `first` to the end; returns the pages' items (bounded). */
async function walk(reg: TestRegistry, first: string, items: (body: unknown) => string[]): Promise<string[][]> {
  const pages: string[][] = [];
  let url: URL | undefined = new URL(first, reg.url);
  for (let i = 0; url && i < 50; i++) {
    const { res, body } = await getJson<unknown>(url);
    pages.push(items(body));
    url = nextLink(res, reg.url);
  }
  assert.equal(url, undefined, 'pagination did not end');
  return pages;
}

// Tags chosen so that byte order, case-insensitive order and numeric order would all differ
// from insertion order; all lower case, so "lexical" is unambiguous.
const TAGS = ['v2', 'latest', '1.0', 'v10', '_private', 'b-1', 'a', 'a.b', 'a_b', '10', '9'];
const SORTED = [...TAGS].sort();

describe('tags list', () => {
  let reg: TestRegistry;
  before(async () => {
    reg = await startRegistry();
    const image = await pushImage(reg.url, 'tags/repo');
    for (const tag of TAGS) await pushManifest(reg.url, 'tags/repo', tag, image.bytes, MediaType.OciManifest);
  });
  after(async () => {
    await reg.close();
  });

  test('lists every tag in lexical order with the repository name', async () => {
    const { res, body } = await getJson<TagList>(`${reg.url}/v2/tags/repo/tags/list`);
    assert.deepEqual(body, { name: 'tags/repo', tags: SORTED });
    assert.equal(res.headers.get('link'), null);
  });

  test('n limits the page and Link points at the next one', async () => {
    const { res, body } = await getJson<TagList>(`${reg.url}/v2/tags/repo/tags/list?n=3`);
    assert.deepEqual(body.tags, SORTED.slice(0, 3));
    const link = res.headers.get('link');
    assert.ok(link);
    assert.match(link, /^<[^>]+>; rel="next"$/);
    const next = nextLink(res, reg.url)!;
    assert.equal(next.pathname, '/v2/tags/repo/tags/list');
    assert.equal(next.searchParams.get('n'), '3');
    assert.equal(next.searchParams.get('last'), SORTED[2]);
  });

  test('following Link headers yields every tag exactly once, in order', async () => {
    for (const n of [1, 2, 4, 5, SORTED.length - 1]) {
      const pages = await walk(reg, `/v2/tags/repo/tags/list?n=${n}`, (b) => (b as TagList).tags);
      for (const page of pages.slice(0, -1)) assert.equal(page.length, n);
      assert.deepEqual(pages.flat(), SORTED, `n=${n}`);
    }
  });

  test('n equal to or above the number of tags returns them all with no Link', async () => {
    for (const n of [SORTED.length, SORTED.length + 1, 1000]) {
      const { res, body } = await getJson<TagList>(`${reg.url}/v2/tags/repo/tags/list?n=${n}`);
      assert.deepEqual(body.tags, SORTED);
      assert.equal(res.headers.get('link'), null, `n=${n}`);
    }
  });

  test('last starts strictly after the given tag, with or without n', async () => {
    const after4 = SORTED.slice(SORTED.indexOf(SORTED[3]!) + 1);
    assert.deepEqual((await getJson<TagList>(`${reg.url}/v2/tags/repo/tags/list?last=${encodeURIComponent(SORTED[3]!)}`)).body.tags, after4);
    assert.deepEqual((await getJson<TagList>(`${reg.url}/v2/tags/repo/tags/list?n=2&last=${encodeURIComponent(SORTED[3]!)}`)).body.tags, after4.slice(0, 2));
    // A last value that is not a tag still positions lexically.
    assert.deepEqual((await getJson<TagList>(`${reg.url}/v2/tags/repo/tags/list?last=b`)).body.tags, SORTED.filter((t) => t > 'b'));
    // Past the end: empty, no Link.
    const { res, body } = await getJson<TagList>(`${reg.url}/v2/tags/repo/tags/list?n=5&last=${SORTED.at(-1)}`);
    assert.deepEqual(body.tags, []);
    assert.equal(res.headers.get('link'), null);
  });

  test('n=0 returns an empty list and no Link', async () => {
    const { res, body } = await getJson<TagList>(`${reg.url}/v2/tags/repo/tags/list?n=0`);
    assert.deepEqual(body, { name: 'tags/repo', tags: [] });
    assert.equal(res.headers.get('link'), null);
  });

  test('an invalid n is 400', async () => {
    for (const n of ['-1', 'abc', '1.5', '1e3']) {
      const res = await fetch(`${reg.url}/v2/tags/repo/tags/list?n=${n}`);
      assert.equal(res.status, 400, `n=${n}`);
      const body = JSON.parse(await res.text()) as { errors: { code: string }[] };
      assert.ok(body.errors.length > 0);
    }
  });

  test('an unknown repository is 404 NAME_UNKNOWN', async () => {
    const body = await expectError(await fetch(`${reg.url}/v2/no/such/repo/tags/list`), 404, 'NAME_UNKNOWN');
    assert.ok(body.errors[0]!.message);
  });

  test('a repository with blobs but no tags lists an empty array', async () => {
    await pushBlob(reg.url, 'tags/untagged', 'just a blob');
    assert.deepEqual((await getJson<TagList>(`${reg.url}/v2/tags/untagged/tags/list`)).body, { name: 'tags/untagged', tags: [] });
  });

  test('tags of one repository do not show in another', async () => {
    await pushImage(reg.url, 'tags/other', { reference: 'only-here' });
    assert.deepEqual((await getJson<TagList>(`${reg.url}/v2/tags/other/tags/list`)).body.tags, ['only-here']);
    assert.ok(!(await getJson<TagList>(`${reg.url}/v2/tags/repo/tags/list`)).body.tags.includes('only-here'));
  });
});

describe('catalog', () => {
  let reg: TestRegistry;
  const REPOS = ['zeta', 'alpha/two', 'alpha', 'beta-2', 'alpha/one', 'alpha-x', 'mid/deep/nested', 'beta'];
  const SORTED_REPOS = [...REPOS].sort();
  before(async () => {
    reg = await startRegistry();
    for (const repo of REPOS) await pushBlob(reg.url, repo, `content of ${repo}`);
  });
  after(async () => {
    await reg.close();
  });

  test('lists every repository in lexical order', async () => {
    const { res, body } = await getJson<{ repositories: string[] }>(`${reg.url}/v2/_catalog`);
    assert.deepEqual(body, { repositories: SORTED_REPOS });
    assert.equal(res.headers.get('link'), null);
  });

  test('paginates with n and Link, which when followed yields the rest', async () => {
    const first = await getJson<{ repositories: string[] }>(`${reg.url}/v2/_catalog?n=3`);
    assert.deepEqual(first.body.repositories, SORTED_REPOS.slice(0, 3));
    const next = nextLink(first.res, reg.url)!;
    assert.equal(next.pathname, '/v2/_catalog');
    assert.equal(next.searchParams.get('last'), SORTED_REPOS[2]);
    const pages = await walk(reg, '/v2/_catalog?n=3', (b) => (b as { repositories: string[] }).repositories);
    assert.deepEqual(pages.flat(), SORTED_REPOS);
    assert.equal(pages.length, Math.ceil(SORTED_REPOS.length / 3));
  });

  test('last with a name containing slashes', async () => {
    const { body } = await getJson<{ repositories: string[] }>(`${reg.url}/v2/_catalog?last=${encodeURIComponent('alpha/one')}`);
    assert.deepEqual(body.repositories, SORTED_REPOS.filter((r) => r > 'alpha/one'));
  });

  test('n=0 is an empty list without Link; an invalid n is 400', async () => {
    const { res, body } = await getJson<{ repositories: string[] }>(`${reg.url}/v2/_catalog?n=0`);
    assert.deepEqual(body.repositories, []);
    assert.equal(res.headers.get('link'), null);
    const bad = await fetch(`${reg.url}/v2/_catalog?n=-5`);
    assert.equal(bad.status, 400);
    await bad.arrayBuffer();
  });
});
