// Identity beside the access store: accounts that come from a directory (LDAP), and second
// factors (a TOTP secret per user, single-use recovery codes).

export interface ExternalAccount {
  username: string;
  /** `ldap` */
  provider: string;
  /** The account's DN in the directory. */
  subject: string;
  syncedAt: Date;
}

export interface TotpRecord {
  username: string;
  /** Base32 secret. */
  secret: string;
  /** Enrolment finished (a first code was given). */
  confirmed: boolean;
  /** The last time step a code was accepted for. */
  lastStep: number;
  /** When the enrolment started, or (once confirmed) when it was confirmed. */
  since: Date;
}

export interface IdentityStore {
  getExternalAccount(username: string): Promise<ExternalAccount | undefined>;
  /** Record (or refresh) that the user comes from `provider`. */
  linkExternalAccount(username: string, provider: string, subject: string): Promise<void>;

  getTotp(username: string): Promise<TotpRecord | undefined>;
  /** Start an enrolment: a new unconfirmed secret (replacing an unconfirmed one). */
  setTotp(username: string, secret: string): Promise<void>;
  /**
   * Accept a code for `step`: true when no code of this or a later step was accepted before
   * (a conditional update, so of two racing uses of one code only one wins). With `confirm`,
   * the enrolment is also marked finished.
   */
  useTotpStep(username: string, step: number, confirm?: boolean): Promise<boolean>;
  /** Remove the TOTP secret and every recovery code. */
  deleteTotp(username: string): Promise<boolean>;

  /** Replace the user's recovery codes (given as hashes). */
  setRecoveryCodes(username: string, hashes: string[]): Promise<void>;
  /** Mark an unused code as used; false when there is no such unused code. */
  useRecoveryCode(username: string, hash: string): Promise<boolean>;
  recoveryCodesLeft(username: string): Promise<number>;
}
