// Accounts from a directory (LDAP): the password is checked by the directory, then the account
// is created or synchronised from the user's groups (see external-accounts.ts).
import { ExternalAccounts } from './external-accounts.js';
import type { DirectoryUser } from './ldap.js';
import type { UserRecord } from './model.js';
import { isValidUsername } from './names.js';

export interface Directory {
  authenticate(username: string, password: string): Promise<DirectoryUser | undefined>;
}

export class DirectoryAccounts {
  constructor(
    private readonly directory: Directory,
    private readonly accounts: ExternalAccounts,
  ) {}

  /** Whether a login under this name goes to the directory: no account yet, or one the directory made. */
  async handles(user: UserRecord | undefined): Promise<boolean> {
    return this.accounts.handles(user);
  }

  /** Check the password with the directory; on success the account as synchronised now. */
  async login(username: string, password: string, source: string): Promise<UserRecord | undefined> {
    // Directories match names case-insensitively: only our (lower-case) account names are
    // looked up, so "Alice" and "alice" can never become two accounts of one person.
    if (!isValidUsername(username)) return undefined;
    const found = await this.directory.authenticate(username, password);
    if (!found) return undefined;
    return this.accounts.sync(username, found.dn, found.groups, source);
  }
}
