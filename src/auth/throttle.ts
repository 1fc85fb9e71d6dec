// Failed-login throttling: failures are counted per client address and per account in a fixed
// window (in Redis when configured, so every node sees them; else in this process). Past
// `slowAfter` failures answers are slowed; past `refuseAfter` logins are refused with 429
// until the window ends.

export interface Counter {
  /** Record a hit; the number of hits in the current window. */
  hit(key: string, windowMs: number): Promise<number>;
  /** Hits so far in the current window. */
  peek(key: string, windowMs: number): Promise<number>;
}

export class MemoryCounter implements Counter {
  private readonly counts = new Map<string, { window: number; count: number }>();

  async hit(key: string, windowMs: number): Promise<number> {
    const window = Math.floor(Date.now() / windowMs);
    const entry = this.counts.get(key);
    const count = entry && entry.window === window ? entry.count + 1 : 1;
    this.counts.set(key, { window, count });
    if (this.counts.size > 100_000) this.prune(window);
    return count;
  }

  async peek(key: string, windowMs: number): Promise<number> {
    const entry = this.counts.get(key);
    return entry && entry.window === Math.floor(Date.now() / windowMs) ? entry.count : 0;
  }

  private prune(window: number): void {
    for (const [k, v] of this.counts) if (v.window !== window) this.counts.delete(k);
  }
}

/** After the shared counter failed, this node counts alone this long before trying it again. */
const SHARED_RETRY_MS = 5_000;

/**
 * The shared (Redis) counter, or this node's own while the shared one cannot answer: with
 * Redis down, failed logins are still throttled (per node) and good logins still work, instead
 * of every login failing or waiting on Redis.
 */
export class FallbackCounter implements Counter {
  private sharedFailedAt = -Infinity;

  constructor(
    private readonly shared: Counter,
    private readonly local: Counter,
    private readonly onFallback: (err: unknown) => void,
  ) {}

  hit(key: string, windowMs: number): Promise<number> {
    return this.use((c) => c.hit(key, windowMs));
  }

  peek(key: string, windowMs: number): Promise<number> {
    return this.use((c) => c.peek(key, windowMs));
  }

  private async use(count: (counter: Counter) => Promise<number>): Promise<number> {
    if (Date.now() - this.sharedFailedAt >= SHARED_RETRY_MS) {
      try {
        return await count(this.shared);
      } catch (err) {
        this.sharedFailedAt = Date.now();
        this.onFallback(err);
      }
    }
    return count(this.local);
  }
}

export interface ThrottleOptions {
  windowSeconds: number;
  slowAfter: number;
  refuseAfter: number;
}

export class LoginThrottle {
  constructor(
    private readonly counter: Counter,
    private readonly options: ThrottleOptions,
  ) {}

  private keys(source: string, account: string | undefined): string[] {
    return [`login-fail:ip:${source}`, ...(account ? [`login-fail:user:${account}`] : [])];
  }

  /** Seconds until logins are allowed again, or 0 when they are allowed now. */
  async refusedFor(source: string, account: string | undefined): Promise<number> {
    const windowMs = this.options.windowSeconds * 1000;
    for (const key of this.keys(source, account)) {
      if ((await this.counter.peek(key, windowMs)) >= this.options.refuseAfter) {
        return Math.max(1, Math.ceil((windowMs - (Date.now() % windowMs)) / 1000));
      }
    }
    return 0;
  }

  /** Count a failure; resolves after the slow-down it earns. */
  async failed(source: string, account: string | undefined): Promise<void> {
    const windowMs = this.options.windowSeconds * 1000;
    let worst = 0;
    for (const key of this.keys(source, account)) worst = Math.max(worst, await this.counter.hit(key, windowMs));
    if (worst > this.options.slowAfter) {
      const delay = Math.min(3_000, 250 * (worst - this.options.slowAfter));
      await new Promise((r) => setTimeout(r, delay));
    }
  }
}
