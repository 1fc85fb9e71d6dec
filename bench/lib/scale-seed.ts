// Seeding for the scale workload: a registry with many repositories and over a million tags,
// written straight into the metadata database in bulk (through the HTTP API it would take
// hours). The schema is the project's own: the store is opened once with the project's code
// so that its migrations run, then rows go in with plain INSERTs (SQLite: prepared statements
// in transactions of 100,000 tags; PostgreSQL: INSERT ... SELECT FROM unnest() of arrays,
// 20,000 tags a batch). Rows are what pushes would have left: repositories, blob rows and
// links, manifests (artifact type, annotations and all) with their references, tags. Blob bytes are not written here; the
// workload uploads them once over HTTP after the registry starts.
//
// Shape: `repos` repositories with `tagsPerRepo` tags each, all pointing at one of a handful
// of shared images (the manifest is the same bytes in every repository); then a few big
// repositories: with `distinctManifests`, every tag has a manifest of its own (CI builds),
// otherwise the tags share the handful of images. Every manifest has the manifest_stats row a
// push leaves (pushed by `anonymous`, never pulled), except in a big repository marked
// `preTracking`: like manifests pushed before pull tracking (migration 0030_policies), their
// first pull creates the row.
import BetterSqlite3 from 'better-sqlite3';
import { PatternData, sha256 } from './data.js';
import { OCI_CONFIG, OCI_LAYER_GZIP, OCI_MANIFEST } from './http.js';

export interface BigRepo {
  tags: number;
  /** Every tag its own manifest (else they share the handful of images). */
  distinctManifests: boolean;
  /** No manifest_stats rows (manifests pushed before pull tracking existed). */
  preTracking?: boolean;
}

export interface SeedPlan {
  /** Repositories with `tagsPerRepo` tags each. */
  repos: number;
  tagsPerRepo: number;
  bigRepos: BigRepo[];
  /** Distinct images (config + 2 layers) the manifests are built from. */
  images: number;
}

export interface SeedBlob {
  digest: string;
  content: Buffer;
}

export interface SeedImage {
  /** The plain manifest of this image (what the small repositories hold). */
  digest: string;
  manifest: Buffer;
  /** Config, then the layers. */
  blobs: SeedBlob[];
}

export interface SeedResult {
  seconds: number;
  /** Rows inserted, by table. */
  rows: Record<string, number>;
}

/** `scale/app-000042`: the repositories with few tags (sorted like their numbers). */
export function smallRepoName(i: number): string {
  return `scale/app-${String(i).padStart(6, '0')}`;
}

export function smallTagName(j: number): string {
  return `v${j}`;
}

/** `scale/big-0`, `scale/big-1`: the repositories with very many tags. */
export function bigRepoName(b: number): string {
  return `scale/big-${b}`;
}

/** Digits of the number in big repositories' tag names (zero-padded: lexical = numeric order). */
export function bigTagWidth(count: number): number {
  return Math.max(6, String(count - 1).length);
}

/** `build-000042`. */
export function bigTagName(j: number, count: number): string {
  return `build-${String(j).padStart(bigTagWidth(count), '0')}`;
}

function manifestOf(config: SeedBlob, layers: SeedBlob[], annotations?: Record<string, string>): Buffer {
  return Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      config: { mediaType: OCI_CONFIG, digest: config.digest, size: config.content.length },
      layers: layers.map((l) => ({ mediaType: OCI_LAYER_GZIP, digest: l.digest, size: l.content.length })),
      ...(annotations ? { annotations } : {}),
    }),
  );
}

/** The shared images, deterministic (same digests on every run). */
export function seedImages(count: number): SeedImage[] {
  return Array.from({ length: count }, (_, i) => {
    const layers = [1024, 2048].map((size, l) => {
      const content = new PatternData(`scale-image-${i}-layer-${l}`, size).bytes();
      return { digest: sha256(content), content };
    });
    const configBytes = Buffer.from(
      JSON.stringify({ architecture: 'amd64', os: 'linux', config: {}, rootfs: { type: 'layers', diff_ids: layers.map((l) => l.digest) } }),
    );
    const config = { digest: sha256(configBytes), content: configBytes };
    const manifest = manifestOf(config, layers);
    return { digest: sha256(manifest), manifest, blobs: [config, ...layers] };
  });
}

/** The manifest of tag `tag` in a big repository with distinct manifests: image k + an annotation. */
export function distinctManifest(images: SeedImage[], k: number, tag: string): { digest: string; body: Buffer } {
  const [config, ...layers] = images[k]!.blobs;
  const body = manifestOf(config!, layers, { 'org.opencontainers.image.version': tag });
  return { digest: sha256(body), body };
}

interface ManifestRow {
  digest: string;
  /** The image it is built from (its blobs are the references). */
  image: number;
  /** Undefined: the image's plain manifest. */
  body?: Buffer;
}

interface RepoRows {
  repository: string;
  /** Its manifests have manifest_stats rows. */
  tracked: boolean;
  blobs: string[];
  manifests: ManifestRow[] | Iterable<ManifestRow>;
  tags: Iterable<[name: string, digest: string]>;
}

/** Rows of every repository of the plan, in name order, generated lazily. */
function* repoRows(plan: SeedPlan, images: SeedImage[]): Generator<RepoRows> {
  const blobsOf = (ks: number[]) => [...new Set(ks.flatMap((k) => images[k]!.blobs.map((b) => b.digest)))];
  for (let i = 0; i < plan.repos; i++) {
    const k = i % plan.images;
    const digest = images[k]!.digest;
    yield {
      repository: smallRepoName(i),
      tracked: true,
      blobs: blobsOf([k]),
      manifests: [{ digest, image: k }],
      tags: (function* () {
        for (let j = 0; j < plan.tagsPerRepo; j++) yield [smallTagName(j), digest] as [string, string];
      })(),
    };
  }
  const all = Array.from({ length: plan.images }, (_, k) => k);
  for (const [b, big] of plan.bigRepos.entries()) {
    const repository = bigRepoName(b);
    const tracked = !big.preTracking;
    if (big.distinctManifests) {
      // Generated once here and consumed in order: manifests first, then the tags.
      const rows = Array.from({ length: big.tags }, (_, j) => {
        const tag = bigTagName(j, big.tags);
        const k = j % plan.images;
        const m = distinctManifest(images, k, tag);
        return { tag, row: { digest: m.digest, image: k, body: m.body } };
      });
      yield { repository, tracked, blobs: blobsOf(all), manifests: rows.map((r) => r.row), tags: rows.map((r) => [r.tag, r.row.digest] as [string, string]) };
    } else {
      yield {
        repository,
        tracked,
        blobs: blobsOf(all),
        manifests: all.map((k) => ({ digest: images[k]!.digest, image: k })),
        tags: (function* () {
          for (let j = 0; j < big.tags; j++) yield [bigTagName(j, big.tags), images[j % plan.images]!.digest] as [string, string];
        })(),
      };
    }
  }
}

export function plannedTags(plan: SeedPlan): number {
  return plan.repos * plan.tagsPerRepo + plan.bigRepos.reduce((a, b) => a + b.tags, 0);
}

function emptyCounts(): Record<string, number> {
  return { repositories: 0, blobs: 0, repository_blobs: 0, manifests: 0, manifest_references: 0, manifest_stats: 0, tags: 0 };
}

/** SQLite: create the file with the project's migrations, then insert in large transactions. */
export async function seedSqlite(path: string, plan: SeedPlan, log: (m: string) => void): Promise<SeedResult> {
  const { openSqliteStore } = await import('../../src/metadata/sqlite.js');
  const store = await openSqliteStore(path, true);
  await store.close();
  const started = performance.now();
  const images = seedImages(plan.images);
  const now = Date.now();
  const db = new BetterSqlite3(path);
  const rows = emptyCounts();
  try {
    db.pragma('journal_mode = WAL');
    // Foreign keys are checked, as in the registry; a larger page cache for the bulk load.
    db.pragma('foreign_keys = ON');
    db.pragma('cache_size = -131072');
    const insert = {
      repository: db.prepare('insert into repositories (name, created_at) values (?, ?)'),
      blob: db.prepare('insert into blobs (digest, size, created_at) values (?, ?, ?)'),
      link: db.prepare('insert into repository_blobs (repository, digest, created_at) values (?, ?, ?)'),
      manifest: db.prepare(
        'insert into manifests (repository, digest, media_type, artifact_type, subject_digest, annotations, size, content, created_at) values (?, ?, ?, ?, null, ?, ?, ?, ?)',
      ),
      reference: db.prepare("insert into manifest_references (repository, manifest_digest, child_digest, kind) values (?, ?, ?, 'blob')"),
      stats: db.prepare("insert into manifest_stats (repository, digest, pushed_at, pushed_by, last_pulled_at, pull_count) values (?, ?, ?, 'anonymous', null, 0)"),
      tag: db.prepare('insert into tags (repository, name, manifest_digest, updated_at) values (?, ?, ?, ?)'),
    };
    const blobSizes = new Map(images.flatMap((im) => im.blobs.map((b) => [b.digest, b.content.length] as const)));
    db.transaction(() => {
      for (const [digest, size] of blobSizes) insert.blob.run(digest, size, now);
    })();
    rows['blobs'] = blobSizes.size;
    // A commit every 100,000 rows or so: bounded WAL growth between checkpoints.
    const BATCH = 100_000;
    let pending = 0;
    let lastLog = performance.now();
    const count = (table: string, n = 1) => {
      rows[table]! += n;
      pending += n;
      if (pending >= BATCH) {
        db.exec('commit');
        db.exec('begin');
        pending = 0;
        if (performance.now() - lastLog > 10_000) {
          log(`  sqlite seed: ${rows['tags']} tags, ${rows['manifests']} manifests, ${rows['repositories']} repositories so far`);
          lastLog = performance.now();
        }
      }
    };
    db.exec('begin');
    try {
      for (const repo of repoRows(plan, images)) {
        insert.repository.run(repo.repository, now);
        count('repositories');
        for (const digest of repo.blobs) insert.link.run(repo.repository, digest, now);
        count('repository_blobs', repo.blobs.length);
        for (const m of repo.manifests) {
          const image = images[m.image]!;
          const body = m.body ?? image.manifest;
          const annotations = m.body ? (JSON.parse(m.body.toString('utf8')) as { annotations?: object }).annotations : undefined;
          insert.manifest.run(repo.repository, m.digest, OCI_MANIFEST, OCI_CONFIG, annotations ? JSON.stringify(annotations) : null, body.length, body, now);
          for (const blob of image.blobs) insert.reference.run(repo.repository, m.digest, blob.digest);
          count('manifest_references', image.blobs.length);
          count('manifests');
          if (repo.tracked) {
            insert.stats.run(repo.repository, m.digest, now);
            count('manifest_stats');
          }
        }
        for (const [name, digest] of repo.tags) {
          insert.tag.run(repo.repository, name, digest, now);
          count('tags');
        }
      }
      db.exec('commit');
    } catch (err) {
      if (db.inTransaction) db.exec('rollback');
      throw err;
    }
    db.pragma('wal_checkpoint(TRUNCATE)');
  } finally {
    db.close();
  }
  return { seconds: (performance.now() - started) / 1000, rows };
}

/** PostgreSQL: migrate with the project's code, then INSERT ... SELECT FROM unnest() in batches. */
export async function seedPostgres(url: string, plan: SeedPlan, log: (m: string) => void): Promise<SeedResult> {
  const { openPostgresStore } = await import('../../src/metadata/postgres.js');
  const store = await openPostgresStore({ url, poolSize: 1, migrate: true });
  await store.close();
  const { default: pg } = await import('pg');
  const started = performance.now();
  const images = seedImages(plan.images);
  const now = Date.now();
  const client = new pg.Client({ connectionString: url, query_timeout: 300_000 });
  await client.connect();
  const rows = emptyCounts();
  try {
    // The shared images' manifests and blobs travel once per statement; rows refer to them by
    // index (1-based, as WITH ORDINALITY counts).
    const imageBodies = images.map((im) => im.manifest);
    const blobImage = images.flatMap((im, k) => im.blobs.map(() => k + 1));
    const blobDigest = images.flatMap((im) => im.blobs.map((b) => b.digest));
    const blobSizes = new Map(images.flatMap((im) => im.blobs.map((b) => [b.digest, b.content.length] as const)));
    await client.query('begin');
    await client.query('insert into blobs (digest, size, created_at) select d, s, $3 from unnest($1::text[], $2::bigint[]) as u(d, s)', [
      [...blobSizes.keys()],
      [...blobSizes.values()],
      now,
    ]);
    rows['blobs'] = blobSizes.size;
    const fresh = () => ({
      repos: [] as string[],
      links: [[], []] as [string[], string[]],
      // repository, digest, image (1-based), own body or null (the image's manifest), annotations
      manifests: [[], [], [], [], []] as [string[], string[], number[], (Buffer | null)[], (string | null)[]],
      stats: [[], []] as [string[], string[]],
      tags: [[], [], []] as [string[], string[], string[]],
    });
    let batch = fresh();
    const flush = async () => {
      const b = batch;
      batch = fresh();
      // Parents first: repositories, links, manifests and their references, then tags.
      if (b.repos.length) {
        await client.query('insert into repositories (name, created_at) select n, $2 from unnest($1::text[]) as u(n)', [b.repos, now]);
        rows['repositories']! += b.repos.length;
      }
      if (b.links[0].length) {
        await client.query('insert into repository_blobs (repository, digest, created_at) select r, d, $3 from unnest($1::text[], $2::text[]) as u(r, d)', [...b.links, now]);
        rows['repository_blobs']! += b.links[0].length;
      }
      if (b.manifests[0].length) {
        await client.query(
          `insert into manifests (repository, digest, media_type, artifact_type, subject_digest, annotations, size, content, created_at)
           select u.r, u.d, $7, $9, null, u.a, length(coalesce(u.c, i.c)), coalesce(u.c, i.c), $8
           from unnest($1::text[], $2::text[], $3::int[], $4::bytea[], $5::text[]) as u(r, d, k, c, a)
           join unnest($6::bytea[]) with ordinality as i(c, k) on i.k = u.k`,
          [...b.manifests, imageBodies, OCI_MANIFEST, now, OCI_CONFIG],
        );
        const refs = await client.query(
          `insert into manifest_references (repository, manifest_digest, child_digest, kind)
           select u.r, u.d, x.child, 'blob'
           from unnest($1::text[], $2::text[], $3::int[]) as u(r, d, k) join unnest($4::int[], $5::text[]) as x(k, child) on x.k = u.k`,
          [b.manifests[0], b.manifests[1], b.manifests[2], blobImage, blobDigest],
        );
        rows['manifests']! += b.manifests[0].length;
        rows['manifest_references']! += refs.rowCount ?? 0;
      }
      if (b.stats[0].length) {
        await client.query(
          "insert into manifest_stats (repository, digest, pushed_at, pushed_by, last_pulled_at, pull_count) select r, d, $3, 'anonymous', null, 0 from unnest($1::text[], $2::text[]) as u(r, d)",
          [...b.stats, now],
        );
        rows['manifest_stats']! += b.stats[0].length;
      }
      if (b.tags[0].length) {
        await client.query(
          'insert into tags (repository, name, manifest_digest, updated_at) select r, n, d, $4 from unnest($1::text[], $2::text[], $3::text[]) as u(r, n, d)',
          [...b.tags, now],
        );
        rows['tags']! += b.tags[0].length;
      }
    };
    const BATCH = 20_000;
    let lastLog = performance.now();
    const maybeFlush = async () => {
      if (batch.tags[0].length < BATCH && batch.manifests[0].length < BATCH && batch.repos.length < BATCH) return;
      await flush();
      if (performance.now() - lastLog > 10_000) {
        log(`  postgres seed: ${rows['tags']} tags, ${rows['manifests']} manifests, ${rows['repositories']} repositories so far`);
        lastLog = performance.now();
      }
    };
    for (const repo of repoRows(plan, images)) {
      batch.repos.push(repo.repository);
      for (const digest of repo.blobs) {
        batch.links[0].push(repo.repository);
        batch.links[1].push(digest);
      }
      for (const m of repo.manifests) {
        batch.manifests[0].push(repo.repository);
        batch.manifests[1].push(m.digest);
        batch.manifests[2].push(m.image + 1);
        batch.manifests[3].push(m.body ?? null);
        const annotations = m.body ? (JSON.parse(m.body.toString('utf8')) as { annotations?: object }).annotations : undefined;
        batch.manifests[4].push(annotations ? JSON.stringify(annotations) : null);
        if (repo.tracked) {
          batch.stats[0].push(repo.repository);
          batch.stats[1].push(m.digest);
        }
        await maybeFlush();
      }
      for (const [name, digest] of repo.tags) {
        batch.tags[0].push(repo.repository);
        batch.tags[1].push(name);
        batch.tags[2].push(digest);
        await maybeFlush();
      }
    }
    await flush();
    await client.query('commit');
    // What autovacuum would get to on its own after a bulk load, done now so that every run
    // measures the same state: planner statistics and the visibility map.
    log('  postgres seed: vacuum analyze');
    for (const table of ['repositories', 'blobs', 'repository_blobs', 'manifests', 'manifest_references', 'manifest_stats', 'tags']) await client.query(`vacuum (analyze) ${table}`);
  } catch (err) {
    await client.query('rollback').catch(() => undefined);
    throw err;
  } finally {
    await client.end();
  }
  return { seconds: (performance.now() - started) / 1000, rows };
}
