// Web UI login sessions, beside the access store and on the same database (so every node of a
// cluster knows every session). Keyed by the SHA-256 of the session id, never the id itself.

export interface SessionRecord {
  idHash: string;
  userId: string;
  username: string;
  /** Sent back in the X-CSRF-Token header of every state-changing request made with the cookie. */
  csrfToken: string;
  /** Client address at login. */
  source: string;
  createdAt: Date;
  expiresAt: Date;
}

export interface SessionStore {
  createSession(session: SessionRecord): Promise<void>;
  /** The session, unless it is unknown or expired. */
  getSession(idHash: string): Promise<SessionRecord | undefined>;
  /** True when there was such a session. */
  deleteSession(idHash: string): Promise<boolean>;
  /** Forget every session that expired before `now`; how many there were. */
  deleteExpiredSessions(now: Date): Promise<number>;
}
