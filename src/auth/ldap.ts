// LDAP / Active Directory logins: find the user's entry with a service account, bind as that
// entry with the password given (the directory checks it), then read the user's groups (a
// group search, or the entry's memberOf). Filter values are escaped (RFC 4515), so a login
// name cannot change a filter's meaning.
import { readFileSync } from 'node:fs';
import { Client, Filter, InvalidCredentialsError, type SearchOptions } from 'ldapts';

export interface LdapOptions {
  url: string;
  startTls: boolean;
  caFile?: string | undefined;
  bindDn?: string | undefined;
  bindPassword?: string | undefined;
  userBaseDn: string;
  /** `{username}` is replaced by the escaped login name. */
  userFilter: string;
  /** Search groups here (with groupFilter); from memberOf when unset. */
  groupBaseDn?: string | undefined;
  /** `{dn}` is the escaped user DN, `{username}` the escaped login name. */
  groupFilter: string;
  connectTimeoutMs: number;
  timeoutMs: number;
}

export interface DirectoryUser {
  dn: string;
  /** Group DNs, normalised (see normalizeDn). */
  groups: string[];
}

/** The directory could not be asked (down, TLS refused, service account refused): not a wrong password. */
export class DirectoryUnavailableError extends Error {}

/** A DN compared case-insensitively and without the spaces that may follow separators. */
export function normalizeDn(dn: string): string {
  return dn
    .split(/(?<!\\),/)
    .map((rdn) => rdn.trim())
    .join(',')
    .toLowerCase();
}

export function fillFilter(template: string, values: Record<string, string>): string {
  return template.replace(/\{(\w+)\}/g, (whole, key: string) => (key in values ? Filter.escape(values[key]!) : whole));
}

const asList = (value: unknown): string[] => (Array.isArray(value) ? value.map(String) : value === undefined ? [] : [String(value)]);

export class LdapDirectory {
  private readonly ca: Buffer | undefined;

  constructor(private readonly options: LdapOptions) {
    this.ca = options.caFile ? readFileSync(options.caFile) : undefined;
  }

  private async connect(): Promise<Client> {
    const tlsOptions = this.ca ? { ca: this.ca } : {};
    // ldapts speaks TLS from the first byte whenever tlsOptions are given: only for ldaps://.
    const secure = this.options.url.startsWith('ldaps:');
    const client = new Client({ url: this.options.url, timeout: this.options.timeoutMs, connectTimeout: this.options.connectTimeoutMs, ...(secure ? { tlsOptions } : {}) });
    // The certificate is checked against the URL's host (Node sends no SNI for an IP address).
    if (this.options.startTls) await client.startTLS({ ...tlsOptions, host: new URL(this.options.url).hostname.replace(/^\[|\]$/g, '') });
    return client;
  }

  /**
   * The user's entry and groups when the password is right; undefined when the user is not in
   * the directory (or not exactly once) or the password is wrong. Throws
   * DirectoryUnavailableError when the directory cannot be asked.
   */
  async authenticate(username: string, password: string): Promise<DirectoryUser | undefined> {
    // An empty password would be an unauthenticated bind, which succeeds (RFC 4513 5.1.2).
    if (password === '' || username === '') return undefined;
    let client: Client | undefined;
    try {
      client = await this.connect();
      if (this.options.bindDn) await client.bind(this.options.bindDn, this.options.bindPassword ?? '');
      const search: SearchOptions = { scope: 'sub', filter: fillFilter(this.options.userFilter, { username }), attributes: ['memberOf'], sizeLimit: 2 };
      const { searchEntries } = await client.search(this.options.userBaseDn, search);
      if (searchEntries.length !== 1) return undefined;
      const entry = searchEntries[0]!;
      try {
        await client.bind(entry.dn, password);
      } catch (err) {
        if (err instanceof InvalidCredentialsError) return undefined;
        throw err;
      }
      // Groups are read with the service account's rights again, when there is one.
      if (this.options.bindDn) await client.bind(this.options.bindDn, this.options.bindPassword ?? '');
      let groups: string[];
      if (this.options.groupBaseDn) {
        const filter = fillFilter(this.options.groupFilter, { dn: entry.dn, username });
        const found = await client.search(this.options.groupBaseDn, { scope: 'sub', filter, attributes: ['dn'] });
        groups = found.searchEntries.map((g) => g.dn);
      } else {
        groups = asList(entry['memberOf']);
      }
      return { dn: entry.dn, groups: groups.map(normalizeDn) };
    } catch (err) {
      throw new DirectoryUnavailableError(`LDAP directory unavailable: ${(err as Error).message}`, { cause: err });
    } finally {
      await client?.unbind().catch(() => undefined);
    }
  }
}
