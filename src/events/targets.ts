// Where webhooks may send (SSRF protection). A target URL is checked when a webhook is saved
// and again at every delivery, after DNS resolution: the delivery then connects to the very
// address that passed, so a name that resolves differently later (DNS rebinding) gains
// nothing. Rules: the host must be on webhooks.allowedHosts (a host name, `*.domain`, an IP
// address or a CIDR range); a listed host name may resolve to public addresses only, while
// private, loopback, link-local and other special addresses must themselves be listed.
// Replication and the pull-through cache hold the URLs a remote leads to (redirects, token
// realms, upload locations) to a policy too, and resolve host names through it when they
// connect (see DistributionClient's connectTo), so there too the checked address is the one used.
import { BlockList, isIP } from 'node:net';
import { lookup } from 'node:dns/promises';

/** Addresses no host name may lead to unless the operator lists them (RFC 6890 and kin). */
const SPECIAL_RANGES: [string, number, 'ipv4' | 'ipv6'][] = [
  ['0.0.0.0', 8, 'ipv4'],
  ['10.0.0.0', 8, 'ipv4'],
  ['100.64.0.0', 10, 'ipv4'],
  ['127.0.0.0', 8, 'ipv4'],
  ['169.254.0.0', 16, 'ipv4'],
  ['172.16.0.0', 12, 'ipv4'],
  ['192.0.0.0', 24, 'ipv4'],
  ['192.0.2.0', 24, 'ipv4'],
  ['192.88.99.0', 24, 'ipv4'],
  ['192.168.0.0', 16, 'ipv4'],
  ['198.18.0.0', 15, 'ipv4'],
  ['198.51.100.0', 24, 'ipv4'],
  ['203.0.113.0', 24, 'ipv4'],
  ['224.0.0.0', 4, 'ipv4'],
  ['240.0.0.0', 4, 'ipv4'],
  ['::', 128, 'ipv6'],
  ['::1', 128, 'ipv6'],
  ['64:ff9b::', 96, 'ipv6'],
  ['64:ff9b:1::', 48, 'ipv6'],
  ['100::', 64, 'ipv6'],
  ['2001::', 23, 'ipv6'],
  ['2001:db8::', 32, 'ipv6'],
  ['2002::', 16, 'ipv6'],
  ['fc00::', 7, 'ipv6'],
  ['fe80::', 10, 'ipv6'],
  ['ff00::', 8, 'ipv6'],
];

export class TargetRefused extends Error {}

export interface ResolvedTarget {
  url: URL;
  /** The checked address to connect to. */
  address: string;
  family: 4 | 6;
}

export type Resolver = (hostname: string) => Promise<{ address: string; family: number }[]>;

const systemResolver: Resolver = (hostname) => lookup(hostname, { all: true, verbatim: true });

export interface PolicyExtras {
  /** Any host name may be a target, as long as it resolves to a public address. */
  anyName?: boolean;
  /** Host names trusted to resolve to any address (an operator's own configured host). */
  trustedNames?: readonly string[];
}

export class TargetPolicy {
  private readonly allowedAddresses = new BlockList();
  private readonly special = new BlockList();
  private readonly names: string[] = [];
  private readonly suffixes: string[] = [];
  private readonly anyName: boolean;
  private readonly trustedNames: Set<string>;

  constructor(
    allowedHosts: readonly string[],
    private readonly resolve: Resolver = systemResolver,
    /** The setting that lists the hosts, for the reasons given (replication has its own). */
    private readonly setting = 'webhooks.allowedHosts',
    extras: PolicyExtras = {},
  ) {
    this.anyName = extras.anyName ?? false;
    this.trustedNames = new Set((extras.trustedNames ?? []).map(normalName));
    for (const entry of allowedHosts) {
      const [address = '', prefix] = entry.split('/');
      const family = isIP(address);
      if (family !== 0) {
        const type = family === 4 ? 'ipv4' : 'ipv6';
        if (prefix === undefined) this.allowedAddresses.addAddress(address, type);
        else this.allowedAddresses.addSubnet(address, Number(prefix), type);
      } else if (entry.startsWith('*.')) this.suffixes.push(entry.slice(1).toLowerCase());
      else this.names.push(entry.toLowerCase());
    }
    for (const [address, prefix, type] of SPECIAL_RANGES) this.special.addSubnet(address, prefix, type);
  }

  /**
   * Where a pull-through cache may be led by its upstream (redirects to storage, a token realm):
   * the upstream's own host, which the operator configured, to whatever it resolves to; any
   * other host only at public addresses, so that a hostile upstream cannot turn this registry
   * against loopback, private or metadata (169.254.169.254) addresses.
   */
  static forUpstream(upstream: URL, resolve: Resolver = systemResolver): TargetPolicy {
    const host = hostOf(upstream);
    return new TargetPolicy(isIP(host) !== 0 ? [host] : [], resolve, `the upstream's own host (proxy.upstreams ${upstream.host})`, { anyName: true, trustedNames: isIP(host) !== 0 ? [] : [host] });
  }

  /** The URL if it may be a target; TargetRefused says why not. No DNS is asked. */
  check(raw: string): URL {
    let url: URL;
    try {
      url = new URL(raw);
    } catch {
      throw new TargetRefused('not a valid URL');
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new TargetRefused('only http and https URLs may be targets');
    if (url.username || url.password) throw new TargetRefused('credentials in the URL are not allowed (webhooks are signed instead)');
    const host = hostOf(url);
    if (isIP(host) !== 0) {
      if (!this.addressAllowed(host, true)) throw new TargetRefused(`the address ${host} is not on ${this.setting}`);
      return url;
    }
    if (!this.nameAllowed(host)) throw new TargetRefused(`the host ${host} is not on ${this.setting}`);
    return url;
  }

  /** Check the URL, resolve its host, and pick an address that may be reached. */
  async resolveTarget(raw: string): Promise<ResolvedTarget> {
    const url = this.check(raw);
    return { url, ...(await this.addressOf(hostOf(url))) };
  }

  /**
   * An address the host (a name or an address literal) may be reached at, resolved now;
   * TargetRefused says why there is none. Used at connect time, it is the only resolution
   * the connection sees.
   */
  async addressOf(host: string): Promise<{ address: string; family: 4 | 6 }> {
    const literal = isIP(host);
    if (literal !== 0) {
      if (!this.addressAllowed(host, true)) throw new TargetRefused(`the address ${host} is not on ${this.setting}`);
      return { address: host, family: literal as 4 | 6 };
    }
    if (!this.nameAllowed(host)) throw new TargetRefused(`the host ${host} is not on ${this.setting}`);
    let answers: { address: string; family: number }[];
    try {
      answers = await this.resolve(host);
    } catch (err) {
      throw new TargetRefused(`the host ${host} does not resolve (${err instanceof Error ? err.message : String(err)})`);
    }
    const trusted = this.trustedNames.has(normalName(host));
    const usable = answers.find((a) => isIP(a.address) !== 0 && (trusted || this.addressAllowed(a.address, false)));
    if (!usable) throw new TargetRefused(`the host ${host} resolves to ${answers.map((a) => a.address).join(', ') || 'nothing'}, which is not allowed`);
    return { address: usable.address, family: usable.family === 6 ? 6 : 4 };
  }

  /** Listed addresses always; public addresses only when reached through a listed name (or when any name may be). */
  private addressAllowed(address: string, literal: boolean): boolean {
    const type = isIP(address) === 6 ? 'ipv6' : 'ipv4';
    if (this.allowedAddresses.check(address, type)) return true;
    return (!literal || this.anyName) && !this.special.check(address, type);
  }

  private nameAllowed(host: string): boolean {
    if (this.anyName) return true;
    const name = normalName(host);
    return this.names.includes(name) || this.suffixes.some((s) => name.endsWith(s) && name.length > s.length);
  }
}

function normalName(host: string): string {
  return host.toLowerCase().replace(/\.$/, '');
}

/** The URL's host without IPv6 brackets. */
function hostOf(url: URL): string {
  return url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
}
