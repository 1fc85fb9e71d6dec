// Reads Apache htpasswd files for `registry user import-htpasswd`. Only bcrypt hashes
// ($2y$, $2a$, $2b$) can be imported: the Authenticator verifies them at login. Every other
// scheme (MD5 $apr1$, {SHA}, crypt, plain text) is reported and skipped.

export const BCRYPT_HASH = /^\$2[aby]\$\d{2}\$[./A-Za-z0-9]{53}$/;

export interface HtpasswdEntry {
  line: number;
  username: string;
  hash: string;
}

export interface HtpasswdProblem {
  line: number;
  username?: string;
  reason: string;
}

function schemeProblem(hash: string): string {
  if (hash.startsWith('$apr1$')) return 'MD5 ($apr1$) hashes are not supported; re-create the password with bcrypt (htpasswd -B)';
  if (hash.startsWith('{SHA}')) return 'SHA-1 ({SHA}) hashes are not supported; re-create the password with bcrypt (htpasswd -B)';
  if (/^\$(1|5|6)\$/.test(hash)) return 'crypt(3) MD5/SHA hashes are not supported; re-create the password with bcrypt (htpasswd -B)';
  if (/^\$2[aby]\$/.test(hash)) return 'malformed bcrypt hash';
  if (/^[./0-9A-Za-z]{13}$/.test(hash)) return 'DES crypt hashes are not supported; re-create the password with bcrypt (htpasswd -B)';
  return 'unsupported or plain-text password; only bcrypt hashes (htpasswd -B) can be imported';
}

/** Entries with a bcrypt hash, and a problem for every other non-empty, non-comment line. */
export function parseHtpasswd(text: string): { entries: HtpasswdEntry[]; problems: HtpasswdProblem[] } {
  const entries: HtpasswdEntry[] = [];
  const problems: HtpasswdProblem[] = [];
  const lines = text.split(/\r?\n/);
  lines.forEach((raw, i) => {
    const line = i + 1;
    const text = raw.trim();
    if (text === '' || text.startsWith('#')) return;
    const colon = text.indexOf(':');
    if (colon <= 0) {
      problems.push({ line, reason: 'not a "username:hash" line' });
      return;
    }
    const username = text.slice(0, colon);
    const hash = text.slice(colon + 1);
    if (!BCRYPT_HASH.test(hash)) {
      problems.push({ line, username, reason: schemeProblem(hash) });
      return;
    }
    entries.push({ line, username, hash });
  });
  return { entries, problems };
}
