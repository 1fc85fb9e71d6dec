// A real OpenID provider for tests, built with the certified `oidc-provider` package, on
// loopback. Its development login form accepts any account name; the claims (user name,
// groups) come from the `people` map, which a test may change. A small cookie-keeping
// "browser" (fetch, redirects followed by hand) walks the authorization code flow through the
// provider's login and consent forms.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import Provider from 'oidc-provider';

export interface Person {
  username: string;
  groups: string[];
}

export interface TestProvider {
  issuer: string;
  clientId: string;
  clientSecret: string;
  people: Map<string, Person>;
  stop(): Promise<void>;
}

export async function startOidcProvider(redirectUrl: string, people: Record<string, Person>): Promise<TestProvider> {
  let handler: (req: IncomingMessage, res: ServerResponse) => void = (_req, res) => res.writeHead(503).end();
  const server: Server = createServer((req, res) => handler(req, res));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  const issuer = `http://127.0.0.1:${port}`;
  const directory = new Map(Object.entries(people));
  const clientId = 'registry';
  const clientSecret = 'registry-client-secret-for-tests';
  const provider = new Provider(issuer, {
    clients: [{ client_id: clientId, client_secret: clientSecret, redirect_uris: [redirectUrl], grant_types: ['authorization_code'], response_types: ['code'] }],
    // Every client must use PKCE: a registry that sent none would be refused.
    pkce: { required: () => true, methods: ['S256'] },
    claims: { openid: ['sub'], profile: ['preferred_username', 'name'], groups: ['groups'] },
    cookies: { keys: ['test-cookie-key'] },
    features: { devInteractions: { enabled: true } },
    async findAccount(_ctx, id) {
      const person = directory.get(id);
      if (!person) return undefined;
      return { accountId: id, claims: async () => ({ sub: id, preferred_username: person.username, name: person.username, groups: person.groups }) };
    },
  });
  handler = provider.callback() as (req: IncomingMessage, res: ServerResponse) => void;
  return {
    issuer,
    clientId,
    clientSecret,
    people: directory,
    async stop() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

/** Cookies by name (all servers here are on 127.0.0.1; paths and ports are not told apart). */
export class CookieJar {
  private readonly cookies = new Map<string, string>();

  header(): string {
    return [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
  }

  take(res: Response): void {
    for (const line of res.headers.getSetCookie()) {
      const [pair = '', ...attributes] = line.split(';');
      const eq = pair.indexOf('=');
      const name = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim();
      const gone = value === '' || attributes.some((a) => /^\s*max-age=0\s*$/i.test(a)) || attributes.some((a) => /^\s*expires=/i.test(a) && Date.parse(a.split('=')[1]!) < Date.now());
      if (gone) this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
  }

  get(name: string): string | undefined {
    return this.cookies.get(name);
  }

  delete(name: string): void {
    this.cookies.delete(name);
  }
}

export interface BrowseOptions {
  /** The account to sign in as at the provider's login form. */
  login: string;
  /** Change the provider's authorization URL before the browser goes there (tamper tests). */
  rewriteAuthorization?: (url: URL) => URL;
  /** Stop before this URL is requested (it is returned unrequested), e.g. to replay a callback. */
  stopAt?: (url: URL) => boolean;
}

export interface BrowseResult {
  /** The last response (the registry's answer to the callback, unless stopped earlier). */
  response: Response | undefined;
  body: string;
  /** Every URL requested, in order. */
  visited: URL[];
  stoppedAt?: URL;
}

/** Walk from `start` through redirects and the provider's login and consent forms (at most 20 steps). */
export async function browse(start: string, jar: CookieJar, options: BrowseOptions): Promise<BrowseResult> {
  let next: { url: URL; method: 'GET' | 'POST'; form?: URLSearchParams } | undefined = { url: new URL(start), method: 'GET' };
  const visited: URL[] = [];
  let response: Response | undefined;
  let body = '';
  for (let step = 0; step < 20 && next; step++) {
    let url: URL = next.url;
    if (options.rewriteAuthorization && url.pathname === '/auth' && url.searchParams.has('client_id')) url = options.rewriteAuthorization(url);
    if (options.stopAt?.(url)) return { response, body, visited, stoppedAt: url };
    visited.push(url);
    const headers: Record<string, string> = { Cookie: jar.header() };
    if (next.form) headers['Content-Type'] = 'application/x-www-form-urlencoded';
    response = await fetch(url, { method: next.method, headers, redirect: 'manual', ...(next.form ? { body: next.form.toString() } : {}) });
    jar.take(response);
    body = await response.text();
    next = undefined;
    const location: string | null = response.headers.get('location');
    if (response.status >= 300 && response.status < 400 && location) {
      next = { url: new URL(location, url), method: 'GET' };
      continue;
    }
    const action = /<form[^>]*action="([^"]+)"/.exec(body)?.[1];
    const prompt = /name="prompt" value="(\w+)"/.exec(body)?.[1];
    if (response.status === 200 && action && prompt === 'login') {
      next = { url: new URL(action, url), method: 'POST', form: new URLSearchParams({ prompt: 'login', login: options.login, password: 'any' }) };
    } else if (response.status === 200 && action && prompt === 'consent') {
      next = { url: new URL(action, url), method: 'POST', form: new URLSearchParams({ prompt: 'consent' }) };
    }
  }
  return { response, body, visited };
}
