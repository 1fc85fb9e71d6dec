// The behaviour every MetadataStore driver must have. A driver's test file calls
// metadataStoreContract(name, makeStore) with a factory that gives a fresh, empty store.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ManifestReference, MetadataStore, NewManifest } from '../../src/metadata/store.js';
import { digestOf } from '../../src/registry/digest.js';
import { MediaType } from '../../src/registry/media-types.js';

export interface MetadataStoreFixture {
  store: MetadataStore;
  /**
   * Open a second store over the same database, running migrations again (they must be
   * idempotent). Optional: drivers that cannot do it skip that test.
   */
  reopen?(): Promise<MetadataStore>;
  /** Close the store(s) and remove the database. */
  cleanup(): Promise<void>;
}

export type MetadataStoreFactory = () => Promise<MetadataStoreFixture>;

const dg = (seed: string) => digestOf('sha256', seed).value;

function manifest(repository: string, seed: string, extra: Partial<NewManifest> = {}): NewManifest {
  const content = Buffer.from(JSON.stringify({ schemaVersion: 2, seed }));
  return {
    repository,
    digest: digestOf('sha256', content).value,
    mediaType: MediaType.OciManifest,
    artifactType: null,
    subjectDigest: null,
    annotations: null,
    content,
    references: [],
    ...extra,
  };
}

/** Page through a listing `limit` at a time, as a client following Link headers would. */
async function pageAll(list: (page: { limit?: number; after?: string }) => Promise<string[]>, limit: number): Promise<string[][]> {
  const pages: string[][] = [];
  let after: string | undefined;
  for (let i = 0; i < 100; i++) {
    const page = await list({ limit, ...(after !== undefined ? { after } : {}) });
    if (page.length === 0) return pages;
    pages.push(page);
    after = page[page.length - 1];
  }
  throw new Error('pagination did not end');
}

export function metadataStoreContract(name: string, makeStore: MetadataStoreFactory): void {
  describe(`MetadataStore contract: ${name}`, () => {
    function withStore(title: string, fn: (store: MetadataStore, fixture: MetadataStoreFixture) => Promise<void>): void {
      test(title, async () => {
        const fixture = await makeStore();
        try {
          await fn(fixture.store, fixture);
        } finally {
          await fixture.cleanup();
        }
      });
    }

    withStore('ping answers', async (store) => {
      await store.ping();
    });

    describe('blobs', () => {
      withStore('linkBlob links into one repository only, and creates it', async (store) => {
        assert.equal(await store.repositoryExists('app'), false);
        await store.linkBlob('app', dg('a'), 42);
        assert.equal(await store.repositoryExists('app'), true);
        assert.deepEqual(await store.getBlobLink('app', dg('a')), { digest: dg('a'), size: 42 });
        assert.equal(await store.getBlobLink('other', dg('a')), undefined);
        assert.equal(await store.getBlobLink('app', dg('b')), undefined);
      });

      withStore('linking twice is harmless', async (store) => {
        await store.linkBlob('app', dg('a'), 42);
        await store.linkBlob('app', dg('a'), 42);
        await store.linkBlob('other', dg('a'), 42);
        assert.deepEqual(await store.getBlobLink('other', dg('a')), { digest: dg('a'), size: 42 });
      });

      withStore('sizes beyond 32 bits come back as numbers', async (store) => {
        const big = 5 * 2 ** 30 + 7;
        await store.linkBlob('app', dg('big'), big);
        const link = await store.getBlobLink('app', dg('big'));
        assert.equal(link?.size, big);
        assert.equal(typeof link?.size, 'number');
        assert.equal((await store.findBlob(dg('big')))?.size, big);
      });

      withStore('unlinkBlob removes only that link', async (store) => {
        await store.linkBlob('app', dg('a'), 1);
        await store.linkBlob('lib', dg('a'), 1);
        assert.equal(await store.unlinkBlob('app', dg('a')), true);
        assert.equal(await store.unlinkBlob('app', dg('a')), false);
        assert.equal(await store.unlinkBlob('nowhere', dg('a')), false);
        assert.equal(await store.getBlobLink('app', dg('a')), undefined);
        assert.deepEqual(await store.getBlobLink('lib', dg('a')), { digest: dg('a'), size: 1 });
      });

      withStore('findBlob finds a blob any repository links, and nothing once unlinked everywhere', async (store) => {
        assert.equal(await store.findBlob(dg('a')), undefined);
        await store.linkBlob('app', dg('a'), 9);
        assert.deepEqual(await store.findBlob(dg('a')), { digest: dg('a'), size: 9 });
        await store.unlinkBlob('app', dg('a'));
        assert.equal(await store.findBlob(dg('a')), undefined);
      });

      withStore('missingBlobs lists the digests not linked into the repository', async (store) => {
        await store.linkBlob('app', dg('a'), 1);
        await store.linkBlob('app', dg('c'), 1);
        await store.linkBlob('other', dg('b'), 1);
        assert.deepEqual(await store.missingBlobs('app', [dg('a'), dg('b'), dg('c'), dg('d')]), [dg('b'), dg('d')]);
        assert.deepEqual(await store.missingBlobs('app', [dg('b'), dg('b')]), [dg('b')], 'duplicates reported once');
        assert.deepEqual(await store.missingBlobs('app', []), []);
        assert.deepEqual(await store.missingBlobs('app', [dg('a')]), []);
      });

      withStore('missingBlobs handles long lists', async (store) => {
        const digests = Array.from({ length: 1200 }, (_, i) => dg(`blob${i}`));
        for (const d of digests.filter((_, i) => i % 3 === 0)) await store.linkBlob('app', d, 1);
        const expected = digests.filter((_, i) => i % 3 !== 0);
        assert.deepEqual(await store.missingBlobs('app', digests), expected);
      });
    });

    describe('uploads', () => {
      withStore('createUpload starts at size 0 and creates the repository', async (store) => {
        const before = Date.now();
        const u = await store.createUpload('u1', 'app');
        assert.equal(u.id, 'u1');
        assert.equal(u.repository, 'app');
        assert.equal(u.size, 0);
        assert.ok(u.createdAt.getTime() >= before - 1000 && u.createdAt.getTime() <= Date.now() + 1000);
        assert.equal(await store.repositoryExists('app'), true);
        assert.deepEqual(await store.getUpload('app', 'u1'), u);
      });

      withStore('getUpload is scoped to the repository', async (store) => {
        await store.createUpload('u1', 'app');
        assert.equal(await store.getUpload('other', 'u1'), undefined);
        assert.equal(await store.getUpload('app', 'u2'), undefined);
      });

      withStore('an upload id is unique', async (store) => {
        await store.createUpload('u1', 'app');
        await assert.rejects(store.createUpload('u1', 'other'));
        assert.equal((await store.getUpload('app', 'u1'))?.repository, 'app');
      });

      withStore('claim, release with a new size, and a stale expected size is refused', async (store) => {
        const created = await store.createUpload('u1', 'app');
        await sleep(5);
        assert.equal(await store.claimUpload('u1', 0, 'w1', 60_000), true);
        assert.equal(await store.releaseUpload('u1', 'w1', 10), true);
        const after = await store.getUpload('app', 'u1');
        assert.equal(after?.size, 10);
        assert.ok(after!.updatedAt.getTime() > created.updatedAt.getTime(), 'updatedAt moves on release');
        assert.equal(after!.createdAt.getTime(), created.createdAt.getTime());
        // Another writer that still believes the upload is at 0 must not get it.
        assert.equal(await store.claimUpload('u1', 0, 'w2', 60_000), false);
        assert.equal(await store.claimUpload('u1', 10, 'w2', 60_000), true);
        assert.equal(await store.releaseUpload('u1', 'w2', 25), true);
        assert.equal((await store.getUpload('app', 'u1'))?.size, 25);
      });

      withStore('a held claim keeps other writers out until it is released', async (store) => {
        await store.createUpload('u1', 'app');
        assert.equal(await store.claimUpload('u1', 0, 'w1', 60_000), true);
        assert.equal(await store.claimUpload('u1', 0, 'w2', 60_000), false);
        assert.equal(await store.releaseUpload('u1', 'w2', 99), false, 'only the holder may release');
        assert.equal((await store.getUpload('app', 'u1'))?.size, 0);
        assert.equal(await store.renewUploadClaim('u1', 'w1', 60_000), true);
        assert.equal(await store.renewUploadClaim('u1', 'w2', 60_000), false);
        // Released without a size (a failed write): the size stays, the claim is free again.
        assert.equal(await store.releaseUpload('u1', 'w1'), true);
        assert.equal((await store.getUpload('app', 'u1'))?.size, 0);
        assert.equal(await store.releaseUpload('u1', 'w1'), false, 'a released claim is gone');
        assert.equal(await store.claimUpload('u1', 0, 'w2', 60_000), true);
      });

      withStore('an expired claim can be taken over, and its old holder loses it', async (store) => {
        await store.createUpload('u1', 'app');
        assert.equal(await store.claimUpload('u1', 0, 'slow', 1), true);
        await sleep(20);
        assert.equal(await store.claimUpload('u1', 0, 'fast', 60_000), true);
        assert.equal(await store.releaseUpload('u1', 'slow', 50), false);
        assert.equal(await store.renewUploadClaim('u1', 'slow', 60_000), false);
        assert.equal(await store.releaseUpload('u1', 'fast', 7), true);
        assert.equal((await store.getUpload('app', 'u1'))?.size, 7);
      });

      withStore('releaseAllUploadClaims frees every held claim and keeps sizes', async (store) => {
        await store.createUpload('u1', 'app');
        await store.createUpload('u2', 'app');
        await store.createUpload('u3', 'app');
        assert.equal(await store.claimUpload('u1', 0, 'dead1', 60_000), true);
        assert.equal(await store.releaseUpload('u1', 'dead1', 4), true);
        assert.equal(await store.claimUpload('u1', 4, 'dead1', 60_000), true);
        assert.equal(await store.claimUpload('u2', 0, 'dead2', 60_000), true);
        assert.equal(await store.releaseAllUploadClaims(), 2);
        assert.equal(await store.claimUpload('u1', 4, 'new1', 60_000), true);
        assert.equal(await store.claimUpload('u2', 0, 'new2', 60_000), true);
        assert.equal(await store.releaseUpload('u1', 'dead1', 99), false, 'the old writer lost its claim');
        assert.equal((await store.getUpload('app', 'u1'))?.size, 4);
        assert.equal(await store.releaseAllUploadClaims(), 2);
        assert.equal(await store.releaseAllUploadClaims(), 0);
      });

      withStore('claims on unknown uploads fail', async (store) => {
        assert.equal(await store.claimUpload('nope', 0, 'w', 60_000), false);
        assert.equal(await store.renewUploadClaim('nope', 'w', 60_000), false);
        assert.equal(await store.releaseUpload('nope', 'w', 1), false);
      });

      withStore('deleteUpload and listUploadIds', async (store) => {
        await store.createUpload('u1', 'app');
        await store.createUpload('u2', 'lib');
        assert.deepEqual((await store.listUploadIds()).sort(), ['u1', 'u2']);
        await store.deleteUpload('u1');
        await store.deleteUpload('u1');
        assert.deepEqual(await store.listUploadIds(), ['u2']);
        assert.equal(await store.getUpload('app', 'u1'), undefined);
      });

      withStore('listUploadsUpdatedBefore returns uploads last touched before the cutoff', async (store) => {
        const old = await store.createUpload('old', 'app');
        await sleep(30);
        const cutoff = new Date();
        await sleep(5);
        await store.createUpload('new', 'app');
        const stale = await store.listUploadsUpdatedBefore(cutoff);
        assert.deepEqual(
          stale.map((u) => u.id),
          ['old'],
        );
        assert.deepEqual(stale[0], old);
        assert.deepEqual(await store.listUploadsUpdatedBefore(new Date(old.updatedAt.getTime())), [], 'strictly before');
        assert.deepEqual((await store.listUploadsUpdatedBefore(new Date(Date.now() + 60_000))).map((u) => u.id).sort(), ['new', 'old']);
      });

      withStore('touching an upload makes it fresh again', async (store) => {
        await store.createUpload('u1', 'app');
        await sleep(30);
        const cutoff = new Date();
        await sleep(5);
        assert.equal(await store.claimUpload('u1', 0, 'w', 60_000), true);
        assert.equal(await store.releaseUpload('u1', 'w', 3), true);
        assert.deepEqual(await store.listUploadsUpdatedBefore(cutoff), []);
      });
    });

    describe('manifests and tags', () => {
      withStore('putManifest with a tag; get by digest and by tag', async (store) => {
        const m = manifest('app', 'one', {
          artifactType: 'application/vnd.example',
          annotations: { 'org.example': 'yes', 'ünï': 'cödé' },
          references: [
            { digest: dg('config'), kind: 'blob' },
            { digest: dg('layer'), kind: 'blob' },
          ],
          tag: 'latest',
        });
        await store.putManifest(m);
        for (const record of [await store.getManifest('app', m.digest), await store.getManifestByTag('app', 'latest')]) {
          assert.ok(record);
          assert.equal(record.repository, 'app');
          assert.equal(record.digest, m.digest);
          assert.equal(record.mediaType, MediaType.OciManifest);
          assert.equal(record.artifactType, 'application/vnd.example');
          assert.equal(record.subjectDigest, null);
          assert.deepEqual(record.annotations, { 'org.example': 'yes', 'ünï': 'cödé' });
          assert.ok(Buffer.isBuffer(record.content));
          assert.ok(record.content.equals(m.content));
          assert.ok(record.createdAt instanceof Date && !Number.isNaN(record.createdAt.getTime()));
        }
        assert.equal(await store.repositoryExists('app'), true);
        assert.equal(await store.getManifest('other', m.digest), undefined);
        assert.equal(await store.getManifestByTag('app', 'nope'), undefined);
        assert.equal(await store.getManifestByTag('other', 'latest'), undefined);
      });

      withStore('binary-exact content survives', async (store) => {
        const content = Buffer.concat([Buffer.from('{"schemaVersion":2}'), Buffer.from([0x0a, 0x00, 0xff, 0x0d])]);
        const m = manifest('app', 'x', { content, digest: digestOf('sha256', content).value });
        await store.putManifest(m);
        assert.ok((await store.getManifest('app', m.digest))?.content.equals(content));
      });

      withStore('retagging moves the tag; the old manifest stays by digest', async (store) => {
        const one = manifest('app', 'one', { tag: 'latest' });
        const two = manifest('app', 'two', { tag: 'latest' });
        await store.putManifest(one);
        await store.putManifest(two);
        assert.equal((await store.getManifestByTag('app', 'latest'))?.digest, two.digest);
        assert.ok(await store.getManifest('app', one.digest));
        assert.deepEqual(await store.listTags('app', {}), ['latest']);
        // And back again, by pushing the first manifest once more.
        await store.putManifest(one);
        assert.equal((await store.getManifestByTag('app', 'latest'))?.digest, one.digest);
      });

      withStore('pushing the same manifest again under another tag adds the tag', async (store) => {
        const m = manifest('app', 'one', { tag: 'v1', references: [{ digest: dg('l'), kind: 'blob' }] });
        await store.putManifest(m);
        await store.putManifest({ ...m, tag: 'v1.0' });
        await store.putManifest({ ...m, tag: undefined });
        assert.deepEqual(await store.listTags('app', {}), ['v1', 'v1.0']);
        assert.equal((await store.getManifestByTag('app', 'v1.0'))?.digest, m.digest);
      });

      withStore('the same manifest in two repositories is two records', async (store) => {
        const a = manifest('app', 'shared', { tag: 'x' });
        await store.putManifest(a);
        await store.putManifest({ ...a, repository: 'lib', tag: 'y' });
        assert.equal(await store.deleteManifest('app', a.digest), true);
        assert.equal((await store.getManifestByTag('lib', 'y'))?.digest, a.digest);
      });

      withStore('references may repeat and name many children', async (store) => {
        const refs: ManifestReference[] = Array.from({ length: 600 }, (_, i) => ({ digest: dg(`child${i % 300}`), kind: i % 2 ? 'manifest' : 'blob' }));
        const m = manifest('app', 'index', { mediaType: MediaType.OciIndex, references: [...refs, ...refs] });
        await store.putManifest(m);
        assert.ok(await store.getManifest('app', m.digest));
      });

      withStore('missingManifests', async (store) => {
        const a = manifest('app', 'a');
        const b = manifest('lib', 'b');
        await store.putManifest(a);
        await store.putManifest(b);
        assert.deepEqual(await store.missingManifests('app', [a.digest, b.digest, dg('zzz')]), [b.digest, dg('zzz')]);
        assert.deepEqual(await store.missingManifests('app', [a.digest]), []);
        assert.deepEqual(await store.missingManifests('app', []), []);
      });

      withStore('deleteManifest removes it and every tag pointing at it', async (store) => {
        const m = manifest('app', 'one', { tag: 'a', references: [{ digest: dg('l'), kind: 'blob' }] });
        const other = manifest('app', 'two', { tag: 'keep' });
        await store.putManifest(m);
        await store.putManifest({ ...m, tag: 'b' });
        await store.putManifest(other);
        assert.equal(await store.deleteManifest('app', m.digest), true);
        assert.equal(await store.getManifest('app', m.digest), undefined);
        assert.equal(await store.getManifestByTag('app', 'a'), undefined);
        assert.equal(await store.getManifestByTag('app', 'b'), undefined);
        assert.deepEqual(await store.listTags('app', {}), ['keep']);
        assert.equal(await store.deleteManifest('app', m.digest), false);
        assert.equal(await store.deleteManifest('nowhere', m.digest), false);
        // It can be pushed again afterwards.
        await store.putManifest({ ...m, tag: 'a' });
        assert.equal((await store.getManifestByTag('app', 'a'))?.digest, m.digest);
      });

      withStore('deleteTag removes the tag only', async (store) => {
        const m = manifest('app', 'one', { tag: 'latest' });
        await store.putManifest(m);
        assert.equal(await store.deleteTag('app', 'latest'), true);
        assert.equal(await store.deleteTag('app', 'latest'), false);
        assert.equal(await store.deleteTag('other', 'latest'), false);
        assert.equal(await store.getManifestByTag('app', 'latest'), undefined);
        assert.ok(await store.getManifest('app', m.digest));
        assert.deepEqual(await store.listTags('app', {}), []);
      });
    });

    describe('listings', () => {
      // Mixed case and punctuation: the order must be by code point ("C" collation), or
      // `after` pagination skips or repeats entries.
      const TAGS = ['v1', 'V2', 'latest', 'Latest', '1.0', '1.0-rc', '1_0', '10', '2', 'a', 'A', '_x', 'z-', 'z.', 'z_'];
      const REPOS = ['a', 'a-b', 'a.b', 'a/b', 'a_b', 'ab', 'a0', 'b/c/d', 'b', 'library/ubuntu', 'z'];
      const sorted = (xs: string[]) => [...xs].sort((x, y) => (x < y ? -1 : x > y ? 1 : 0));

      withStore('listTags is in lexical order and pages with limit and after', async (store) => {
        // Insert in a scrambled order.
        for (const [i, tag] of [...TAGS].reverse().entries()) await store.putManifest(manifest('app', `m${i % 4}`, { tag }));
        await store.putManifest(manifest('other', 'x', { tag: 'other-tag' }));
        const expected = sorted(TAGS);
        assert.deepEqual(await store.listTags('app', {}), expected);
        assert.deepEqual(await store.listTags('app', { limit: 3 }), expected.slice(0, 3));
        assert.deepEqual(await store.listTags('app', { after: expected[4]! }), expected.slice(5));
        assert.deepEqual(await store.listTags('app', { after: expected[4]!, limit: 2 }), expected.slice(5, 7));
        for (const limit of [1, 2, 4, 100]) {
          const pages = await pageAll((p) => store.listTags('app', p), limit);
          assert.deepEqual(pages.flat(), expected, `limit ${limit}`);
          assert.ok(pages.every((p) => p.length <= limit));
        }
        assert.deepEqual(await store.listTags('app', { after: expected[expected.length - 1]! }), []);
        assert.deepEqual(await store.listTags('app', { after: 'B' }), expected.filter((t) => t > 'B'), 'after need not be an existing tag');
        assert.deepEqual(await store.listTags('nowhere', {}), []);
      });

      withStore('listRepositories is in lexical order and pages with limit and after', async (store) => {
        for (const repo of [...REPOS].reverse()) await store.linkBlob(repo, dg(repo), 1);
        const expected = sorted(REPOS);
        assert.deepEqual(await store.listRepositories({}), expected);
        for (const limit of [1, 3, 100]) {
          assert.deepEqual((await pageAll((p) => store.listRepositories(p), limit)).flat(), expected, `limit ${limit}`);
        }
        assert.deepEqual(await store.listRepositories({ after: 'a/b', limit: 2 }), expected.slice(expected.indexOf('a/b') + 1, expected.indexOf('a/b') + 3));
      });

      withStore('repositories made by uploads and manifests are listed too', async (store) => {
        await store.createUpload('u', 'by-upload');
        await store.putManifest(manifest('by-manifest', 'm'));
        await store.linkBlob('by-blob', dg('b'), 1);
        assert.deepEqual(await store.listRepositories({}), ['by-blob', 'by-manifest', 'by-upload']);
      });
    });

    describe('referrers', () => {
      withStore('listReferrers returns the manifests whose subject is the digest, with an artifactType filter', async (store) => {
        const subject = manifest('app', 'image', { tag: 'v1' });
        await store.putManifest(subject);
        const sig = manifest('app', 'sig', {
          subjectDigest: subject.digest,
          artifactType: 'application/vnd.example.signature',
          annotations: { 'org.example.signer': 'me' },
        });
        const sbom = manifest('app', 'sbom', { subjectDigest: subject.digest, artifactType: 'application/vnd.example.sbom', mediaType: MediaType.OciIndex });
        const unrelated = manifest('app', 'unrelated', { artifactType: 'application/vnd.example.signature' });
        const elsewhere = manifest('lib', 'sig-elsewhere', { subjectDigest: subject.digest, artifactType: 'application/vnd.example.signature' });
        for (const m of [sig, sbom, unrelated, elsewhere]) await store.putManifest(m);

        const all = await store.listReferrers('app', subject.digest);
        const expected = [sig, sbom].sort((a, b) => (a.digest < b.digest ? -1 : 1));
        assert.deepEqual(
          all,
          expected.map((m) => ({ digest: m.digest, mediaType: m.mediaType, size: m.content.length, artifactType: m.artifactType, annotations: m.annotations })),
        );
        assert.deepEqual(
          (await store.listReferrers('app', subject.digest, 'application/vnd.example.signature')).map((r) => r.digest),
          [sig.digest],
        );
        assert.deepEqual(await store.listReferrers('app', subject.digest, 'application/vnd.example.none'), []);
        assert.deepEqual(await store.listReferrers('app', dg('no such subject')), []);
        assert.deepEqual((await store.listReferrers('lib', subject.digest)).map((r) => r.digest), [elsewhere.digest]);
      });

      withStore('a referrer may arrive before its subject, and leaves with its own deletion', async (store) => {
        const subjectDigest = dg('not pushed yet');
        const sig = manifest('app', 'early', { subjectDigest, artifactType: 'application/vnd.example.signature' });
        await store.putManifest(sig);
        assert.deepEqual((await store.listReferrers('app', subjectDigest)).map((r) => r.digest), [sig.digest]);
        await store.deleteManifest('app', sig.digest);
        assert.deepEqual(await store.listReferrers('app', subjectDigest), []);
      });
    });

    test('migrations are idempotent: a second store over the same database sees the data', async (t) => {
      const fixture = await makeStore();
      try {
        if (!fixture.reopen) {
          t.skip('driver cannot reopen its database');
          return;
        }
        await fixture.store.linkBlob('app', dg('persisted'), 5);
        await fixture.store.putManifest(manifest('app', 'persisted', { tag: 'kept' }));
        const second = await fixture.reopen();
        assert.deepEqual(await second.getBlobLink('app', dg('persisted')), { digest: dg('persisted'), size: 5 });
        assert.ok(await second.getManifestByTag('app', 'kept'));
        await second.createUpload(`u-${randomUUID()}`, 'app');
        assert.equal((await fixture.store.listUploadIds()).length, 1);
      } finally {
        await fixture.cleanup();
      }
    });
  });
}
