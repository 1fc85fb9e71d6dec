// `node dist/bench/gc-listing.js [--blobs 20000] [--backend embedded|scaleout]`: what garbage
// collection's listing of every stored blob (looking for bytes a crash left unrecorded) costs.
// Seeds a throwaway store with `--blobs` small blobs, each recorded and linked as a push leaves
// it (bytes written straight into the store, rows inserted in bulk), then times the listing on
// its own and whole collections, listing every run and as scheduled runs do by default
// (gc.unrecordedScanIntervalMs), counting the LIST requests on S3. `scaleout` uses the servers
// of scripts/services (TEST_POSTGRES_URL and S3_* as in /tmp/dev-services.env): a database and
// a key prefix of its own, both removed at the end.
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { DeleteObjectsCommand, ListObjectsV2Command, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import type { Kysely } from 'kysely';
import pg from 'pg';
import { loadConfig } from '../src/config/load.js';
import type { Config } from '../src/config/schema.js';
import { openSqlStore } from '../src/metadata/open.js';
import type { Database } from '../src/metadata/schema.js';
import type { SqlMetadataStore } from '../src/metadata/sql-store.js';
import { GarbageCollector, type GcOptions } from '../src/registry/gc.js';
import type { BlobStore } from '../src/storage/blob-store.js';
import { openBlobStore } from '../src/storage/open.js';

const { values: args } = parseArgs({
  options: {
    blobs: { type: 'string', default: '20000' },
    backend: { type: 'string', default: 'embedded' },
    runs: { type: 'string', default: '3' },
  },
});
const BLOBS = Math.min(Number(args.blobs), 1_000_000);
const RUNS = Math.min(Number(args.runs), 10);
const SCALE_OUT = args.backend === 'scaleout';
const CONCURRENCY = 32;
const REPOSITORY = 'bench/gc-listing';
const HOUR = 3_600_000;

function log(message: string): void {
  process.stderr.write(`[gc-listing ${new Date().toISOString().slice(11, 19)}] ${message}\n`);
}

/** Run `fn` for 0..count-1, `CONCURRENCY` at a time. */
async function forEachBounded(count: number, fn: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < count) await fn(next++);
    }),
  );
}

function env(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`--backend scaleout needs ${name} (source /tmp/dev-services.env or start scripts/services)`);
  return value;
}

interface Backend {
  config: Config;
  cleanUp(): Promise<void>;
}

async function embedded(dir: string): Promise<Backend> {
  return { config: loadConfig({ env: {}, overrides: { storage: { filesystem: { root: dir } } } }), cleanUp: async () => undefined };
}

async function scaleOut(dir: string): Promise<Backend> {
  const name = `bench_gc_${randomBytes(4).toString('hex')}`;
  const admin = async (query: string) => {
    const client = new pg.Client({ connectionString: env('TEST_POSTGRES_URL') });
    await client.connect();
    try {
      await client.query(query);
    } finally {
      await client.end();
    }
  };
  await admin(`create database ${name}`);
  const url = new URL(env('TEST_POSTGRES_URL'));
  url.pathname = `/${name}`;
  const config = loadConfig({
    env: {},
    overrides: {
      storage: {
        filesystem: { root: dir },
        driver: 's3',
        s3: { endpoint: env('S3_ENDPOINT'), region: process.env['S3_REGION'] ?? 'us-east-1', bucket: env('S3_BUCKET'), accessKeyId: env('S3_ACCESS_KEY_ID'), secretAccessKey: env('S3_SECRET_ACCESS_KEY'), prefix: `${name}/` },
      },
      metadata: { driver: 'postgres', postgres: { url: url.toString(), poolSize: 5 } },
    },
  });
  return { config, cleanUp: () => admin(`drop database ${name}`) };
}

/** Every object under the prefix, deleted a page (1000 keys) at a time. */
async function emptyPrefix(client: S3Client, bucket: string, prefix: string): Promise<void> {
  for (let page = 0; page < 10_000; page++) {
    const out = await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix }));
    const keys = (out.Contents ?? []).map((o) => ({ Key: o.Key! }));
    if (keys.length === 0) return;
    await client.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: keys, Quiet: true } }));
  }
}

/** Store the bytes of `BLOBS` small blobs; their digests. */
async function seedBytes(config: Config, blobs: BlobStore): Promise<string[]> {
  const salt = randomBytes(8).toString('hex');
  const contents = Array.from({ length: BLOBS }, (_, i) => Buffer.from(`gc-listing ${salt} ${i}\n`));
  const hexes = contents.map((c) => createHash('sha256').update(c).digest('hex'));
  if (config.storage.driver === 's3') {
    const client = (blobs as unknown as { client: S3Client }).client;
    await forEachBounded(BLOBS, async (i) => {
      await client.send(new PutObjectCommand({ Bucket: config.storage.s3.bucket!, Key: `${config.storage.s3.prefix}blobs/sha256/${hexes[i]!}`, Body: contents[i]! }));
    });
  } else {
    // The filesystem store's layout: blobs/<algorithm>/<first two hex digits>/<hex>.
    const root = join(config.storage.filesystem.root, 'blobs', 'sha256');
    await forEachBounded(256, (i) => mkdir(join(root, i.toString(16).padStart(2, '0')), { recursive: true }).then(() => undefined));
    await forEachBounded(BLOBS, (i) => writeFile(join(root, hexes[i]!.slice(0, 2), hexes[i]!), contents[i]!));
  }
  return hexes.map((h) => `sha256:${h}`);
}

/** Blob rows and links (younger than the review delay: the collection keeps them all). */
async function seedRows(store: SqlMetadataStore, digests: string[]): Promise<void> {
  const db = (store as unknown as { db: Kysely<Database> }).db;
  const now = Date.now();
  await db.insertInto('repositories').values({ name: REPOSITORY, created_at: now }).execute();
  for (let i = 0; i < digests.length; i += 1000) {
    const batch = digests.slice(i, i + 1000);
    await db.insertInto('blobs').values(batch.map((digest) => ({ digest, size: 60, created_at: now }))).execute();
    await db.insertInto('repository_blobs').values(batch.map((digest) => ({ repository: REPOSITORY, digest, created_at: now }))).execute();
  }
}

async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'registry-gc-listing-'));
  const backend = SCALE_OUT ? await scaleOut(dir) : await embedded(dir);
  const { config } = backend;
  const blobs = await openBlobStore(config);
  const store = await openSqlStore(config);
  const s3 = config.storage.driver === 's3' ? (blobs as unknown as { client: S3Client }).client : undefined;
  const requests = new Map<string, number>();
  s3?.middlewareStack.add(
    (next, context) => (input) => {
      requests.set(context.commandName ?? '?', (requests.get(context.commandName ?? '?') ?? 0) + 1);
      return next(input);
    },
    { step: 'initialize', name: 'benchRequestCounter' },
  );
  const lists = () => requests.get('ListObjectsV2Command') ?? 0;
  try {
    let started = Date.now();
    const digests = await seedBytes(config, blobs);
    await seedRows(store, digests);
    log(`${SCALE_OUT ? 'PostgreSQL + S3' : 'SQLite + filesystem'}: seeded ${BLOBS} blobs in ${Date.now() - started} ms`);

    for (let run = 0; run < RUNS; run++) {
      let listed = 0;
      const listsBefore = lists();
      started = Date.now();
      for await (const _ of blobs.listBlobs()) listed++;
      log(`listing alone: ${listed} blobs in ${Date.now() - started} ms, ${lists() - listsBefore} LIST requests`);
    }
    const collector = new GarbageCollector(store.gc(), blobs);
    // Listing on every run (gc.unrecordedScanIntervalMs 0, or `registry gc`), then as scheduled
    // runs do by default: within 24 h of the last listing (the runs before) they do not list.
    for (const interval of [0, 24 * HOUR]) {
      const options: GcOptions = { reviewDelayMs: 24 * HOUR, deleteUntaggedManifests: false, unrecordedScanIntervalMs: interval };
      for (let run = 0; run < RUNS; run++) {
        const listsBefore = lists();
        const report = await collector.run(options);
        log(`collection (unrecordedScanIntervalMs ${interval}): ${report.durationMs} ms, store ${report.storeListed ? 'listed' : 'not listed'}, ${lists() - listsBefore} LIST requests, ${report.blobsDeleted} deleted`);
      }
    }
  } finally {
    if (s3) await emptyPrefix(s3, config.storage.s3.bucket!, config.storage.s3.prefix).catch((err: unknown) => log(`could not empty the prefix: ${String(err)}`));
    await store.close();
    await backend.cleanUp();
    await rm(dir, { recursive: true, force: true });
  }
}

await main();
