// A shared cache for hot lookups. Redis in a cluster; nothing at all without it (every lookup
// goes to the metadata store, which stays the source of truth).
import { Redis } from 'ioredis';
import type { Logger } from 'pino';

export interface Cache {
  /** The cached value, or undefined on a miss (or when the cache is unreachable). */
  get(keys: string[]): Promise<(Buffer | undefined)[]>;
  /** Store a value unless the key holds one or was invalidated moments ago. */
  fill(key: string, value: Buffer, ttlSeconds: number): Promise<void>;
  /** Forget keys, and refuse fills of them for a short while (a reader may hold an old value). */
  invalidate(keys: string[]): Promise<void>;
  /** Atomically increment a counter; used for per-repository generations. */
  increment(key: string): Promise<void>;
  close(): Promise<void>;
}

/** Marks an invalidated key: a fill racing with the invalidation must not bring the old value back. */
const TOMBSTONE = Buffer.from('\u0000tombstone');
const TOMBSTONE_SECONDS = 2;

export class RedisCache implements Cache {
  private readonly redis: Redis;

  constructor(
    url: string,
    private readonly logger: Logger,
    private readonly prefix = 'registry:',
    timeouts: { connectTimeoutMs?: number; commandTimeoutMs?: number } = {},
  ) {
    this.redis = new Redis(url, {
      // A slow or absent Redis must cost a lookup, never a request: fail fast, fall through.
      enableOfflineQueue: false,
      maxRetriesPerRequest: 1,
      connectTimeout: timeouts.connectTimeoutMs ?? 2_000,
      commandTimeout: timeouts.commandTimeoutMs ?? 1_000,
      lazyConnect: false,
    });
    this.redis.on('error', (err: Error) => this.logger.debug({ err: err.message }, 'redis unavailable'));
  }

  async get(keys: string[]): Promise<(Buffer | undefined)[]> {
    try {
      const values = await this.redis.mgetBuffer(...keys.map((k) => this.prefix + k));
      return values.map((v) => (v === null || v.equals(TOMBSTONE) ? undefined : v));
    } catch {
      return keys.map(() => undefined);
    }
  }

  async fill(key: string, value: Buffer, ttlSeconds: number): Promise<void> {
    try {
      await this.redis.set(this.prefix + key, value, 'EX', ttlSeconds, 'NX');
    } catch {
      // A cache that cannot be filled is only a slower cache.
    }
  }

  // Invalidation is best effort: when Redis is unreachable the write still succeeds, and an
  // entry that survived the outage is stale for at most its TTL.
  async invalidate(keys: string[]): Promise<void> {
    if (keys.length === 0) return;
    try {
      const pipeline = this.redis.pipeline();
      for (const k of keys) pipeline.set(this.prefix + k, TOMBSTONE, 'EX', TOMBSTONE_SECONDS);
      const results = await pipeline.exec();
      const failed = results?.find(([err]) => err);
      if (failed) throw failed[0];
    } catch (err) {
      this.logger.warn({ err: (err as Error).message, keys }, 'cache invalidation failed');
    }
  }

  async increment(key: string): Promise<void> {
    try {
      await this.redis.incr(this.prefix + key);
    } catch (err) {
      this.logger.warn({ err: (err as Error).message, key }, 'cache generation bump failed');
    }
  }

  /** Fixed-window counter shared by every node: the count of hits in the current window. */
  async hit(key: string, windowMs: number): Promise<number> {
    await this.connected();
    const k = `${this.prefix}count:${key}:${Math.floor(Date.now() / windowMs)}`;
    const [[incrErr, count], [expErr]] = (await this.redis.multi().incr(k).pexpire(k, windowMs).exec()) as [[Error | null, number], [Error | null, unknown]];
    if (incrErr || expErr) throw incrErr ?? expErr;
    return count;
  }

  private ready: Promise<void> | undefined;

  async peek(key: string, windowMs: number): Promise<number> {
    await this.connected();
    const value = await this.redis.get(`${this.prefix}count:${key}:${Math.floor(Date.now() / windowMs)}`);
    return value === null ? 0 : Number(value);
  }

  /** Wait (briefly) for the connection: counters must count, not fall through. */
  private async connected(timeoutMs = 2_000): Promise<void> {
    if (this.redis.status === 'ready') return;
    this.ready ??= new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('redis is not reachable')), timeoutMs);
      this.redis.once('ready', () => {
        clearTimeout(timer);
        resolve();
      });
    }).finally(() => (this.ready = undefined));
    await this.ready;
  }

  /** Resolves when Redis answers a PING (`registry doctor`). */
  async ping(): Promise<void> {
    await this.connected();
    await this.redis.ping();
  }

  async close(): Promise<void> {
    this.redis.disconnect();
  }
}
