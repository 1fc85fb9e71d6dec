// Scale: does the registry stay fast with 100,000 repositories and over a million tags? For
// each metadata backend (SQLite, PostgreSQL) a database is seeded in bulk (bench/lib/
// scale-seed.ts: straight into the tables, since a million pushes over HTTP would take
// hours), a registry is started on it, and over HTTP:
//   - tag list and catalog pages (n=100): first page, a page deep in the middle (last=), and
//     pages at random positions; one connection, one request after the other; median, p99;
//   - every page of the biggest repository's tags and of the whole catalog, followed by
//     `last`, counted against what was seeded;
//   - manifest GET by tag with wrk at 16 connections: the seeded registry (one tag; a random
//     small repository and tag per request; a random tag of the biggest repository, each
//     with its own manifest and, like manifests pushed before pull tracking, no manifest_stats
//     row until its first pull) against an empty one (one repository, same image, same name)
//     on the same backend, alternating, median of the rounds. Pulls are counted as in
//     production, so these runs include the registry's batched pull-count writes.
import { mkdirSync, rmSync, statSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomBytes } from 'node:crypto';
import { Client, expectStatus, pushSmallBlob, startUpload, OCI_MANIFEST } from '../lib/http.js';
import { run, type RegistryProcess } from '../lib/proc.js';
import { fmt, median, serverNotes, type BenchContext, type Row } from '../lib/context.js';
import { ACCEPT, runWrk } from './manifest-wrk.js';
import {
  bigRepoName,
  bigTagName,
  bigTagWidth,
  distinctManifest,
  plannedTags,
  seedImages,
  seedPostgres,
  seedSqlite,
  smallRepoName,
  smallTagName,
  type SeedImage,
  type SeedPlan,
  type SeedResult,
} from '../lib/scale-seed.js';

/** This file runs from dist/bench/workloads. */
const PROJECT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');

/** A listing page "in milliseconds": flagged above these. */
const MAX_MEDIAN_MS = 10;
const MAX_P99_MS = 50;
/** The issue's bound: seeded manifest GET rate at least this fraction of the empty one's. */
const MIN_RATE_RATIO = 0.8;
const PAGE = 100;
const IMAGES = 4;

type Backend = 'sqlite' | 'postgres';

function percentile(sorted: number[], p: number): number {
  return sorted.length ? sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]! : NaN;
}

/** Deterministic pseudo-random integers (xorshift32), so every run asks for the same pages. */
function rng(seed: number): (n: number) => number {
  let x = seed >>> 0 || 1;
  return (n) => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x % n;
  };
}

interface Latency {
  p50: number;
  p99: number;
  max: number;
  requests: number;
}

/**
 * `requests` GETs one after the other (after 20 untimed), each checked: HTTP 200 and, for a
 * full page, exactly `expect` items. Client-side latency, request sent to body received.
 */
async function timeRequests(client: Client, pathFor: (i: number) => string, requests: number, check: (body: Buffer, path: string) => void): Promise<Latency> {
  const times: number[] = [];
  for (let i = 0; i < requests + 20; i++) {
    const path = pathFor(i);
    const t0 = performance.now();
    const res = await client.request('GET', path, { timeoutMs: 30_000 });
    const ms = performance.now() - t0;
    expectStatus(res, 200, `GET ${path}`);
    check(res.body, path);
    if (i >= 20) times.push(ms);
  }
  times.sort((a, b) => a - b);
  return { p50: percentile(times, 50), p99: percentile(times, 99), max: times[times.length - 1]!, requests: times.length };
}

function items(body: Buffer, key: 'tags' | 'repositories'): string[] {
  const parsed = JSON.parse(body.toString('utf8')) as Record<string, unknown>;
  const list = parsed[key];
  if (!Array.isArray(list)) throw new Error(`response has no ${key} array: ${body.toString('utf8').slice(0, 200)}`);
  return list as string[];
}

function fullPage(key: 'tags' | 'repositories') {
  return (body: Buffer, path: string) => {
    const got = items(body, key).length;
    if (got !== PAGE) throw new Error(`GET ${path}: ${got} ${key}, expected a full page of ${PAGE}`);
  };
}

function latencyRow(label: string, l: Latency, what: string): Row {
  const slow = l.p50 > MAX_MEDIAN_MS || l.p99 > MAX_P99_MS;
  return {
    workload: label,
    value: l.p50,
    unit: 'ms',
    notes: `median; p99 ${fmt(l.p99)} ms, max ${fmt(l.max)} ms, ${l.requests} requests, 1 connection; ${what}${slow ? `; SLOW (target: median <= ${MAX_MEDIAN_MS} ms, p99 <= ${MAX_P99_MS} ms)` : ''}`,
    ...(slow ? { flagged: true } : {}),
  };
}

/** Follow `last` through every page; returns the count and the time. */
async function walk(client: Client, base: string, key: 'tags' | 'repositories', n: number, maxPages: number): Promise<{ count: number; pages: number; seconds: number }> {
  const started = performance.now();
  let last: string | undefined;
  let count = 0;
  let pages = 0;
  let previous = '';
  for (; pages < maxPages; ) {
    const path = `${base}?n=${n}${last !== undefined ? `&last=${encodeURIComponent(last)}` : ''}`;
    const res = await client.request('GET', path, { timeoutMs: 30_000 });
    expectStatus(res, 200, `GET ${path}`);
    pages++;
    const page = items(res.body, key);
    for (const item of page) {
      if (item <= previous) throw new Error(`GET ${path}: ${item} does not sort after ${previous}`);
      previous = item;
    }
    count += page.length;
    if (!res.headers.link) break;
    last = page[page.length - 1];
  }
  if (pages === maxPages) throw new Error(`${base}: still more pages after ${maxPages}`);
  return { count, pages, seconds: (performance.now() - started) / 1000 };
}

/** Push a seeded image's blobs and manifest over HTTP, under `repo:tag`. */
async function pushSeedImage(client: Client, repo: string, tag: string, image: SeedImage): Promise<void> {
  for (const blob of image.blobs) await pushSmallBlob(client, repo, blob.content);
  const res = await client.request('PUT', `/v2/${repo}/manifests/${tag}`, {
    headers: { 'Content-Type': OCI_MANIFEST, 'Content-Length': image.manifest.length },
    body: image.manifest,
  });
  expectStatus(res, 201, `PUT manifest ${repo}:${tag}`);
}

/**
 * The seeded database has every blob row and link but no blob bytes: upload each blob once
 * (POST + PUT ?digest=, without the HEAD that would find the link and skip the upload).
 */
async function uploadSeedBlobs(client: Client, repo: string, images: SeedImage[]): Promise<void> {
  for (const blob of images.flatMap((im) => im.blobs)) {
    const location = await startUpload(client, repo);
    const res = await client.request('PUT', `${location}${location.includes('?') ? '&' : '?'}digest=${blob.digest}`, {
      headers: { 'Content-Type': 'application/octet-stream', 'Content-Length': blob.content.length },
      body: blob.content,
    });
    expectStatus(res, 201, `PUT blob ${blob.digest} in ${repo}`);
  }
}

interface PostgresServer {
  adminUrl: string;
  create(name: string): Promise<string>;
  drop(name: string): Promise<void>;
  size(name: string): Promise<number>;
}

async function postgresServer(ctx: BenchContext): Promise<PostgresServer> {
  let adminUrl = ctx.postgresUrl;
  if (!adminUrl) {
    ctx.log('scale: starting PostgreSQL (scripts/services/start-postgres.sh)');
    const r = await run('bash', [join(PROJECT, 'scripts', 'services', 'start-postgres.sh')], { timeoutMs: 900_000 });
    if (r.code !== 0) throw new Error(`start-postgres.sh exited with ${r.code}: ${r.stderr.slice(-500)}`);
    adminUrl = r.stdout.trim().split('\n').pop()!;
  }
  const { default: pg } = await import('pg');
  const admin = async <T>(fn: (c: InstanceType<typeof pg.Client>) => Promise<T>): Promise<T> => {
    const c = new pg.Client({ connectionString: adminUrl, query_timeout: 120_000 });
    await c.connect();
    try {
      return await fn(c);
    } finally {
      await c.end();
    }
  };
  const urlOf = (name: string) => {
    const url = new URL(adminUrl);
    url.pathname = `/${name}`;
    return url.toString();
  };
  return {
    adminUrl,
    async create(name) {
      await admin((c) => c.query(`create database ${name}`));
      return urlOf(name);
    },
    async drop(name) {
      await admin((c) => c.query(`drop database if exists ${name} with (force)`));
    },
    async size(name) {
      return admin(async (c) => Number((await c.query<{ size: string }>('select pg_database_size($1) as size', [name])).rows[0]!.size));
    },
  };
}

export async function scale(ctx: BenchContext): Promise<Row[]> {
  const rows: Row[] = [];
  let postgres: PostgresServer | undefined;
  for (const backend of ctx.settings.scaleBackends) {
    ctx.log(`scale: ${backend}`);
    try {
      if (backend === 'postgres') postgres ??= await postgresServer(ctx);
      rows.push(...(await scaleOn(ctx, backend, postgres)));
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      ctx.log(`scale ${backend} FAILED: ${err instanceof Error ? err.stack : message}`);
      rows.push({ workload: `scale ${backend}`, value: null, unit: '', notes: `FAILED: ${message.split('\n')[0]!.slice(0, 300)}`, flagged: true, failed: true });
    }
  }
  return rows;
}

async function scaleOn(ctx: BenchContext, backend: Backend, postgres: PostgresServer | undefined): Promise<Row[]> {
  const s = ctx.settings;
  const plan: SeedPlan = { repos: s.scaleRepos, tagsPerRepo: s.scaleTagsPerRepo, bigRepos: s.scaleBigRepos, images: IMAGES };
  const images = seedImages(IMAGES);
  const label = (what: string) => `scale ${backend}: ${what}`;
  const cleanups: (() => Promise<void>)[] = [];
  const clients: Client[] = [];
  const out: Row[] = [];
  try {
    // 1. Seed the database, then start a registry on it, and an empty one on the same backend.
    let seed: SeedResult;
    let dbBytes: number;
    let seededOptions: { env?: Record<string, string>; dataDir?: string };
    let emptyOptions: { env?: Record<string, string> } = {};
    const seededDir = join(ctx.tmp, `scale-${backend}-seeded`);
    mkdirSync(seededDir, { recursive: true });
    ctx.log(`scale ${backend}: seeding ${plan.repos} repositories x ${plan.tagsPerRepo} tags + ${plan.bigRepos.map((b) => b.tags).join(' + ')} tags (${plannedTags(plan)} tags) straight into the database`);
    if (backend === 'sqlite') {
      // The registry's default SQLite file: registry.db in the storage root (its data dir).
      const file = join(seededDir, 'registry.db');
      seed = await seedSqlite(file, plan, ctx.log);
      dbBytes = statSync(file).size;
      seededOptions = { dataDir: seededDir };
    } else {
      const suffix = randomBytes(4).toString('hex');
      const seededDb = `bench_scale_${suffix}`;
      const emptyDb = `bench_scale_empty_${suffix}`;
      const seededUrl = await postgres!.create(seededDb);
      cleanups.push(async () => {
        if (ctx.keep) ctx.log(`scale: kept PostgreSQL database ${seededDb}`);
        else await postgres!.drop(seededDb);
      });
      const emptyUrl = await postgres!.create(emptyDb);
      cleanups.push(async () => {
        if (!ctx.keep) await postgres!.drop(emptyDb);
      });
      seed = await seedPostgres(seededUrl, plan, ctx.log);
      dbBytes = await postgres!.size(seededDb);
      const env = (url: string) => ({ REGISTRY_METADATA_DRIVER: 'postgres', REGISTRY_METADATA_POSTGRES_URL: url });
      seededOptions = { dataDir: seededDir, env: env(seededUrl) };
      emptyOptions = { env: env(emptyUrl) };
    }
    const rowCounts = Object.entries(seed.rows).map(([t, n]) => `${t} ${n}`).join(', ');
    ctx.log(`scale ${backend}: seeded in ${fmt(seed.seconds)} s: ${rowCounts}`);
    out.push({
      workload: label(`seed ${seed.rows['tags']} tags in ${seed.rows['repositories']} repositories`),
      value: seed.seconds,
      unit: 's',
      notes: `inserted straight into the database in bulk (${backend === 'sqlite' ? 'prepared INSERTs, a commit per 100k rows' : 'INSERT ... SELECT FROM unnest(), 20k rows each, then VACUUM ANALYZE'}), not through the API, after the project's migrations; rows: ${rowCounts}; database ${fmt(dbBytes / 1e6)} MB`,
    });

    const seeded = await ctx.freshRegistry(`scale-${backend}-seeded`, seededOptions);
    cleanups.push(() => seeded.release());
    const empty = await ctx.freshRegistry(`scale-${backend}-empty`, emptyOptions);
    cleanups.push(() => empty.release());
    ctx.log(`scale ${backend}: seeded registry pid ${seeded.registry.pid} at ${seeded.registry.url}, empty one pid ${empty.registry.pid} at ${empty.registry.url}`);
    const client = new Client(seeded.registry.url, 4);
    clients.push(client);
    const emptyClient = new Client(empty.registry.url, 4);
    clients.push(emptyClient);

    // The manifest both wrk comparisons fetch: same repository name, tag and image on both.
    const fixedIndex = Math.floor(plan.repos / 2) + 7;
    const fixedRepo = smallRepoName(fixedIndex);
    const fixedTag = smallTagName(3);
    const fixedImage = images[fixedIndex % IMAGES]!;
    await pushSeedImage(emptyClient, fixedRepo, fixedTag, fixedImage);
    await uploadSeedBlobs(client, smallRepoName(0), images);

    // 2. Sanity: a seeded manifest and one of its blobs come back whole.
    {
      const check = await client.request('GET', `/v2/${fixedRepo}/manifests/${fixedTag}`, { headers: { Accept: ACCEPT } });
      expectStatus(check, 200, 'seeded manifest GET');
      if (check.headers['docker-content-digest'] !== fixedImage.digest || !check.body.equals(fixedImage.manifest)) throw new Error('seeded manifest GET: wrong manifest');
      const other = smallRepoName(plan.repos - 1);
      const layer = images[(plan.repos - 1) % IMAGES]!.blobs[1]!;
      const blob = await client.request('GET', `/v2/${other}/blobs/${layer.digest}`);
      expectStatus(blob, 200, `blob GET from ${other}`);
      if (!blob.body.equals(layer.content)) throw new Error('seeded blob GET: wrong bytes');
      if (plan.bigRepos[0]?.distinctManifests) {
        const count = plan.bigRepos[0].tags;
        const tag = bigTagName(count - 1, count);
        const expected = distinctManifest(images, (count - 1) % IMAGES, tag);
        const res = await client.request('GET', `/v2/${bigRepoName(0)}/manifests/${tag}`, { headers: { Accept: ACCEPT } });
        expectStatus(res, 200, `seeded manifest GET ${bigRepoName(0)}:${tag}`);
        if (res.headers['docker-content-digest'] !== expected.digest || !res.body.equals(expected.body)) throw new Error(`seeded manifest GET ${bigRepoName(0)}:${tag}: wrong manifest`);
      }
      const emptyCheck = await emptyClient.request('GET', `/v2/${fixedRepo}/manifests/${fixedTag}`, { headers: { Accept: ACCEPT } });
      expectStatus(emptyCheck, 200, 'empty registry manifest GET');
      if (!emptyCheck.body.equals(fixedImage.manifest)) throw new Error('empty registry manifest GET: wrong manifest');
    }

    // 3. Listing pages, one connection, one request after the other.
    const n = s.scaleListRequests;
    const big = bigRepoName(0);
    const bigCount = plan.bigRepos[0]!.tags;
    const pick = rng(0x5ca1e);
    const tagPath = (last?: string) => `/v2/${big}/tags/list?n=${PAGE}${last !== undefined ? `&last=${last}` : ''}`;
    const catalogPath = (last?: string) => `/v2/_catalog?n=${PAGE}${last !== undefined ? `&last=${encodeURIComponent(last)}` : ''}`;
    const middleTag = bigTagName(Math.floor(bigCount / 2), bigCount);
    const middleRepo = smallRepoName(Math.floor(plan.repos / 2));
    const listings: [string, (i: number) => string, 'tags' | 'repositories', string][] = [
      [`tags/list n=${PAGE}, first page (${bigCount} tags)`, () => tagPath(), 'tags', `GET ${tagPath()}`],
      [`tags/list n=${PAGE}, last= mid-repo`, () => tagPath(middleTag), 'tags', `GET ${tagPath(middleTag)}`],
      [
        `tags/list n=${PAGE}, last= random`,
        () => tagPath(bigTagName(pick(bigCount - PAGE), bigCount)),
        'tags',
        `last= a random tag of ${big} (followed by at least ${PAGE})`,
      ],
      [`_catalog n=${PAGE}, first page`, () => catalogPath(), 'repositories', `GET ${catalogPath()}`],
      [`_catalog n=${PAGE}, last= mid-catalog`, () => catalogPath(middleRepo), 'repositories', `GET ${catalogPath(middleRepo)}`],
      [`_catalog n=${PAGE}, last= random`, () => catalogPath(smallRepoName(pick(plan.repos - PAGE))), 'repositories', 'last= a random repository'],
    ];
    for (const [what, pathFor, key, notes] of listings) {
      ctx.log(`scale ${backend}: ${what}`);
      out.push(latencyRow(label(what), await timeRequests(client, pathFor, n, fullPage(key)), notes));
    }
    {
      const small = (i: number) => `/v2/${smallRepoName(pick(plan.repos))}/tags/list${i % 2 ? `?n=${PAGE}` : ''}`;
      const l = await timeRequests(client, small, n, (body, path) => {
        if (items(body, 'tags').length !== plan.tagsPerRepo) throw new Error(`GET ${path}: expected ${plan.tagsPerRepo} tags`);
      });
      out.push(latencyRow(label(`tags/list of a ${plan.tagsPerRepo}-tag repository`), l, 'a random repository each time'));
    }

    // 4. Every page, following `last`, counted against the seed.
    {
      ctx.log(`scale ${backend}: walking every tag page of ${big} and every catalog page (n=1000)`);
      const tags = await walk(client, `/v2/${big}/tags/list`, 'tags', 1000, Math.ceil(bigCount / 1000) + 2);
      if (tags.count !== bigCount) throw new Error(`${big}: listed ${tags.count} tags, seeded ${bigCount}`);
      out.push({
        workload: label(`all tags of ${big}, n=1000`),
        value: tags.seconds,
        unit: 's',
        notes: `${tags.pages} pages following last=, ${tags.count} tags (all of them, in order); ${fmt((tags.seconds * 1000) / tags.pages)} ms a page`,
      });
      const repos = plan.repos + plan.bigRepos.length;
      const catalog = await walk(client, '/v2/_catalog', 'repositories', 1000, Math.ceil(repos / 1000) + 2);
      if (catalog.count !== repos) throw new Error(`catalog: listed ${catalog.count} repositories, seeded ${repos}`);
      out.push({
        workload: label('whole catalog, n=1000'),
        value: catalog.seconds,
        unit: 's',
        notes: `${catalog.pages} pages following last=, ${catalog.count} repositories (all of them, in order); ${fmt((catalog.seconds * 1000) / catalog.pages)} ms a page`,
      });
    }

    // 5. Manifest GET by tag at 16 connections: empty vs seeded, alternating rounds.
    const headersScript = join(ctx.tmp, 'scale-manifest-get.lua');
    await writeFile(headersScript, `wrk.method = "GET"\nwrk.headers["Accept"] = "${ACCEPT}"\n`);
    // A path per request from Lua; the formats must give the names scale-seed.ts gives.
    const randomScript = async (file: string, pathExpression: string) => {
      const path = join(ctx.tmp, file);
      const lua = [`wrk.method = "GET"`, `wrk.headers["Accept"] = "${ACCEPT}"`, `math.randomseed(12345)`, `request = function()`, `  return wrk.format(nil, ${pathExpression})`, `end`, ''];
      await writeFile(path, lua.join('\n'));
      return path;
    };
    const randomSmall = await randomScript(
      `scale-manifest-random-small-${backend}.lua`,
      `string.format("/v2/scale/app-%06d/manifests/v%d", math.random(0, ${plan.repos - 1}), math.random(0, ${plan.tagsPerRepo - 1}))`,
    );
    const randomBig = await randomScript(
      `scale-manifest-random-big-${backend}.lua`,
      `string.format("/v2/${big}/manifests/build-%0${bigTagWidth(bigCount)}d", math.random(0, ${bigCount - 1}))`,
    );
    if (smallRepoName(plan.repos - 1) !== `scale/app-${String(plan.repos - 1).padStart(6, '0')}` || smallTagName(1) !== 'v1') throw new Error('wrk script and seed disagree on names');
    if (bigTagName(bigCount - 1, bigCount) !== `build-${String(bigCount - 1).padStart(bigTagWidth(bigCount), '0')}`) throw new Error('wrk script and seed disagree on tag names');
    const fixedPath = `/v2/${fixedRepo}/manifests/${fixedTag}`;
    const runs: { name: string; registry: RegistryProcess; script: string; url: string }[] = [
      { name: 'empty registry (1 repository), one tag', registry: empty.registry, script: headersScript, url: `${empty.registry.url}${fixedPath}` },
      { name: 'seeded, one tag', registry: seeded.registry, script: headersScript, url: `${seeded.registry.url}${fixedPath}` },
      { name: `seeded, random repository (of ${plan.repos}) + tag`, registry: seeded.registry, script: randomSmall, url: `${seeded.registry.url}/` },
      {
        name: `seeded, random tag of ${big} (${bigCount} tags${plan.bigRepos[0]!.distinctManifests ? ', as many manifests' : ''}${plan.bigRepos[0]!.preTracking ? ', untracked before' : ''})`,
        registry: seeded.registry,
        script: randomBig,
        url: `${seeded.registry.url}/`,
      },
    ];
    const seconds = s.manifestSeconds;
    // At least 2 s each: the empty registry has served nothing yet, the seeded one thousands
    // of listings (JIT, connection pool).
    const warmup = Math.max(2, s.manifestWarmupSeconds);
    for (const r of runs) {
      ctx.log(`scale ${backend}: manifest GET warm-up, ${r.name}, ${warmup} s`);
      await runWrk(r.registry, r.script, r.url, 16, warmup);
    }
    const results = runs.map(() => [] as Awaited<ReturnType<typeof runWrk>>[]);
    for (let round = 0; round < s.scaleManifestRounds; round++) {
      for (const [i, r] of runs.entries()) {
        ctx.log(`scale ${backend}: manifest GET (wrk, 16 conn, ${seconds} s), ${r.name}, round ${round + 1}/${s.scaleManifestRounds}`);
        results[i]!.push(await runWrk(r.registry, r.script, r.url, 16, seconds));
      }
    }
    const summary = results.map((list) => {
      const rates = list.map((x) => x.r.requestsPerSecond);
      const mid = [...list].sort((a, b) => a.r.requestsPerSecond - b.r.requestsPerSecond)[Math.floor(list.length / 2)]!;
      const problems = list.reduce((a, x) => a + x.r.non2xx + x.r.errors, 0);
      return { rate: median(rates), rates, mid, problems };
    });
    const emptyRate = summary[0]!.rate;
    for (const [i, r] of runs.entries()) {
      const x = summary[i]!;
      const ratio = x.rate / emptyRate;
      const low = i > 0 && ratio < MIN_RATE_RATIO;
      out.push({
        workload: label(`manifest GET 16 conn, ${r.name}`),
        value: x.rate,
        unit: 'req/s',
        notes: [
          `wrk, median of ${x.rates.length} alternating runs (${x.rates.map((v) => fmt(v)).join(', ')})`,
          `p50 ${fmt(x.mid.r.latencyMs['p50'] ?? NaN)} ms, p99 ${fmt(x.mid.r.latencyMs['p99'] ?? NaN)} ms`,
          serverNotes(x.mid.m),
          x.problems ? `${x.problems} non-2xx or socket errors` : '',
        ]
          .filter(Boolean)
          .join('; '),
        ...(x.problems ? { flagged: true } : {}),
      });
      if (i > 0) {
        out.push({
          workload: label(`manifest GET rate, ${r.name} / empty`),
          value: ratio,
          unit: 'x',
          notes: `${fmt(x.rate)} / ${fmt(emptyRate)} req/s; target >= ${MIN_RATE_RATIO} (at most ${Math.round((1 - MIN_RATE_RATIO) * 100)}% slower)${low ? ': BELOW' : ': met'}`,
          ...(low ? { flagged: true } : {}),
        });
      }
    }
    return out;
  } finally {
    for (const c of clients) c.close();
    for (const cleanup of cleanups.reverse()) {
      await cleanup().catch((err: unknown) => ctx.log(`scale ${backend}: cleanup failed: ${err instanceof Error ? err.message : String(err)}`));
    }
    if (!ctx.keep) rmSync(join(ctx.tmp, `scale-${backend}-seeded`), { recursive: true, force: true });
  }
}
