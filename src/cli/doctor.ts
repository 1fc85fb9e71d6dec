// `registry doctor`: load the configuration and check every backend it names, one line per
// check (or JSON), exit 1 when any fails. Reads and writes nothing a registry uses: the blob
// store probe is an upload staged and dropped again; no schema or signing key is created.
import { existsSync, readFileSync } from 'node:fs';
import { X509Certificate, randomBytes, randomUUID } from 'node:crypto';
import { createSecureContext } from 'node:tls';
import { Readable } from 'node:stream';
import { Command } from 'commander';
import { pino } from 'pino';
import type { Config } from '../config/schema.js';
import { sqlitePath } from '../config/load.js';
import { exposureRefusals, exposureWarnings, isLoopbackHost } from '../config/exposure.js';
import { openSqlStore } from '../metadata/open.js';
import type { SqlMetadataStore } from '../metadata/sql-store.js';
import { openBlobStore } from '../storage/open.js';
import { TokenService } from '../auth/tokens.js';
import { configFromFlags, withConfigFlags, type ConfigFlags } from './options.js';

/** Longest a single check may take (a backend that does not answer fails, it does not hang). */
const CHECK_TIMEOUT_MS = 10_000;

export interface CheckResult {
  name: string;
  ok: boolean;
  /** What was found (ok) or why the check failed. */
  detail: string;
  /** Passed, but the setting weakens security (printed as `warn`, does not fail the run). */
  warn?: boolean;
}

interface Check {
  name: string;
  /** Resolves with a detail line; throws with the reason of a failure. */
  run(): Promise<string>;
}

async function withTimeout<T>(promise: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not answer within ${CHECK_TIMEOUT_MS / 1000} s`)), CHECK_TIMEOUT_MS);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

function reason(err: unknown): string {
  const e = err as Error & { code?: string; errors?: Error[] };
  // Node reports a refused connection to a dual-stack host as an AggregateError without a message.
  const message = e.message || e.errors?.map((x) => x.message).join('; ') || e.code || String(err);
  return message.split('\n')[0]!;
}

async function streamToBuffer(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

function metadataCheck(config: Config, opened: (store: SqlMetadataStore) => void): Check {
  return {
    name: 'metadata',
    async run() {
      const where = config.metadata.driver === 'postgres' ? 'postgres' : `sqlite ${sqlitePath(config)}`;
      // Opening SQLite creates the file: a missing one is reported, not made.
      if (config.metadata.driver === 'sqlite' && !existsSync(sqlitePath(config))) {
        throw new Error(`${where}: no database yet (run \`registry migrate\`, or start the registry)`);
      }
      const store = await openSqlStore(config, { migrate: false });
      opened(store);
      // The migration table is read first: a database never migrated has nothing else to ask.
      const failed = (err: unknown) => {
        throw new Error(`${where}: ${reason(err)}`);
      };
      const pending = await store.pendingMigrations().catch(failed);
      if (pending.length > 0) throw new Error(`${where}: ${pending.length} migration(s) pending (${pending.join(', ')}); run \`registry migrate\``);
      await store.ping().catch(failed);
      return `${where}, schema up to date`;
    },
  };
}

function blobStoreCheck(config: Config): Check {
  return {
    name: 'blobStore',
    async run() {
      const where = config.storage.driver === 's3' ? `s3 bucket ${config.storage.s3.bucket}` : `filesystem ${config.storage.filesystem.root}`;
      const store = await openBlobStore(config);
      // A probe staged as an upload: written, read back, dropped. Committed blobs are not touched.
      const id = `doctor-${randomUUID()}`;
      const probe = randomBytes(1024);
      try {
        await store.createUpload(id);
        await store.appendUpload(id, 0, Readable.from([probe]), () => undefined);
        const back = await streamToBuffer(await store.readUpload(id, probe.length));
        if (!back.equals(probe)) throw new Error('the probe read back differs from what was written');
      } catch (err) {
        throw new Error(`${where}: ${reason(err)}`);
      } finally {
        await store.abortUpload(id).catch(() => undefined);
      }
      if ((await store.uploadSize(id)) !== undefined) throw new Error(`${where}: the probe could not be deleted`);
      return `${where}: wrote, read and deleted a probe`;
    },
  };
}

function redisCheck(url: string, keyPrefix: string): Check {
  return {
    name: 'redis',
    async run() {
      const { RedisCache } = await import('../cache/cache.js');
      const redis = new RedisCache(url, pino({ level: 'silent' }), keyPrefix);
      try {
        await redis.ping();
      } finally {
        await redis.close();
      }
      return `${new URL(url).host} answers`;
    },
  };
}

function tlsCheck(certFile: string, keyFile: string): Check {
  return {
    name: 'tls',
    async run() {
      const cert = readFileSync(certFile);
      const key = readFileSync(keyFile);
      // Throws when either does not parse or the key is not the certificate's.
      createSecureContext({ cert, key });
      const x509 = new X509Certificate(cert);
      const expires = new Date(x509.validTo);
      if (expires.getTime() < Date.now()) throw new Error(`${certFile}: certificate expired on ${expires.toISOString()}`);
      return `${x509.subject.replace(/\n/g, ', ')}; expires ${expires.toISOString()}`;
    },
  };
}

function signingKeyCheck(config: Config, store: () => SqlMetadataStore | undefined): Check {
  return {
    name: 'auth',
    async run() {
      const opened = store();
      if (!opened) throw new Error('the signing key lives in the metadata store, which is unavailable');
      const kid = await TokenService.checkStoredKey(opened.access(), {
        issuer: config.auth.issuer,
        service: config.auth.service,
        ttlSeconds: config.auth.tokenTtlSeconds,
        refreshTtlSeconds: config.auth.refreshTtlSeconds,
      });
      return kid ? `signing key ${kid} signs and verifies` : 'no signing key yet (the registry creates one at first start)';
    },
  };
}

/** What `registry serve` would refuse (a failure each) and the insecure settings it allows (a warning each). */
function exposureResults(config: Config): CheckResult[] {
  const refusals = exposureRefusals(config).map((detail) => ({ name: 'exposure', ok: false, detail }));
  const warnings = exposureWarnings(config).map((detail) => ({ name: 'exposure', ok: true, warn: true, detail }));
  if (refusals.length + warnings.length > 0) return [...refusals, ...warnings];
  // Neither refused nor warned: loopback, or TLS with auth on.
  return [{ name: 'exposure', ok: true, detail: `${config.http.host}: ${isLoopbackHost(config.http.host) ? 'loopback only' : 'TLS, auth on'}` }];
}

/** Run every check the configuration calls for, in order; never throws. */
export async function diagnose(config: Config): Promise<CheckResult[]> {
  let store: SqlMetadataStore | undefined;
  let metadataOk = false;
  const checks: Check[] = [metadataCheck(config, (s) => (store = s)), blobStoreCheck(config)];
  if (config.redis.url) checks.push(redisCheck(config.redis.url, config.redis.keyPrefix));
  if (config.http.tls.certFile && config.http.tls.keyFile) checks.push(tlsCheck(config.http.tls.certFile, config.http.tls.keyFile));
  if (config.auth.enabled) checks.push(signingKeyCheck(config, () => (metadataOk ? store : undefined)));
  const results: CheckResult[] = exposureResults(config);
  try {
    for (const check of checks) {
      try {
        results.push({ name: check.name, ok: true, detail: await withTimeout(check.run(), check.name) });
        if (check.name === 'metadata') metadataOk = true;
      } catch (err) {
        results.push({ name: check.name, ok: false, detail: reason(err) });
      }
    }
  } finally {
    await (store as SqlMetadataStore | undefined)?.close().catch(() => undefined);
  }
  return results;
}

export function doctorCommand(): Command {
  return withConfigFlags(new Command('doctor').description('check the configuration and every backend it names'))
    .option('--json', 'print the results as JSON')
    .action(async (flags: ConfigFlags & { json?: boolean }) => {
      let results: CheckResult[];
      try {
        const config = configFromFlags(flags);
        results = [{ name: 'config', ok: true, detail: `storage ${config.storage.driver}, metadata ${config.metadata.driver}, auth ${config.auth.enabled ? 'on' : 'off'}` }];
        results.push(...(await diagnose(config)));
      } catch (err) {
        // An invalid configuration: nothing else can be checked.
        results = [{ name: 'config', ok: false, detail: (err as Error).message.replace(/\n+/g, ' ') }];
      }
      const ok = results.every((r) => r.ok);
      if (flags.json) console.log(JSON.stringify({ ok, checks: results }));
      else for (const r of results) console.log(`${r.ok ? (r.warn ? 'warn' : 'ok  ') : 'FAIL'} ${r.name}: ${r.detail}`);
      process.exitCode = ok ? 0 : 1;
      // A backend that never answered may still hold a socket open: do not wait for it.
      setTimeout(() => process.exit(), 1_000).unref();
    });
}
