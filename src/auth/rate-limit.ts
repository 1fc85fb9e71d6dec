// Request budgets per client address and per identity (user or robot), counted in fixed
// windows by the same counters as the login throttle: in Redis when configured, so every node
// of a cluster draws on one budget, else in this process.
import { BlockList, isIP } from 'node:net';
import type { Counter } from './throttle.js';

export interface RateLimitOptions {
  windowMs: number;
  /** Requests per window from one address; 0 = unlimited. */
  perAddress: number;
  /** Requests per window by one identity; 0 = unlimited. */
  perIdentity: number;
  /** Addresses and CIDR ranges never limited. */
  exempt: string[];
}

export type LimitKind = 'address' | 'identity';

/** After the counter failed, requests go uncounted this long instead of each waiting for it again. */
const COUNTER_RETRY_MS = 5_000;

export class RateLimiter {
  private readonly exempt: BlockList;
  private counterFailedAt = -Infinity;

  constructor(
    private readonly counter: Counter,
    private readonly options: RateLimitOptions,
    /** A counter that cannot count (Redis down) lets requests through; this hears about it. */
    private readonly onError: (err: unknown) => void,
  ) {
    this.exempt = addressList(options.exempt);
  }

  get windowMs(): number {
    return this.options.windowMs;
  }

  /** Count a request from `address`; seconds until the budget is back, or 0 when within it. */
  async address(address: string): Promise<number> {
    if (this.options.perAddress === 0 || this.isExempt(address)) return 0;
    return this.hit(`rate:ip:${address}`, this.options.perAddress);
  }

  /** Count a request by an authenticated user or robot (its name; `address` may be exempt). */
  async identity(name: string, address: string): Promise<number> {
    if (this.options.perIdentity === 0 || this.isExempt(address)) return 0;
    return this.hit(`rate:id:${name}`, this.options.perIdentity);
  }

  private isExempt(address: string): boolean {
    const family = isIP(address);
    return family !== 0 && this.exempt.check(address, family === 6 ? 'ipv6' : 'ipv4');
  }

  private async hit(key: string, limit: number): Promise<number> {
    let count: number;
    if (Date.now() - this.counterFailedAt < COUNTER_RETRY_MS) return 0;
    try {
      count = await this.counter.hit(key, this.options.windowMs);
    } catch (err) {
      this.counterFailedAt = Date.now();
      this.onError(err);
      return 0;
    }
    if (count <= limit) return 0;
    const windowMs = this.options.windowMs;
    return Math.max(1, Math.ceil((windowMs - (Date.now() % windowMs)) / 1000));
  }
}

/** The addresses and ranges (`10.0.0.1`, `10.0.0.0/8`, `fd00::/8`) as one BlockList. */
export function addressList(entries: string[]): BlockList {
  const list = new BlockList();
  for (const entry of entries) {
    const [address = '', prefix] = entry.split('/');
    const type = isIP(address) === 6 ? 'ipv6' : 'ipv4';
    if (prefix === undefined) list.addAddress(address, type);
    else list.addSubnet(address, Number(prefix), type);
  }
  return list;
}
