// What every management API handler gets, and the plumbing they share: authentication of the
// caller (HTTP Basic or a bearer token from /token in the Authorization header, or the web UI's
// session cookie together with its CSRF token),
// JSON bodies (application/json only, size-limited, validated with zod), JSON answers, and
// the views of records that leave the server (never a password hash or robot secret hash).
import type { RetentionService } from '../../registry/retention.js';
import type { ScanService } from '../../scan/service.js';
import type { PromotionService } from '../../registry/promotion.js';
import type { GcReport } from '../../registry/gc.js';
import type { WebhookService } from '../../events/webhooks.js';
import type { ReplicationService } from '../../replication/service.js';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { RegistryError } from '../../registry/errors.js';
import { requestBody } from '../request-body.js';
import { enrolFirst, otpHeader, parseBasic, parseBearer, type Authenticator } from '../../auth/authenticate.js';
import type { AccessPolicy } from '../../auth/policy.js';
import type { SecondFactor } from '../../auth/second-factor.js';
import type { Auditor, AuditInput } from '../../auth/audit.js';
import type { AccessStore } from '../../metadata/access-store.js';
import type { NamespacePolicies } from '../../registry/policies.js';
import type { IdentityLimit } from '../rate-limit.js';
import type { SigningStore } from '../../metadata/signing-store.js';
import type { SignatureService } from '../../signing/signatures.js';
import type { PullPolicies } from '../../signing/pull-policy.js';
import type { OidcLogin } from '../../auth/oidc.js';
import type { CliSecrets } from '../../auth/cli-secrets.js';
import { csrfMatches, CSRF_HEADER, type ActiveSession, type SessionService } from '../../auth/sessions.js';
import { isSafeMethod, sessionIdOf, type SecureCookies } from '../session-cookie.js';
import { actorName, type Identity, type NamespaceRecord, type RobotRecord, type Role, type UserRecord } from '../../auth/model.js';

export const API_PREFIX = '/api/v1';
const JSON_LIMIT = 64 * 1024;

export interface ApiContext {
  access: AccessStore;
  authenticator: Authenticator;
  secondFactor: SecondFactor;
  policy: AccessPolicy;
  auditor: Auditor;
  /** Immutable-tag rules, quotas and manifest tracking. */
  policies: NamespacePolicies;
  retention: RetentionService;
  scans: ScanService;
  promotion: PromotionService;
  /** Garbage collection on this node: its settings, its last run, and a run on demand. */
  gc: {
    settings: { intervalMs: number; reviewDelayMs: number; deleteUntaggedManifests: boolean; unrecordedScanIntervalMs: number };
    last(): { at: Date; report: GcReport } | undefined;
    run(dryRun: boolean): Promise<GcReport>;
  };
  webhooks: WebhookService;
  /** Replication rules, runs and their history. */
  replication: ReplicationService;
  /** The per-identity rate limit, when rate limits are on. */
  limitIdentity?: IdentityLimit;
  /** Signing keys and pull policies. */
  signing: SigningStore;
  signatures: SignatureService;
  /** Told when keys or policies change, so its cached decisions go. */
  pullPolicies: PullPolicies;
  /** Web UI sessions (login, logout, the cookie); absent when the UI is off. */
  sessions?: { service: SessionService; secureCookies: SecureCookies };
  /** OpenID Connect single sign-on and the personal CLI secrets it hands out; absent when not configured. */
  oidc?: OidcLogin;
  cliSecrets?: CliSecrets;
}

/** An authenticated caller: a user or a robot, as the store knows it right now. */
export interface Caller {
  identity: Exclude<Identity, { kind: 'anonymous' }>;
  /** Username or robot name, as the audit log names it. */
  name: string;
  admin: boolean;
  /** Client address. */
  source: string;
  /** The web UI session the request came with (cookie), if that is how it authenticated. */
  session?: ActiveSession;
  /** This request logged in with a password and a second-factor code (which was checked, when the account has one). */
  secondFactorChecked: boolean;
}

export interface ApiResult {
  status?: number;
  body?: unknown;
  headers?: Record<string, string>;
}

export type ApiHandler = (ctx: ApiContext, request: FastifyRequest, caller: Caller) => Promise<ApiResult>;

export function unauthorized(message = 'authentication required', detail?: unknown): RegistryError {
  return new RegistryError('UNAUTHORIZED', message, detail, { headers: { 'WWW-Authenticate': 'Basic realm="registry"' } });
}

export function denied(message: string, detail?: unknown): RegistryError {
  return new RegistryError('DENIED', message, detail);
}

export function notFound(message: string, detail?: unknown): RegistryError {
  return new RegistryError('NAME_UNKNOWN', message, detail, { status: 404 });
}

export function badRequest(message: string, detail?: unknown): RegistryError {
  return new RegistryError('UNSUPPORTED', message, detail, { status: 400 });
}

export function conflict(message: string, detail?: unknown): RegistryError {
  return new RegistryError('UNSUPPORTED', message, detail, { status: 409 });
}

/**
 * Who is asking. Credentials come from the Authorization header or, for the web UI, from the
 * session cookie; a request that changes something with the cookie must also carry the
 * session's CSRF token in a header (which a cross-site form or image cannot send) and, when it
 * says where it comes from, an Origin of this host. The identity is checked against the store
 * on every request: a token issued before an account was disabled, demoted or revoked no
 * longer carries the rights it had.
 */
export async function authenticate(ctx: ApiContext, request: FastifyRequest): Promise<Caller> {
  const header = request.headers.authorization;
  const bearer = parseBearer(header);
  const basic = bearer ? undefined : parseBasic(header);
  let claimed: Identity;
  let session: ActiveSession | undefined;
  if (bearer) {
    const verified = await ctx.authenticator.bearer(bearer);
    if (!verified) throw unauthorized('invalid or expired token');
    claimed = verified.identity;
  } else if (basic) {
    try {
      claimed = await ctx.authenticator.password(basic.username, basic.password, request.ip, { otp: otpHeader(request), enrolling: mayEnrol(request) });
    } catch (err) {
      if (err instanceof RegistryError && err.code === 'UNAUTHORIZED') throw unauthorized(err.message, err.detail);
      throw err;
    }
  } else if (header === undefined && ctx.sessions && sessionIdOf(request) !== undefined) {
    session = await ctx.sessions.service.resolve(sessionIdOf(request)!);
    // No Basic challenge here: a browser would answer it with its own password dialog.
    if (!session) throw new RegistryError('UNAUTHORIZED', 'the session expired or was ended; log in again');
    if (!isSafeMethod(request.method)) checkCsrf(request, session);
    if (session.mustEnrol && !mayEnrol(request)) {
      throw enrolFirst();
    }
    claimed = session.identity;
  } else {
    throw unauthorized();
  }
  const current = await currentIdentity(ctx.access, claimed);
  if (!current) throw unauthorized('the account is disabled, revoked or gone');
  return {
    identity: current,
    name: actorName(current),
    admin: current.kind === 'user' && current.admin,
    source: request.ip,
    secondFactorChecked: basic !== undefined && otpHeader(request) !== undefined,
    ...(session ? { session } : {}),
  };
}

/** The routes open to an account that must enrol a second factor before anything else: enrolment, and its session. */
function mayEnrol(request: FastifyRequest): boolean {
  const path = request.url.split('?')[0]!;
  return path.startsWith(`${API_PREFIX}/me/mfa`) || path === `${API_PREFIX}/session`;
}

function checkCsrf(request: FastifyRequest, session: ActiveSession): void {
  if (!csrfMatches(session.record, request.headers[CSRF_HEADER])) throw denied(`the ${CSRF_HEADER} header is missing or wrong`);
  const origin = request.headers.origin;
  if (origin !== undefined) {
    let host: string | undefined;
    try {
      host = new URL(origin).host;
    } catch {
      host = undefined;
    }
    if (host !== request.host) throw denied('cross-origin request refused', { origin: origin.slice(0, 200) });
  }
}

async function currentIdentity(access: AccessStore, claimed: Identity): Promise<Caller['identity'] | undefined> {
  if (claimed.kind === 'user') {
    const user = await access.getUser(claimed.username);
    if (!user || user.disabled || user.id !== claimed.id) return undefined;
    return { kind: 'user', id: user.id, username: user.username, admin: user.admin };
  }
  if (claimed.kind === 'robot') {
    const robot = await access.getRobot(claimed.name);
    if (!robot || robot.revoked || robot.id !== claimed.id || (robot.expiresAt && robot.expiresAt.getTime() <= Date.now())) return undefined;
    return { kind: 'robot', id: robot.id, name: robot.name, namespace: robot.namespace, actions: robot.actions };
  }
  return undefined;
}

/** Robots are for pulling and pushing; managing accounts and namespaces takes a user. */
export function requireUser(caller: Caller): Extract<Caller['identity'], { kind: 'user' }> {
  if (caller.identity.kind !== 'user') throw denied('robot accounts cannot use the management API');
  return caller.identity;
}

export function requireAdmin(caller: Caller): void {
  requireUser(caller);
  if (!caller.admin) throw denied('only an administrator may do this');
}

/**
 * The request body as JSON, validated by `schema`. Only `application/json` is accepted: the
 * content types an HTML form can send cross-site (form encodings, text/plain) are refused, so
 * a write can never come from a forged form.
 */
export async function readJson<T extends z.ZodType>(request: FastifyRequest, schema: T): Promise<z.infer<T>> {
  const type = (request.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  if (type !== 'application/json') {
    throw new RegistryError('UNSUPPORTED', 'the request body must be application/json', { contentType: type.slice(0, 100) || null }, { status: 415 });
  }
  // Connection: close, so the rest of an oversized body is not read after the answer.
  const tooLarge = () => new RegistryError('SIZE_INVALID', 'request body too large', { limit: JSON_LIMIT }, { status: 413, headers: { Connection: 'close' } });
  const declared = Number(request.headers['content-length']);
  if (Number.isFinite(declared) && declared > JSON_LIMIT) throw tooLarge();
  const parts: Buffer[] = [];
  let total = 0;
  for await (const chunk of requestBody(request, 'UNSUPPORTED')) {
    total += (chunk as Buffer).length;
    if (total > JSON_LIMIT) throw tooLarge();
    parts.push(chunk as Buffer);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.concat(parts).toString('utf8'));
  } catch {
    throw badRequest('the request body is not valid JSON');
  }
  const result = schema.safeParse(parsed);
  if (!result.success) {
    throw badRequest('invalid request body', { issues: result.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message })) });
  }
  return result.data;
}

/** Query parameters, validated by `schema` (each given at most once). */
export function readQuery<T extends z.ZodType>(request: FastifyRequest, schema: T): z.infer<T> {
  const raw = request.query as Record<string, string | string[] | undefined>;
  for (const [k, v] of Object.entries(raw)) if (Array.isArray(v)) throw badRequest(`query parameter ${k.slice(0, 64)} given more than once`);
  const result = schema.safeParse(raw);
  if (!result.success) {
    throw badRequest('invalid query parameters', { issues: result.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message })) });
  }
  return result.data;
}

export function param(request: FastifyRequest, name: string): string {
  return (request.params as Record<string, string>)[name] ?? '';
}

/** Write an account or permission change to the audit log. */
export async function audit(ctx: ApiContext, caller: Caller, action: string, detail: Record<string, unknown>, extra: Partial<AuditInput> = {}): Promise<void> {
  await ctx.auditor.record({ actor: caller.name, action, source: caller.source, detail, ...extra });
}

/** The caller's role in a namespace (none for robots and non-members). */
export async function roleIn(ctx: ApiContext, caller: Caller, namespace: string): Promise<Role | undefined> {
  if (caller.identity.kind !== 'user') return undefined;
  return (await ctx.access.rolesOf(caller.identity.username)).find((m) => m.namespace === namespace)?.role;
}

// --- what leaves the server

export function userView(user: UserRecord) {
  return { username: user.username, admin: user.admin, disabled: user.disabled, createdAt: user.createdAt.toISOString() };
}

export function namespaceView(ns: NamespaceRecord, role?: Role | null) {
  return { name: ns.name, visibility: ns.visibility, createdAt: ns.createdAt.toISOString(), ...(role !== undefined ? { role } : {}) };
}

export function robotView(robot: RobotRecord) {
  const expired = robot.expiresAt !== null && robot.expiresAt.getTime() <= Date.now();
  return {
    name: robot.name,
    namespace: robot.namespace,
    actions: robot.actions,
    expiresAt: robot.expiresAt?.toISOString() ?? null,
    expired,
    revoked: robot.revoked,
    lastUsedAt: robot.lastUsedAt?.toISOString() ?? null,
    createdBy: robot.createdBy,
    createdAt: robot.createdAt.toISOString(),
  };
}

// --- routing

export function send(reply: FastifyReply, result: ApiResult): FastifyReply {
  reply.code(result.status ?? 200).header('Cache-Control', 'no-store').headers(result.headers ?? {});
  if (result.body === undefined) return reply.send();
  return reply.header('Content-Type', 'application/json; charset=utf-8').send(JSON.stringify(result.body));
}

export type Method = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

/** Register an authenticated route under the API prefix. */
export function route(app: FastifyInstance, ctx: ApiContext, method: Method, path: string, handler: ApiHandler): void {
  app.route({
    method,
    url: `${API_PREFIX}${path}`,
    handler: async (request, reply) => {
      const caller = await authenticate(ctx, request);
      await ctx.limitIdentity?.(request, caller.identity);
      return send(reply, await handler(ctx, request, caller));
    },
  });
}

/** Register a route anyone may call (the OpenAPI document). */
export function publicRoute(app: FastifyInstance, path: string, handler: () => ApiResult): void {
  app.get(`${API_PREFIX}${path}`, async (_request, reply) => send(reply, handler()));
}
