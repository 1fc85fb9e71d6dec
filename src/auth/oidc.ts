// OpenID Connect single sign-on (the relying party, with openid-client): the authorization
// code flow with PKCE (S256), state and nonce, each flow single-use and tied to the browser
// that started it; the account is created or synchronised from the ID token's (and userinfo's)
// claims through the shared external-account rules. A command line logs in with a handshake
// the registry runs itself (like the device flow): it gets a login id and a URL to open in a
// browser, polls, and once the browser flow is done receives a personal CLI secret.
import { createHash, randomBytes, randomInt, timingSafeEqual } from 'node:crypto';
import * as client from 'openid-client';
import { RegistryError } from '../registry/errors.js';
import { isHttpsOrLoopback } from '../config/schema.js';
import type { CliLoginRecord, OidcStore } from '../metadata/oidc-store.js';
import type { Auditor } from './audit.js';
import type { CliSecrets } from './cli-secrets.js';
import type { ExternalAccounts } from './external-accounts.js';
import type { UserRecord } from './model.js';
import { isValidUsername } from './names.js';

export interface OidcOptions {
  issuer: string;
  clientId: string;
  clientSecret?: string | undefined;
  /** The registry's callback, as registered at the provider; also the registry's public address. */
  redirectUrl: string;
  scopes: string[];
  usernameClaim: string;
  groupsClaim: string;
  displayName: string;
  loginTimeoutSeconds: number;
}

export const CALLBACK_PATH = '/api/v1/oidc/callback';
export const LOGIN_PATH = '/api/v1/oidc/login';

/** How often a command line should poll (seconds). */
export const CLI_POLL_INTERVAL_SECONDS = 2;

/** Letters that cannot be mistaken for one another (no vowels: no words). */
const USER_CODE_LETTERS = 'BCDFGHJKLMNPQRSTVWXZ';

function sha256(value: string): string {
  return createHash('sha256').update(value).digest('hex');
}

function sameHash(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

function userCode(): string {
  const letters = Array.from({ length: 8 }, () => USER_CODE_LETTERS[randomInt(USER_CODE_LETTERS.length)]).join('');
  return `${letters.slice(0, 4)}-${letters.slice(4)}`;
}

/** A login the person cannot finish (refused, tampered, replayed, expired): 401 with the reason. */
function refused(message: string, detail?: unknown): RegistryError {
  return new RegistryError('UNAUTHORIZED', message, detail);
}

/** Why openid-client refused an answer: its message, and the underlying check's (which names the claim). */
function failureReason(err: unknown): string {
  const parts: string[] = [];
  let current: unknown = err;
  for (let depth = 0; depth < 3 && current instanceof Error; depth++) {
    const error = current as Error & { error?: unknown };
    parts.push(typeof error.error === 'string' ? `${error.message} (${error.error})` : error.message);
    current = error.cause;
  }
  return parts.join(': ').slice(0, 300);
}

function groupsOf(value: unknown): string[] {
  if (Array.isArray(value)) return value.filter((g): g is string => typeof g === 'string');
  return typeof value === 'string' ? [value] : [];
}

export interface FinishedLogin {
  user: UserRecord;
  /** The command-line login this browser flow completed, if it was one. */
  cliLogin?: CliLoginRecord;
}

export interface StartedCliLogin {
  id: string;
  pollToken: string;
  userCode: string;
  loginUrl: string;
  expiresAt: Date;
}

export type CliLoginPoll = { status: 'pending' } | { status: 'done'; username: string; secret: string; secretId: string; expiresAt: Date };

export class OidcLogin {
  private configuration: Promise<client.Configuration> | undefined;

  constructor(
    private readonly options: OidcOptions,
    private readonly store: OidcStore,
    private readonly accounts: ExternalAccounts,
    private readonly secrets: CliSecrets,
    private readonly auditor: Auditor,
  ) {}

  get displayName(): string {
    return this.options.displayName;
  }

  private get ttlMs(): number {
    return this.options.loginTimeoutSeconds * 1000;
  }

  /** The provider's metadata, discovered once (again after a failure); its issuer must be the configured one. */
  private provider(): Promise<client.Configuration> {
    const { issuer, clientId, clientSecret } = this.options;
    this.configuration ??= client
      .discovery(new URL(issuer), clientId, clientSecret, clientSecret ? client.ClientSecretBasic(clientSecret) : client.None(), {
        // Plain http only for a provider on loopback (the configuration refuses others).
        ...(new URL(issuer).protocol === 'http:' && isHttpsOrLoopback(issuer) ? { execute: [client.allowInsecureRequests] } : {}),
        timeout: 10,
      })
      .catch((err: unknown) => {
        this.configuration = undefined;
        throw new RegistryError('UNAVAILABLE', 'the identity provider cannot be reached or its metadata is not valid; try again later', { reason: (err as Error).message.slice(0, 300) });
      });
    return this.configuration;
  }

  /**
   * Start a browser flow (for the web UI, or to finish command-line login `cliLogin`): the
   * provider's authorization URL, and the value of the cookie that ties the flow to this browser.
   */
  async begin(cliLogin?: string): Promise<{ url: string; binding: string }> {
    if (cliLogin !== undefined) {
      const login = await this.store.getCliLogin(cliLogin);
      if (!login || login.username !== null) throw refused('this command-line login is unknown, finished or expired; run `registry login --oidc` again');
    }
    const config = await this.provider();
    const state = client.randomState();
    const nonce = client.randomNonce();
    const codeVerifier = client.randomPKCECodeVerifier();
    const binding = randomBytes(32).toString('base64url');
    await this.store.createFlow({ state, bindingHash: sha256(binding), nonce, codeVerifier, cliLogin: cliLogin ?? null, expiresAt: new Date(Date.now() + this.ttlMs) });
    const url = client.buildAuthorizationUrl(config, {
      redirect_uri: this.options.redirectUrl,
      scope: this.options.scopes.join(' '),
      code_challenge: await client.calculatePKCECodeChallenge(codeVerifier),
      code_challenge_method: 'S256',
      state,
      nonce,
    });
    return { url: url.href, binding };
  }

  /**
   * The provider sent the browser back (`query`: the callback's query string): check the flow
   * (single use, same browser), exchange the code (PKCE verifier, ID token signature, issuer,
   * audience, nonce: openid-client checks them), then create or synchronise the account.
   */
  async finish(query: string, binding: string | undefined, source: string): Promise<FinishedLogin> {
    const callback = new URL(this.options.redirectUrl);
    callback.search = query;
    const state = callback.searchParams.get('state');
    if (!state) throw refused('the provider answered without a state');
    const flow = await this.store.takeFlow(state);
    if (!flow) throw refused('unknown, used or expired login; start again');
    if (binding === undefined || !sameHash(sha256(binding), flow.bindingHash)) throw refused('this login was started in another browser; start again');
    const config = await this.provider();
    let tokens: Awaited<ReturnType<typeof client.authorizationCodeGrant>>;
    try {
      tokens = await client.authorizationCodeGrant(config, callback, { pkceCodeVerifier: flow.codeVerifier, expectedState: state, expectedNonce: flow.nonce, idTokenExpected: true });
    } catch (err) {
      const reason = failureReason(err);
      await this.auditor.record({ actor: 'anonymous', action: 'login.failed', source, detail: { via: 'oidc', reason } });
      throw refused('the identity provider did not confirm this login', { reason });
    }
    const idClaims = tokens.claims();
    if (!idClaims) throw refused('the provider sent no ID token');
    let claims: Record<string, unknown> = { ...idClaims };
    // Many providers put only the subject in the ID token: the rest comes from userinfo.
    if ((!(this.options.usernameClaim in claims) || !(this.options.groupsClaim in claims)) && config.serverMetadata().userinfo_endpoint) {
      const info = await client.fetchUserInfo(config, tokens.access_token, idClaims.sub).catch((err: unknown) => {
        throw new RegistryError('UNAVAILABLE', 'the identity provider did not answer the userinfo request; try again later', { reason: (err as Error).message.slice(0, 300) });
      });
      claims = { ...info, ...idClaims };
    }
    const name = claims[this.options.usernameClaim];
    const username = typeof name === 'string' ? name.toLowerCase() : '';
    if (!isValidUsername(username)) throw refused(`the provider's ${this.options.usernameClaim} claim is not a valid user name`, { claim: this.options.usernameClaim });
    const user = await this.accounts.sync(username, idClaims.sub, groupsOf(claims[this.options.groupsClaim]), source);
    if (!user) {
      await this.auditor.record({ actor: username, action: 'login.failed', source, detail: { via: 'oidc', reason: 'the name belongs to another account' } });
      throw new RegistryError('DENIED', `the user name ${username} belongs to another account of this registry`);
    }
    if (user.disabled) throw new RegistryError('DENIED', 'this account is disabled');
    // A web UI login is audited when its session opens.
    if (flow.cliLogin === null) return { user };
    await this.auditor.record({ actor: username, action: 'login', source, detail: { via: 'oidc command line', issuer: this.options.issuer } });
    const login = await this.store.getCliLogin(flow.cliLogin);
    if (!login || !(await this.store.completeCliLogin(flow.cliLogin, username))) throw refused('this command-line login expired or was finished already; run `registry login --oidc` again');
    return { user, cliLogin: { ...login, username } };
  }

  /** A command line asks to log in: the id and poll token it keeps, the URL for the person's browser. */
  async startCliLogin(label: string): Promise<StartedCliLogin> {
    const id = randomBytes(16).toString('base64url');
    const pollToken = randomBytes(32).toString('base64url');
    const code = userCode();
    const expiresAt = new Date(Date.now() + this.ttlMs);
    await this.store.createCliLogin({ id, pollHash: sha256(pollToken), userCode: code, label, username: null, expiresAt });
    const loginUrl = new URL(LOGIN_PATH, this.options.redirectUrl);
    loginUrl.searchParams.set('cli', id);
    return { id, pollToken, userCode: code, loginUrl: loginUrl.href, expiresAt };
  }

  /** The command line polls: pending until the browser flow is done, then the new CLI secret (once). */
  async pollCliLogin(id: string, pollToken: string, source: string): Promise<CliLoginPoll> {
    const login = await this.store.getCliLogin(id);
    if (!login || !sameHash(sha256(pollToken), login.pollHash)) throw new RegistryError('NAME_UNKNOWN', 'unknown, finished or expired command-line login', undefined, { status: 404 });
    if (login.username === null) return { status: 'pending' };
    const taken = await this.store.takeCompletedCliLogin(id);
    if (!taken?.username) throw new RegistryError('NAME_UNKNOWN', 'unknown, finished or expired command-line login', undefined, { status: 404 });
    const { secret, record } = await this.secrets.issue(taken.username, taken.label, source);
    return { status: 'done', username: taken.username, secret, secretId: record.id, expiresAt: record.expiresAt };
  }

  async purgeExpired(): Promise<number> {
    return this.store.deleteExpired(new Date());
  }
}
