// Single sign-on state beside the access store, on the same database (every node of a cluster
// may get the provider's answer or the command line's poll): pending browser flows,
// command-line logins waiting for the browser, and personal CLI secrets (as hashes).

export interface OidcFlowRecord {
  state: string;
  bindingHash: string;
  nonce: string;
  codeVerifier: string;
  cliLogin: string | null;
  expiresAt: Date;
}

export interface CliLoginRecord {
  id: string;
  pollHash: string;
  userCode: string;
  label: string;
  /** Set once the person finished the browser flow. */
  username: string | null;
  expiresAt: Date;
}

export interface CliSecretRecord {
  id: string;
  username: string;
  secretHash: string;
  label: string;
  createdAt: Date;
  expiresAt: Date;
  lastUsedAt: Date | null;
  revokedAt: Date | null;
}

export interface OidcStore {
  createFlow(flow: OidcFlowRecord): Promise<void>;
  /** Remove the flow and return it (each is used once), unless it is unknown or expired. */
  takeFlow(state: string): Promise<OidcFlowRecord | undefined>;

  createCliLogin(login: CliLoginRecord): Promise<void>;
  /** The login while it is unexpired. */
  getCliLogin(id: string): Promise<CliLoginRecord | undefined>;
  /** Record who finished the browser flow; false when the login is unknown, expired or finished already. */
  completeCliLogin(id: string, username: string): Promise<boolean>;
  /** Remove a finished, unexpired login and return it (the secret is handed out once). */
  takeCompletedCliLogin(id: string): Promise<CliLoginRecord | undefined>;

  createCliSecret(secret: CliSecretRecord): Promise<void>;
  findCliSecret(secretHash: string): Promise<CliSecretRecord | undefined>;
  listCliSecrets(username: string): Promise<CliSecretRecord[]>;
  /** Mark revoked; false when the user has no such unrevoked secret. */
  revokeCliSecret(username: string, id: string, at: Date): Promise<boolean>;
  touchCliSecret(id: string, at: Date): Promise<void>;

  /** Forget flows and logins that expired before `now`; how many there were. */
  deleteExpired(now: Date): Promise<number>;
}
