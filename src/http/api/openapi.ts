// The OpenAPI 3.1 description of the management API, served at GET /api/v1/openapi.json.
// Written out by hand as a typed object; test/http/api-openapi.test.ts checks that every
// registered route is described.
import { z } from 'zod';
import { PromoteBody } from './promotion.js';
import { NewRetentionPolicyBody, RetentionPolicyChangesBody, RetentionRulesBody, RetentionRunBody } from './retention.js';
import { NewSigningKeyBody, PullPolicyBody } from './signing.js';
import type { FastifyInstance } from 'fastify';
import { MAX_NAMESPACE_LENGTH, MAX_PASSWORD_LENGTH, MAX_ROBOT_NAME_LENGTH, MAX_USERNAME_LENGTH, MIN_PASSWORD_LENGTH } from '../../auth/names.js';
import { publicRoute } from './context.js';
import { NewWebhookBody, WebhookChangesBody } from './webhooks.js';
import { NewReplicationRuleBody, ReplicationRuleChangesBody } from './replication.js';

// --- the subset of OpenAPI 3.1 this document uses

type Ref = { $ref: string };
export interface Schema {
  type?: 'object' | 'array' | 'string' | 'integer' | 'boolean' | 'null' | ('string' | 'null' | 'integer' | 'object')[];
  description?: string;
  properties?: Record<string, Schema | Ref>;
  required?: string[];
  additionalProperties?: boolean | Schema;
  items?: Schema | Ref;
  enum?: readonly (string | null)[];
  format?: string;
  pattern?: string;
  minLength?: number;
  maxLength?: number;
  minimum?: number;
  maximum?: number;
  minItems?: number;
  uniqueItems?: boolean;
  default?: unknown;
  readOnly?: boolean;
  writeOnly?: boolean;
  examples?: unknown[];
}
interface Parameter {
  name: string;
  in: 'path' | 'query' | 'header';
  required?: boolean;
  description?: string;
  schema: Schema;
}
interface MediaType {
  schema: Schema | Ref;
}
interface Response {
  description: string;
  headers?: Record<string, { description: string; schema: Schema }>;
  content?: Record<string, MediaType>;
}
interface Operation {
  operationId: string;
  summary: string;
  description?: string;
  tags: string[];
  parameters?: (Parameter | Ref)[];
  requestBody?: { required: boolean; content: Record<string, MediaType> };
  responses: Record<string, Response | Ref>;
  security?: Record<string, string[]>[];
}
type PathItem = Partial<Record<'get' | 'post' | 'put' | 'patch' | 'delete', Operation>>;
export interface OpenApiDocument {
  openapi: '3.1.0';
  info: { title: string; version: string; description: string; license?: { name: string; identifier: string } };
  servers: { url: string }[];
  security: Record<string, string[]>[];
  tags: { name: string; description: string }[];
  paths: Record<string, PathItem>;
  components: {
    schemas: Record<string, Schema>;
    responses: Record<string, Response>;
    parameters: Record<string, Parameter>;
    securitySchemes: Record<string, { type: 'http'; scheme: 'basic' | 'bearer'; bearerFormat?: string; description: string }>;
  };
}

// --- helpers

/** The JSON Schema of a request body validator, so the document cannot drift from the checks. */
function jsonSchema(schema: z.ZodType, io: 'input' | 'output'): Schema {
  const { $schema: _drop, ...rest } = z.toJSONSchema(schema, { io, unrepresentable: 'any' }) as Record<string, unknown>;
  return rest as Schema;
}

const idParameter: Parameter = { name: 'id', in: 'path', required: true, schema: { type: 'string' } };

const ref = (name: string): Ref => ({ $ref: `#/components/schemas/${name}` });
const err = (name: string): Ref => ({ $ref: `#/components/responses/${name}` });
const par = (name: string): Ref => ({ $ref: `#/components/parameters/${name}` });
const json = (schema: Schema | Ref) => ({ 'application/json': { schema } });
const body = (schema: Schema | Ref) => ({ required: true, content: json(schema) });
const ok = (description: string, schema: Schema | Ref): Response => ({ description, content: json(schema) });
const listOf = (key: string, item: string): Schema => ({ type: 'object', required: [key], properties: { [key]: { type: 'array', items: ref(item) } } });
const noContent: Response = { description: 'done (no body)' };
/** The errors every authenticated operation can answer with. */
const common = { '401': err('Unauthorized'), '403': err('Denied') };
const writes = { '400': err('BadRequest'), '413': err('TooLarge'), '415': err('NotJson') };

const usernamePattern = '^[a-z0-9]+(?:(?:\\.|_|__|-+)[a-z0-9]+)*$';
const robotNamePattern = '^[a-z0-9]+(?:[._-][a-z0-9]+)*$';

/** The webhook routes of one scope: a namespace's (owners) or the system-wide ones (administrators). */
function webhookPaths(base: string, scope: (Parameter | Ref)[], who: string, op: string): Record<string, PathItem> {
  const hook = [...scope, idParameter];
  return {
    [base]: {
      get: { operationId: `list${op}Webhooks`, summary: `webhooks (${who})`, tags: ['webhooks'], parameters: scope, responses: { '200': ok('webhooks', listOf('webhooks', 'Webhook')), ...common, '404': err('NotFound') } },
      post: {
        operationId: `create${op}Webhook`,
        summary: `add a webhook; the answer holds its signing secret, shown this once (${who})`,
        description:
          'The URL must be allowed by webhooks.allowedHosts (400 otherwise, with the reason); it is checked again at every delivery after DNS resolution. ' +
          'Each delivery is a POST of {"events":[...]} (Distribution notification envelope, application/vnd.docker.distribution.events.v1+json) with ' +
          'X-Registry-Timestamp and X-Registry-Signature: sha256=<hex HMAC-SHA256 of "<timestamp>.<body>" keyed with the secret>. At most 25 webhooks per namespace (409).',
        tags: ['webhooks'],
        parameters: scope,
        requestBody: body(ref('NewWebhook')),
        responses: { '201': ok('created, with the secret', ref('CreatedWebhook')), ...common, ...writes, '404': err('NotFound'), '409': err('Conflict') },
      },
    },
    [`${base}/{id}`]: {
      get: { operationId: `get${op}Webhook`, summary: `one webhook (${who})`, tags: ['webhooks'], parameters: hook, responses: { '200': ok('webhook', ref('Webhook')), ...common, '404': err('NotFound') } },
      patch: {
        operationId: `update${op}Webhook`,
        summary: `change url, events, repositories or enabled; rotateSecret answers with a new secret (${who})`,
        description: 'A disabled webhook gets no new deliveries; those already queued wait until it is enabled again.',
        tags: ['webhooks'],
        parameters: hook,
        requestBody: body(ref('WebhookChanges')),
        responses: { '200': ok('webhook (with `secret` when rotated)', ref('CreatedWebhook')), ...common, ...writes, '404': err('NotFound') },
      },
      delete: { operationId: `delete${op}Webhook`, summary: `remove a webhook and its delivery log (${who})`, tags: ['webhooks'], parameters: hook, responses: { '204': noContent, ...common, '404': err('NotFound') } },
    },
    [`${base}/{id}/deliveries`]: {
      get: {
        operationId: `list${op}WebhookDeliveries`,
        summary: `the delivery log, newest first (${who})`,
        tags: ['webhooks'],
        parameters: [
          ...hook,
          { name: 'limit', in: 'query', schema: { type: 'integer', minimum: 1, maximum: 200, default: 50 } },
          { name: 'before', in: 'query', description: 'only deliveries with a smaller id (the paging cursor)', schema: { type: 'integer' } },
        ],
        responses: { '200': ok('deliveries', ref('DeliveryPage')), ...common, '400': err('BadRequest'), '404': err('NotFound') },
      },
    },
    [`${base}/{id}/deliveries/{delivery}/redeliver`]: {
      post: {
        operationId: `redeliver${op}Webhook`,
        summary: `queue a logged delivery's event again, behind the webhook's pending ones (${who})`,
        tags: ['webhooks'],
        parameters: [...hook, { name: 'delivery', in: 'path', required: true, schema: { type: 'integer' } }],
        responses: { '202': ok('queued', { type: 'object', properties: { queued: { type: 'boolean' }, eventId: { type: 'string' } } }), ...common, '404': err('NotFound') },
      },
    },
    [`${base}/{id}/ping`]: {
      post: {
        operationId: `ping${op}Webhook`,
        summary: `send a test event (action "ping") now, without retries; the answer is the logged attempt (${who})`,
        tags: ['webhooks'],
        parameters: hook,
        responses: { '200': ok('the attempt', ref('Delivery')), ...common, '404': err('NotFound') },
      },
    },
  };
}

/** The replication routes of one scope: a namespace's (owners) or the system-wide ones (administrators). */
function replicationPaths(base: string, scope: (Parameter | Ref)[], who: string, op: string): Record<string, PathItem> {
  const rule = [...scope, idParameter];
  const tags = ['replication'];
  return {
    [base]: {
      get: { operationId: `list${op}ReplicationRules`, summary: `replication rules (${who})`, tags, parameters: scope, responses: { '200': ok('rules', listOf('rules', 'ReplicationRule')), ...common, '404': err('NotFound') } },
      post: {
        operationId: `create${op}ReplicationRule`,
        summary: `add a rule that pushes to or pulls from another registry (${who})`,
        description:
          'push: images here whose repository matches `repositories` (and tag `tags`) go to `remote`, with every platform of an index and, with `referrers`, ' +
          'their signatures and SBOMs; pull: the same from `remote` into this registry. Digests are preserved; only missing blobs travel. ' +
          'trigger `event` (push rules): each matching push queues a run; `schedule`: every `intervalMs`; `manual`: POST .../run or `registry replicate`. ' +
          'A namespace rule covers repositories of its namespace only. The password is stored and never shown. At most 25 rules per namespace (409).',
        tags,
        parameters: scope,
        requestBody: body(ref('NewReplicationRule')),
        responses: { '201': ok('created', ref('ReplicationRule')), ...common, ...writes, '404': err('NotFound'), '409': err('Conflict') },
      },
    },
    [`${base}/{id}`]: {
      get: { operationId: `get${op}ReplicationRule`, summary: `one rule (${who})`, tags, parameters: rule, responses: { '200': ok('rule', ref('ReplicationRule')), ...common, '404': err('NotFound') } },
      patch: {
        operationId: `update${op}ReplicationRule`,
        summary: `change a rule (${who})`,
        tags,
        parameters: rule,
        requestBody: body(ref('ReplicationRuleChanges')),
        responses: { '200': ok('rule', ref('ReplicationRule')), ...common, ...writes, '404': err('NotFound') },
      },
      delete: { operationId: `delete${op}ReplicationRule`, summary: `remove a rule and its history (${who})`, tags, parameters: rule, responses: { '204': noContent, ...common, '404': err('NotFound') } },
    },
    [`${base}/{id}/run`]: {
      post: {
        operationId: `run${op}ReplicationRule`,
        summary: `queue a run of the whole rule now; a worker carries it out, with retries and backoff (${who})`,
        tags,
        parameters: rule,
        responses: { '202': ok('queued (or already queued)', { type: 'object', properties: { queued: { type: 'boolean' }, run: ref('ReplicationRun') } }), ...common, '404': err('NotFound') },
      },
    },
    [`${base}/{id}/runs`]: {
      get: {
        operationId: `list${op}ReplicationRuns`,
        summary: `the rule's runs, newest first: queued, running, done and failed (${who})`,
        tags,
        parameters: [...rule, { name: 'limit', in: 'query', schema: { type: 'integer', minimum: 1, maximum: 200, default: 50 } }],
        responses: { '200': ok('runs', listOf('runs', 'ReplicationRun')), ...common, '400': err('BadRequest'), '404': err('NotFound') },
      },
    },
  };
}

export const openApiDocument: OpenApiDocument = {
  openapi: '3.1.0',
  info: {
    title: 'oci-registry management API',
    version: '1',
    description:
      'Users, namespaces, members, robot accounts and the audit log. Present only when access control is on ' +
      '(except /session and the /repositories listings the web UI browses with, which are there whenever the UI is on). ' +
      'Credentials come from the Authorization header (HTTP Basic, or a Bearer token from /token) or from the web UI session cookie; ' +
      'a request that changes something with the cookie must carry the session\'s X-CSRF-Token header (see docs/security.md). ' +
      'Writes must be sent as application/json. Errors use the OCI Distribution error body.',
    license: { name: 'Apache-2.0', identifier: 'Apache-2.0' },
  },
  servers: [{ url: '/api/v1' }],
  security: [{ basic: [] }, { bearer: [] }],
  tags: [
    { name: 'users', description: 'accounts (administrators; a user may read their own and change their password)' },
    { name: 'namespaces', description: 'namespaces, their visibility and members' },
    { name: 'robots', description: 'robot accounts (access tokens for CI)' },
    { name: 'audit', description: 'the audit log' },
    { name: 'policies', description: 'immutable tags and quotas per namespace; push and pull tracking per manifest' },
    { name: 'signing', description: 'signing keys, pull policies (signature and vulnerability requirements) per namespace; signatures of a manifest' },
    { name: 'browse', description: 'the web UI: login sessions, repository listings and manifest details' },
    { name: 'replication', description: 'rules that push to or pull from another registry, and their runs' },
    { name: 'webhooks', description: 'signed event notifications (push, pull, delete, scan.finished, quota.exceeded, replication.done) per namespace or system-wide' },
  ],
  paths: {
    '/openapi.json': {
      get: { operationId: 'getOpenApi', summary: 'this document', tags: ['users'], security: [], responses: { '200': ok('the OpenAPI document', { type: 'object' }) } },
    },
    '/me': {
      get: {
        operationId: 'getMe',
        summary: 'the caller: a user (with memberships) or a robot',
        tags: ['users'],
        responses: { '200': ok('the caller', ref('Me')), ...common },
      },
    },
    '/me/mfa': {
      get: {
        operationId: 'getMyMfa',
        summary: 'the caller’s second factor: off, pending or on; recovery codes left; whether the account must have one',
        tags: ['users'],
        responses: {
          '200': ok('status', {
            type: 'object',
            properties: { totp: { type: 'string', enum: ['off', 'pending', 'on'] }, recoveryCodesLeft: { type: 'integer' }, required: { type: 'boolean' } },
          }),
          ...common,
        },
      },
    },
    '/me/mfa/totp': {
      post: {
        operationId: 'enrolTotp',
        summary: 'start a TOTP enrolment: a new secret, its otpauth:// URI and a QR code (SVG data URL); confirm it with a first code',
        tags: ['users'],
        responses: {
          '201': ok('the enrolment', { type: 'object', properties: { secret: { type: 'string' }, otpauthUri: { type: 'string' }, qrCode: { type: 'string' } } }),
          ...common,
          '409': err('Conflict'),
        },
      },
      delete: {
        operationId: 'removeTotp',
        summary: 'remove the second factor; takes a code in X-Registry-OTP (the one the request logged in with, or a fresh one with a bearer token)',
        tags: ['users'],
        responses: { '204': noContent, ...common, '404': err('NotFound') },
      },
    },
    '/me/mfa/totp/confirm': {
      post: {
        operationId: 'confirmTotp',
        summary: 'finish the enrolment with a first code; the answer carries ten recovery codes, shown this once',
        tags: ['users'],
        requestBody: body({ type: 'object', required: ['code'], properties: { code: { type: 'string' } } }),
        responses: {
          '200': ok('on', { type: 'object', properties: { totp: { type: 'string' }, recoveryCodes: { type: 'array', items: { type: 'string' } } } }),
          ...common,
          ...writes,
        },
      },
    },
    '/me/mfa/recovery-codes': {
      post: {
        operationId: 'renewRecoveryCodes',
        summary: 'ten new recovery codes, shown this once; the old ones stop working. Takes a code in X-Registry-OTP (the one the request logged in with, or a fresh one with a bearer token or a web UI session)',
        tags: ['users'],
        responses: { '201': ok('the new codes', { type: 'object', properties: { recoveryCodes: { type: 'array', items: { type: 'string' } } } }), ...common, '404': err('NotFound') },
      },
    },
    '/oidc': {
      get: {
        operationId: 'getOidc',
        summary: 'whether single sign-on (OpenID Connect) is configured: { enabled, displayName, loginUrl, webLogin }',
        tags: ['users'],
        security: [],
        responses: { '200': ok('single sign-on', { type: 'object', properties: { enabled: { type: 'boolean' }, displayName: { type: 'string' }, loginUrl: { type: 'string' }, webLogin: { type: 'boolean' } } }) },
      },
    },
    '/oidc/login': {
      get: {
        operationId: 'startOidcLogin',
        summary: 'a browser navigation: 302 to the provider (authorization code flow, PKCE S256, state, nonce), with a cookie tying the flow to this browser. cli: finish that command-line login instead of opening a web UI session',
        tags: ['users'],
        security: [],
        parameters: [{ name: 'cli', in: 'query', required: false, schema: { type: 'string' } }],
        responses: { '302': { description: 'to the provider' }, '401': err('Unauthorized'), '503': { description: 'the provider cannot be reached or its metadata is not valid' } },
      },
    },
    '/oidc/callback': {
      get: {
        operationId: 'finishOidcLogin',
        summary: 'the provider sends the browser here: the code is exchanged and the ID token checked; then 302 to / with a web UI session, or a page saying the command-line login is done. Each flow is used once, by the browser that started it',
        tags: ['users'],
        security: [],
        responses: { '302': { description: 'logged in (web UI)' }, '200': { description: 'command-line login finished (an HTML page)' }, '401': err('Unauthorized'), '403': err('Denied') },
      },
    },
    '/oidc/cli-logins': {
      post: {
        operationId: 'startCliLogin',
        summary: 'a command line starts a login: { id, pollToken, userCode, loginUrl, expiresAt, intervalSeconds }; the person opens loginUrl in a browser',
        tags: ['users'],
        security: [],
        requestBody: body({ type: 'object', properties: { label: { type: 'string' } } }),
        responses: { '201': ok('the login', { type: 'object' }), ...writes },
      },
    },
    '/oidc/cli-logins/{id}/poll': {
      post: {
        operationId: 'pollCliLogin',
        summary: 'the command line waits: 202 { status: pending } until the browser flow is done, then 200 { status: done, username, secret, secretId, expiresAt } once (the personal CLI secret, rcs_…)',
        tags: ['users'],
        security: [],
        parameters: [{ ...idParameter }],
        requestBody: body({ type: 'object', required: ['pollToken'], properties: { pollToken: { type: 'string' } } }),
        responses: { '200': ok('the secret', { type: 'object' }), '202': ok('pending', { type: 'object' }), '404': err('NotFound'), ...writes },
      },
    },
    '/me/cli-secrets': {
      get: {
        operationId: 'listMyCliSecrets',
        summary: 'the caller’s personal CLI secrets (never the secrets themselves): { secrets: [{ id, label, createdAt, expiresAt, expired, revoked, revokedAt, lastUsedAt }] }',
        tags: ['users'],
        responses: { '200': ok('secrets', { type: 'object' }), ...common },
      },
    },
    '/me/cli-secrets/{id}': {
      delete: {
        operationId: 'revokeMyCliSecret',
        summary: 'revoke one of the caller’s CLI secrets (it stops working at once)',
        tags: ['users'],
        parameters: [{ ...idParameter }],
        responses: { '204': noContent, ...common, '404': err('NotFound') },
      },
    },
    '/users/{username}/cli-secrets': {
      get: { operationId: 'listUserCliSecrets', summary: 'a user’s personal CLI secrets (administrators)', tags: ['users'], parameters: [par('username')], responses: { '200': ok('secrets', { type: 'object' }), ...common, '404': err('NotFound') } },
    },
    '/users/{username}/cli-secrets/{id}': {
      delete: {
        operationId: 'revokeUserCliSecret',
        summary: 'revoke a user’s CLI secret (administrators)',
        tags: ['users'],
        parameters: [par('username'), { ...idParameter }],
        responses: { '204': noContent, ...common, '404': err('NotFound') },
      },
    },
    '/users/{username}/mfa': {
      delete: {
        operationId: 'resetUserMfa',
        summary: 'remove a user’s second factor (administrators; for a lost device)',
        tags: ['users'],
        parameters: [par('username')],
        responses: { '204': noContent, ...common, '404': err('NotFound') },
      },
    },
    '/users': {
      get: { operationId: 'listUsers', summary: 'every user (administrators)', tags: ['users'], responses: { '200': ok('users', listOf('users', 'User')), ...common } },
      post: {
        operationId: 'createUser',
        summary: 'create a user (administrators)',
        tags: ['users'],
        requestBody: body(ref('NewUser')),
        responses: { '201': ok('created', ref('User')), ...common, ...writes, '409': err('Conflict') },
      },
    },
    '/users/{username}': {
      get: {
        operationId: 'getUser',
        summary: 'one user (administrators, or the user themselves)',
        tags: ['users'],
        parameters: [par('username')],
        responses: { '200': ok('the user', ref('User')), ...common, '404': err('NotFound') },
      },
      patch: {
        operationId: 'updateUser',
        summary: 'change password, admin or disabled',
        description: 'Administrators change any field of any user; a user may change only their own password. The last enabled administrator cannot be demoted or disabled (409).',
        tags: ['users'],
        parameters: [par('username')],
        requestBody: body(ref('UserChange')),
        responses: { '200': ok('the changed user', ref('User')), ...common, ...writes, '404': err('NotFound'), '409': err('Conflict') },
      },
      delete: {
        operationId: 'deleteUser',
        summary: 'delete a user and their memberships (administrators)',
        tags: ['users'],
        parameters: [par('username')],
        responses: { '204': noContent, ...common, '404': err('NotFound'), '409': err('Conflict') },
      },
    },
    '/namespaces': {
      get: {
        operationId: 'listNamespaces',
        summary: 'namespaces the caller can see',
        description: 'Administrators see all; others see public namespaces and those they are a member of. `role` is the caller’s role (or null).',
        tags: ['namespaces'],
        responses: { '200': ok('namespaces', listOf('namespaces', 'Namespace')), ...common },
      },
      post: {
        operationId: 'createNamespace',
        summary: 'create a namespace',
        description:
          'Administrators create any namespace and may name an `owner`. A user may create a namespace (and becomes its owner) unless the name is another user’s username.',
        tags: ['namespaces'],
        requestBody: body(ref('NewNamespace')),
        responses: { '201': ok('created', ref('Namespace')), ...common, ...writes, '404': err('NotFound'), '409': err('Conflict') },
      },
    },
    '/namespaces/{name}': {
      get: {
        operationId: 'getNamespace',
        summary: 'one namespace (404 when the caller cannot see it)',
        tags: ['namespaces'],
        parameters: [par('namespace')],
        responses: { '200': ok('the namespace', ref('Namespace')), ...common, '404': err('NotFound') },
      },
      patch: {
        operationId: 'updateNamespace',
        summary: 'change the visibility (owners, administrators)',
        tags: ['namespaces'],
        parameters: [par('namespace')],
        requestBody: body(ref('NamespaceChange')),
        responses: { '200': ok('the changed namespace', ref('Namespace')), ...common, ...writes, '404': err('NotFound') },
      },
      delete: {
        operationId: 'deleteNamespace',
        summary: 'delete a namespace with its members, robots and webhooks, not its images (owners, administrators)',
        tags: ['namespaces'],
        parameters: [par('namespace')],
        responses: { '204': noContent, ...common, '404': err('NotFound') },
      },
    },
    '/namespaces/{name}/members': {
      get: {
        operationId: 'listMembers',
        summary: 'members and their roles (members, administrators)',
        tags: ['namespaces'],
        parameters: [par('namespace')],
        responses: { '200': ok('members', listOf('members', 'Member')), ...common, '404': err('NotFound') },
      },
    },
    '/namespaces/{name}/members/{username}': {
      get: {
        operationId: 'getMember',
        summary: 'one member (members, administrators)',
        tags: ['namespaces'],
        parameters: [par('namespace'), par('username')],
        responses: { '200': ok('the member', ref('Member')), ...common, '404': err('NotFound') },
      },
      put: {
        operationId: 'setMember',
        summary: 'add a member or change their role (owners, administrators)',
        description: 'An owner who is not an administrator cannot demote the last owner (409).',
        tags: ['namespaces'],
        parameters: [par('namespace'), par('username')],
        requestBody: body(ref('MemberRole')),
        responses: { '200': ok('role changed', ref('Member')), '201': ok('member added', ref('Member')), ...common, ...writes, '404': err('NotFound'), '409': err('Conflict') },
      },
      delete: {
        operationId: 'removeMember',
        summary: 'remove a member (owners, administrators)',
        tags: ['namespaces'],
        parameters: [par('namespace'), par('username')],
        responses: { '204': noContent, ...common, '404': err('NotFound'), '409': err('Conflict') },
      },
    },
    '/namespaces/{name}/immutable-rules': {
      get: {
        operationId: 'listImmutableRules',
        summary: 'immutable-tag rules of the namespace (members, administrators)',
        tags: ['policies'],
        parameters: [par('namespace')],
        responses: { '200': ok('rules', listOf('rules', 'ImmutableRule')), ...common, '404': err('NotFound') },
      },
      post: {
        operationId: 'createImmutableRule',
        summary: 'add a rule (owners, administrators)',
        description:
          'Tags matching the pattern (glob: `*` any run of characters, `?` one character) cannot be moved to another digest or deleted once pushed, ' +
          'nor can the manifest they point at be deleted by digest (403 DENIED naming the rule). Pushing the same digest again is allowed.',
        tags: ['policies'],
        parameters: [par('namespace')],
        requestBody: body(ref('NewImmutableRule')),
        responses: { '201': ok('created', ref('ImmutableRule')), ...common, ...writes, '404': err('NotFound'), '409': err('Conflict') },
      },
    },
    '/namespaces/{name}/immutable-rules/{id}': {
      delete: {
        operationId: 'deleteImmutableRule',
        summary: 'remove a rule (owners, administrators)',
        tags: ['policies'],
        parameters: [par('namespace'), { name: 'id', in: 'path', required: true, schema: { type: 'string' } }],
        responses: { '204': noContent, ...common, '404': err('NotFound') },
      },
    },
    '/namespaces/{name}/retention-policies': {
      get: {
        operationId: 'listRetentionPolicies',
        summary: 'retention policies of the namespace (members, administrators)',
        tags: ['policies'],
        parameters: [par('namespace')],
        responses: { '200': ok('policies', listOf('policies', 'RetentionPolicy')), ...common, '404': err('NotFound') },
      },
      post: {
        operationId: 'createRetentionPolicy',
        summary: 'add a policy (owners, administrators)',
        description:
          'Per repository matched by `repositories` (a glob below the namespace): tags matching keepTags stay; of the others (those matching removeTags, ' +
          'or all), the newest keepLatest by push time stay, and the rest are removed when every condition set holds (pushed more than olderThanDays ago; ' +
          'not pulled or pushed for notPulledForDays). Immutable tags always stay. With untagged, manifests left without a tag, listing index or present ' +
          'subject are removed too (after retention.untaggedGraceMs). Enabled policies run every retention.intervalMs, first one interval after creation; ' +
          'each removal is in the audit log. Garbage collection then frees the bytes.',
        tags: ['policies'],
        parameters: [par('namespace')],
        requestBody: body(ref('NewRetentionPolicy')),
        responses: { '201': ok('created', ref('RetentionPolicy')), ...common, ...writes, '404': err('NotFound') },
      },
    },
    '/namespaces/{name}/retention-policies/{id}': {
      get: {
        operationId: 'getRetentionPolicy',
        summary: 'one policy with its last run (members, administrators)',
        tags: ['policies'],
        parameters: [par('namespace'), idParameter],
        responses: { '200': ok('policy', ref('RetentionPolicy')), ...common, '404': err('NotFound') },
      },
      patch: {
        operationId: 'updateRetentionPolicy',
        summary: 'change repositories, rules or enabled (owners, administrators)',
        tags: ['policies'],
        parameters: [par('namespace'), idParameter],
        requestBody: body(ref('RetentionPolicyChanges')),
        responses: { '200': ok('policy', ref('RetentionPolicy')), ...common, ...writes, '404': err('NotFound') },
      },
      delete: {
        operationId: 'deleteRetentionPolicy',
        summary: 'remove a policy (owners, administrators)',
        tags: ['policies'],
        parameters: [par('namespace'), idParameter],
        responses: { '204': noContent, ...common, '404': err('NotFound') },
      },
    },
    '/namespaces/{name}/retention-policies/{id}/run': {
      post: {
        operationId: 'runRetentionPolicy',
        summary: 'apply the policy now; {"dryRun": true} only reports (members may preview; a real run takes an owner or administrator)',
        tags: ['policies'],
        parameters: [par('namespace'), idParameter],
        requestBody: body(ref('RetentionRun')),
        responses: { '200': ok('what was (or would be) removed', ref('RetentionReport')), ...common, ...writes, '404': err('NotFound') },
      },
    },
    '/scan': {
      get: {
        operationId: 'getScan',
        summary: 'scan status, summary and findings of an image (an index: each platform) (callers who may pull)',
        tags: ['scanning'],
        parameters: [
          { name: 'repository', in: 'query', required: true, schema: { type: 'string' } },
          { name: 'reference', in: 'query', required: true, description: 'a tag or a digest', schema: { type: 'string' } },
          { name: 'severity', in: 'query', description: 'only findings at or above', schema: { enum: ['CRITICAL', 'HIGH', 'MEDIUM', 'LOW', 'UNKNOWN'] } },
          { name: 'packages', in: 'query', description: 'also list the packages found', schema: { enum: ['true', 'false'] } },
        ],
        responses: { '200': ok('status and findings', { type: 'object' }), ...common, '404': err('NotFound') },
      },
      post: {
        operationId: 'queueScan',
        summary: 'queue a scan of an image (push permission, administrators)',
        tags: ['scanning'],
        requestBody: body({ type: 'object', required: ['repository', 'reference'], properties: { repository: { type: 'string' }, reference: { type: 'string' } } }),
        responses: { '202': ok('queued digests', { type: 'object' }), ...common, ...writes, '404': err('NotFound') },
      },
    },
    '/sbom': {
      get: {
        operationId: 'getSbom',
        summary: 'the SBOM of a scanned image, CycloneDX 1.5 or SPDX 2.3 (callers who may pull)',
        tags: ['scanning'],
        parameters: [
          { name: 'repository', in: 'query', required: true, schema: { type: 'string' } },
          { name: 'reference', in: 'query', required: true, schema: { type: 'string' } },
          { name: 'format', in: 'query', schema: { enum: ['cyclonedx', 'spdx'] } },
        ],
        responses: { '200': ok('the SBOM document', { type: 'object' }), ...common, '404': err('NotFound') },
      },
    },
    '/scans/queue': {
      get: {
        operationId: 'getScanQueue',
        summary: 'scan jobs queued and running, and the vulnerability database state (administrators)',
        tags: ['scanning'],
        responses: { '200': ok('queue and database', { type: 'object' }), ...common },
      },
    },
    '/promote': {
      post: {
        operationId: 'promote',
        summary: 'copy (or move) an image with its platforms and referrers to another repository, sharing its blobs',
        description: 'Needs pull on the source (delete too for a move) and push on the target; the target namespace\'s immutable tags, quotas and pull policy apply. Audited as `promote`.',
        tags: ['promotion'],
        requestBody: body(jsonSchema(PromoteBody, 'input')),
        responses: { '201': ok('what was copied', { type: 'object' }), ...common, ...writes, '404': err('NotFound') },
      },
    },
    '/gc': {
      get: {
        operationId: 'getGc',
        summary: "this node's garbage-collection settings and last run (administrators)",
        tags: ['gc'],
        responses: { '200': ok('settings and last run', { type: 'object' }), ...common },
      },
      post: {
        operationId: 'runGc',
        summary: 'collect now on this node; {"dryRun": false} to delete (default: a dry run); audited as gc.run',
        tags: ['gc'],
        requestBody: body(jsonSchema(z.strictObject({ dryRun: z.boolean().default(true) }), 'input')),
        responses: { '200': ok('the collection report', { type: 'object' }), ...common, ...writes },
      },
    },
    ...webhookPaths('/namespaces/{name}/webhooks', [par('namespace')], 'owners, administrators', 'Namespace'),
    ...webhookPaths('/webhooks', [], 'administrators; system-wide: every namespace', 'System'),
    ...replicationPaths('/namespaces/{name}/replication/rules', [par('namespace')], 'owners, administrators', 'Namespace'),
    ...replicationPaths('/replication/rules', [], 'administrators; system-wide', 'System'),
    '/namespaces/{name}/quota': {
      get: {
        operationId: 'getQuota',
        summary: 'limits and usage of the namespace (members, administrators)',
        description: 'usedBytes: the sizes of the distinct blobs linked into any repository of the namespace, each counted once.',
        tags: ['policies'],
        parameters: [par('namespace')],
        responses: { '200': ok('quota and usage', ref('Quota')), ...common, '404': err('NotFound') },
      },
      put: {
        operationId: 'setQuota',
        summary: 'set the limits (administrators)',
        description: 'null (or absent) removes a limit. A blob push or mount over the byte limit, or a new repository over the count, is refused with 403 DENIED.',
        tags: ['policies'],
        parameters: [par('namespace')],
        requestBody: body(ref('QuotaChange')),
        responses: { '200': ok('quota and usage', ref('Quota')), ...common, ...writes, '404': err('NotFound') },
      },
    },
    '/repositories/{repository}/tags': {
      get: {
        operationId: 'listTagTracking',
        summary: 'tags with push and pull tracking (callers who may pull the repository)',
        description: 'Pull counts are written in batches about once a second; repositories the caller may not pull answer 404.',
        tags: ['policies'],
        parameters: [
          { name: 'repository', in: 'path', required: true, description: 'the repository name (may contain slashes)', schema: { type: 'string' } },
          { name: 'limit', in: 'query', schema: { type: 'integer', minimum: 1, maximum: 1000, default: 100 } },
          { name: 'last', in: 'query', description: 'only tags after this one (the paging cursor)', schema: { type: 'string' } },
        ],
        responses: { '200': ok('tags', ref('TagTrackingPage')), ...common, '400': err('BadRequest'), '404': err('NotFound') },
      },
    },
    '/repositories/{repository}/signatures/{digest}': {
      get: {
        operationId: 'listSignatures',
        summary: 'signatures of a manifest (callers who may pull the repository)',
        description:
          'Found under cosign\'s tag `sha256-<hex>.sig` (kind cosign) and among the referrers: cosign OCI 1.1 signatures (cosign-referrer), ' +
          'sigstore bundles (sigstore-bundle) and Notary Project signatures (notation). cosign signatures (one entry per signature layer) are verified ' +
          'against the signing keys of the repository\'s namespace: verified, the key that verified, or the reason it did not. Other kinds are listed only.',
        tags: ['signing'],
        parameters: [
          { name: 'repository', in: 'path', required: true, description: 'the repository name (may contain slashes)', schema: { type: 'string' } },
          { name: 'digest', in: 'path', required: true, schema: { type: 'string', examples: ['sha256:0123…'] } },
        ],
        responses: { '200': ok('signatures', ref('SignatureList')), ...common, '400': err('BadRequest'), '404': err('NotFound') },
      },
    },
    '/namespaces/{name}/signing-keys': {
      get: {
        operationId: 'listSigningKeys',
        summary: 'public keys cosign signatures are verified against (members, administrators)',
        tags: ['signing'],
        parameters: [par('namespace')],
        responses: { '200': ok('keys', listOf('keys', 'SigningKey')), ...common, '404': err('NotFound') },
      },
      post: {
        operationId: 'createSigningKey',
        summary: 'add a public key (owners, administrators)',
        description: 'PEM SubjectPublicKeyInfo (-----BEGIN PUBLIC KEY-----, as `cosign generate-key-pair` writes cosign.pub) of ECDSA P-256/P-384, RSA (2048 bits or more) or Ed25519; anything else is 400.',
        tags: ['signing'],
        parameters: [par('namespace')],
        requestBody: body(ref('NewSigningKey')),
        responses: { '201': ok('created', ref('SigningKey')), ...common, ...writes, '404': err('NotFound'), '409': err('Conflict') },
      },
    },
    '/namespaces/{name}/signing-keys/{id}': {
      delete: {
        operationId: 'deleteSigningKey',
        summary: 'remove a key (owners, administrators)',
        tags: ['signing'],
        parameters: [par('namespace'), idParameter],
        responses: { '204': noContent, ...common, '404': err('NotFound') },
      },
    },
    '/namespaces/{name}/pull-policy': {
      get: {
        operationId: 'getPullPolicy',
        summary: 'what pulling an image of the namespace requires (members, administrators)',
        tags: ['signing'],
        parameters: [par('namespace')],
        responses: { '200': ok('policy', ref('PullPolicy')), ...common, '404': err('NotFound') },
      },
      put: {
        operationId: 'setPullPolicy',
        summary: 'set the pull policy (owners, administrators)',
        description:
          'Checked on manifest GET and HEAD of images (indexes, and image manifests with a tar layer and no subject; signatures, SBOMs and other artifacts always pass). ' +
          'requireSignature: a cosign signature verified by a key of the namespace, on the image or on an index of the repository that lists it. ' +
          'blockSeverity: refuse images with a finding at or above it, except advisories (ids or aliases) in allowAdvisories; images not scanned yet are not blocked. ' +
          'Refusals are 403 DENIED saying why. Administrators and robots with the scan action are exempt. Decisions are cached for about 3 seconds.',
        tags: ['signing'],
        parameters: [par('namespace')],
        requestBody: body(ref('PullPolicyChange')),
        responses: { '200': ok('policy', ref('PullPolicy')), ...common, ...writes, '404': err('NotFound') },
      },
    },
    '/session': {
      get: {
        operationId: 'getSession',
        summary: 'who is logged in: { authEnabled, user, mustEnrolSecondFactor, csrfToken, expiresAt } (user null without credentials; no challenge). mustEnrolSecondFactor: the session may only use /me/mfa until a second factor is on',
        tags: ['browse'],
        security: [],
        responses: { '200': ok('the session', { type: 'object' }) },
      },
      post: {
        operationId: 'logIn',
        summary: 'log in to the web UI: sets the HttpOnly, SameSite=Strict session cookie and answers the CSRF token (throttled and audited). otp: the second-factor code (or a recovery code) of an account with one; without it such a login answers 401 with detail { secondFactor: "totp" }',
        tags: ['browse'],
        security: [],
        requestBody: body({ type: 'object', required: ['username', 'password'], properties: { username: { type: 'string' }, password: { type: 'string' }, otp: { type: 'string' } } }),
        responses: { '201': ok('logged in', { type: 'object' }), ...common, ...writes, '429': { description: 'too many failed logins' } },
      },
      delete: {
        operationId: 'logOut',
        summary: 'end the web UI session (needs the X-CSRF-Token header); clears the cookie',
        tags: ['browse'],
        responses: { '204': noContent, ...common, '400': err('BadRequest') },
      },
    },
    '/repositories': {
      get: {
        operationId: 'listRepositories',
        summary: 'repositories the caller may pull, with tag counts: search, namespace filter, sort and offset pagination',
        tags: ['browse'],
        parameters: [
          { name: 'q', in: 'query', description: 'substring of the name', schema: { type: 'string' } },
          { name: 'namespace', in: 'query', schema: { type: 'string' } },
          { name: 'sort', in: 'query', schema: { type: 'string', enum: ['name', '-name', 'updated', '-updated', 'tags', '-tags'], default: 'name' } },
          { name: 'limit', in: 'query', schema: { type: 'integer', minimum: 1, maximum: 500, default: 50 } },
          { name: 'offset', in: 'query', schema: { type: 'integer', minimum: 0, default: 0 } },
        ],
        responses: { '200': ok('a page: { total, offset, limit, repositories: [{ name, namespace, tagCount, createdAt, updatedAt }] }', { type: 'object' }), ...common, '400': err('BadRequest') },
      },
    },
    '/repositories/{repository}/manifests/{reference}': {
      get: {
        operationId: 'getManifestDetails',
        summary: 'a manifest as the web UI shows it: layers and sizes, configuration (platform, labels, environment, history), index platforms, tags, referrers',
        tags: ['browse'],
        parameters: [
          { name: 'repository', in: 'path', required: true, description: 'the repository name (may contain slashes)', schema: { type: 'string' } },
          { name: 'reference', in: 'path', required: true, description: 'a tag or a digest', schema: { type: 'string' } },
        ],
        responses: { '200': ok('the manifest details', { type: 'object' }), ...common, '404': err('NotFound') },
      },
    },
    '/namespaces/{name}/robots': {
      get: {
        operationId: 'listNamespaceRobots',
        summary: 'robots of the namespace (owners, administrators)',
        tags: ['robots'],
        parameters: [par('namespace')],
        responses: { '200': ok('robots', listOf('robots', 'Robot')), ...common, '404': err('NotFound') },
      },
      post: {
        operationId: 'createNamespaceRobot',
        summary: 'create a robot named robot$<namespace>+<name>; the answer holds its secret, shown this once',
        tags: ['robots'],
        parameters: [par('namespace')],
        requestBody: body(ref('NewRobot')),
        responses: { '201': ok('created, with the secret', ref('CreatedRobot')), ...common, ...writes, '404': err('NotFound'), '409': err('Conflict') },
      },
    },
    '/namespaces/{name}/robots/{robot}': {
      delete: {
        operationId: 'revokeNamespaceRobot',
        summary: 'revoke a robot (its short name or full name) (owners, administrators)',
        tags: ['robots'],
        parameters: [par('namespace'), par('robot')],
        responses: { '204': noContent, ...common, '404': err('NotFound') },
      },
    },
    '/robots': {
      get: { operationId: 'listRobots', summary: 'system-wide robots (administrators)', tags: ['robots'], responses: { '200': ok('robots', listOf('robots', 'Robot')), ...common } },
      post: {
        operationId: 'createRobot',
        summary: 'create a system-wide robot named robot$<name>, acting in every namespace; the answer holds its secret, shown this once (administrators)',
        tags: ['robots'],
        requestBody: body(ref('NewRobot')),
        responses: { '201': ok('created, with the secret', ref('CreatedRobot')), ...common, ...writes, '409': err('Conflict') },
      },
    },
    '/robots/{robot}': {
      delete: {
        operationId: 'revokeRobot',
        summary: 'revoke a system-wide robot (administrators)',
        tags: ['robots'],
        parameters: [par('robot')],
        responses: { '204': noContent, ...common, '404': err('NotFound') },
      },
    },
    '/audit': {
      get: {
        operationId: 'queryAudit',
        summary: 'audit events, newest first',
        description:
          'Administrators see every event. An owner of a namespace may read the events of a repository in it (`repository` required). ' +
          'When more events match, `next` (and a Link header with rel="next") gives the next page.',
        tags: ['audit'],
        parameters: [
          { name: 'actor', in: 'query', description: 'username, robot name, `anonymous` or `system`', schema: { type: 'string' } },
          { name: 'action', in: 'query', description: 'e.g. push, pull, delete, login, login.failed, user.create, member.set, robot.revoke', schema: { type: 'string' } },
          { name: 'repository', in: 'query', schema: { type: 'string' } },
          { name: 'since', in: 'query', description: 'inclusive', schema: { type: 'string', format: 'date-time' } },
          { name: 'until', in: 'query', description: 'exclusive', schema: { type: 'string', format: 'date-time' } },
          { name: 'limit', in: 'query', schema: { type: 'integer', minimum: 1, maximum: 1000, default: 100 } },
          { name: 'before', in: 'query', description: 'only events with a smaller id (the paging cursor)', schema: { type: 'integer', minimum: 1 } },
        ],
        responses: {
          '200': {
            description: 'events',
            headers: { Link: { description: '<next page>; rel="next", when there is one', schema: { type: 'string' } } },
            content: json(ref('AuditPage')),
          },
          ...common,
          '400': err('BadRequest'),
        },
      },
    },
  },
  components: {
    securitySchemes: {
      basic: { type: 'http', scheme: 'basic', description: 'username (or robot name) and password (or robot secret)' },
      bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT', description: 'an access token from GET/POST /token' },
    },
    parameters: {
      username: { name: 'username', in: 'path', required: true, schema: { type: 'string', pattern: usernamePattern, maxLength: MAX_USERNAME_LENGTH } },
      namespace: { name: 'name', in: 'path', required: true, schema: { type: 'string', pattern: usernamePattern, maxLength: MAX_NAMESPACE_LENGTH } },
      robot: { name: 'robot', in: 'path', required: true, description: 'short name, or the full robot$… name', schema: { type: 'string' } },
    },
    responses: {
      Unauthorized: { description: 'no or bad credentials (with WWW-Authenticate: Basic realm="registry")', content: json(ref('Errors')) },
      Denied: { description: 'the caller may not do this (DENIED)', content: json(ref('Errors')) },
      NotFound: { description: 'no such user, namespace, member or robot, or not visible to the caller (NAME_UNKNOWN)', content: json(ref('Errors')) },
      BadRequest: { description: 'invalid input (UNSUPPORTED)', content: json(ref('Errors')) },
      Conflict: { description: 'exists already, or would remove the last administrator / owner (UNSUPPORTED)', content: json(ref('Errors')) },
      NotJson: { description: 'the body is not application/json (UNSUPPORTED)', content: json(ref('Errors')) },
      TooLarge: { description: 'the body is over 64 KiB (SIZE_INVALID)', content: json(ref('Errors')) },
    },
    schemas: {
      Errors: {
        type: 'object',
        required: ['errors'],
        properties: {
          errors: {
            type: 'array',
            items: {
              type: 'object',
              required: ['code', 'message'],
              properties: { code: { type: 'string', examples: ['UNAUTHORIZED', 'DENIED', 'NAME_UNKNOWN', 'UNSUPPORTED'] }, message: { type: 'string' }, detail: {} },
            },
          },
        },
      },
      User: {
        type: 'object',
        required: ['username', 'admin', 'disabled', 'createdAt'],
        properties: {
          username: { type: 'string' },
          admin: { type: 'boolean' },
          disabled: { type: 'boolean' },
          createdAt: { type: 'string', format: 'date-time' },
        },
      },
      NewUser: {
        type: 'object',
        additionalProperties: false,
        required: ['username', 'password'],
        properties: {
          username: { type: 'string', pattern: usernamePattern, maxLength: MAX_USERNAME_LENGTH },
          password: { type: 'string', minLength: MIN_PASSWORD_LENGTH, maxLength: MAX_PASSWORD_LENGTH, writeOnly: true },
          admin: { type: 'boolean', default: false },
        },
      },
      UserChange: {
        type: 'object',
        additionalProperties: false,
        description: 'at least one field',
        properties: {
          password: { type: 'string', minLength: MIN_PASSWORD_LENGTH, maxLength: MAX_PASSWORD_LENGTH, writeOnly: true },
          admin: { type: 'boolean' },
          disabled: { type: 'boolean' },
        },
      },
      Me: {
        type: 'object',
        required: ['kind'],
        description: 'for a user: the User fields and memberships; for a robot: name, namespace and actions',
        properties: {
          kind: { type: 'string', enum: ['user', 'robot'] },
          username: { type: 'string' },
          admin: { type: 'boolean' },
          disabled: { type: 'boolean' },
          createdAt: { type: 'string', format: 'date-time' },
          memberships: {
            type: 'array',
            items: { type: 'object', properties: { namespace: { type: 'string' }, role: { type: 'string', enum: ['owner', 'maintainer', 'developer', 'reader'] } } },
          },
          name: { type: 'string' },
          namespace: { type: ['string', 'null'] },
          actions: { type: 'array', items: { type: 'string', enum: ['pull', 'push', 'delete', 'scan'] } },
        },
      },
      Namespace: {
        type: 'object',
        required: ['name', 'visibility', 'createdAt'],
        properties: {
          name: { type: 'string' },
          visibility: { type: 'string', enum: ['public', 'private'] },
          createdAt: { type: 'string', format: 'date-time' },
          role: { type: ['string', 'null'], enum: ['owner', 'maintainer', 'developer', 'reader', null], description: 'the caller’s role' },
        },
      },
      NewNamespace: {
        type: 'object',
        additionalProperties: false,
        required: ['name'],
        properties: {
          name: { type: 'string', pattern: usernamePattern, maxLength: MAX_NAMESPACE_LENGTH },
          visibility: { type: 'string', enum: ['public', 'private'], default: 'private' },
          owner: { type: 'string', description: 'administrators only: the user to make owner' },
        },
      },
      NamespaceChange: {
        type: 'object',
        additionalProperties: false,
        required: ['visibility'],
        properties: { visibility: { type: 'string', enum: ['public', 'private'] } },
      },
      Member: {
        type: 'object',
        required: ['username', 'role'],
        properties: { username: { type: 'string' }, role: { type: 'string', enum: ['owner', 'maintainer', 'developer', 'reader'] } },
      },
      MemberRole: {
        type: 'object',
        additionalProperties: false,
        required: ['role'],
        description: 'owner and maintainer: pull, push, delete; developer: pull, push; reader: pull',
        properties: { role: { type: 'string', enum: ['owner', 'maintainer', 'developer', 'reader'] } },
      },
      Robot: {
        type: 'object',
        required: ['name', 'namespace', 'actions', 'expiresAt', 'expired', 'revoked', 'lastUsedAt', 'createdBy', 'createdAt'],
        properties: {
          name: { type: 'string', examples: ['robot$team+ci', 'robot$mirror'] },
          namespace: { type: ['string', 'null'] },
          actions: { type: 'array', items: { type: 'string', enum: ['pull', 'push', 'delete', 'scan'] } },
          expiresAt: { type: ['string', 'null'], format: 'date-time' },
          expired: { type: 'boolean' },
          revoked: { type: 'boolean' },
          lastUsedAt: { type: ['string', 'null'], format: 'date-time' },
          createdBy: { type: 'string' },
          createdAt: { type: 'string', format: 'date-time' },
        },
      },
      CreatedRobot: {
        type: 'object',
        description: 'a Robot with its secret: the password for HTTP Basic or docker login, shown only in this answer',
        required: ['name', 'secret'],
        properties: { name: { type: 'string' }, secret: { type: 'string', readOnly: true } },
        additionalProperties: true,
      },
      NewRobot: {
        type: 'object',
        additionalProperties: false,
        required: ['name', 'actions'],
        description: 'give expiresAt or expiresInDays, or neither (no expiry)',
        properties: {
          name: { type: 'string', pattern: robotNamePattern, maxLength: MAX_ROBOT_NAME_LENGTH },
          actions: {
            type: 'array',
            minItems: 1,
            uniqueItems: true,
            description: 'scan: the scanner role, exempt from pull policies (give pull too)',
            items: { type: 'string', enum: ['pull', 'push', 'delete', 'scan'] },
          },
          expiresAt: { type: 'string', format: 'date-time' },
          expiresInDays: { type: 'integer', minimum: 1, maximum: 3650 },
        },
      },
      ImmutableRule: {
        type: 'object',
        required: ['id', 'namespace', 'pattern', 'createdBy', 'createdAt'],
        properties: {
          id: { type: 'string' },
          namespace: { type: 'string' },
          pattern: { type: 'string', examples: ['v*', '*', 'release-??'] },
          createdBy: { type: 'string' },
          createdAt: { type: 'string', format: 'date-time' },
        },
      },
      NewRetentionPolicy: jsonSchema(NewRetentionPolicyBody, 'input'),
      RetentionPolicyChanges: jsonSchema(RetentionPolicyChangesBody, 'input'),
      RetentionRun: jsonSchema(RetentionRunBody, 'input'),
      RetentionPolicy: {
        type: 'object',
        required: ['id', 'namespace', 'repositories', 'rules', 'enabled', 'createdBy', 'createdAt', 'updatedAt', 'lastRunAt', 'lastRun'],
        properties: {
          id: { type: 'string' },
          namespace: { type: 'string' },
          repositories: { type: 'string', examples: ['*', 'app-*'] },
          rules: jsonSchema(RetentionRulesBody, 'output'),
          enabled: { type: 'boolean' },
          createdBy: { type: 'string' },
          createdAt: { type: 'string', format: 'date-time' },
          updatedAt: { type: 'string', format: 'date-time' },
          lastRunAt: { type: ['string', 'null'], format: 'date-time' },
          lastRun: {
            type: ['object', 'null'],
            properties: {
              at: { type: 'string', format: 'date-time' },
              dryRun: { type: 'boolean' },
              trigger: { enum: ['schedule', 'manual'] },
              repositories: { type: 'integer' },
              tagsRemoved: { type: 'integer' },
              manifestsRemoved: { type: 'integer' },
              tagsKept: { type: 'integer' },
            },
          },
        },
      },
      RetentionReport: {
        type: 'object',
        required: ['policy', 'namespace', 'dryRun', 'repositories', 'tagsRemoved', 'tagsKept', 'manifestsRemoved', 'removedTags', 'removedManifests', 'immutableKept'],
        properties: {
          policy: { type: 'string' },
          namespace: { type: 'string' },
          dryRun: { type: 'boolean' },
          repositories: { type: 'integer' },
          tagsRemoved: { type: 'integer' },
          tagsKept: { type: 'integer' },
          manifestsRemoved: { type: 'integer' },
          removedTags: { type: 'array', description: 'up to 1000', items: { type: 'object', properties: { repository: { type: 'string' }, tag: { type: 'string' }, digest: { type: 'string' }, reason: { type: 'string' } } } },
          removedManifests: { type: 'array', description: 'up to 1000', items: { type: 'object', properties: { repository: { type: 'string' }, digest: { type: 'string' }, size: { type: 'integer' } } } },
          immutableKept: { type: 'array', description: 'tags the policy would remove that an immutable-tag rule keeps', items: { type: 'object' } },
          durationMs: { type: 'integer' },
        },
      },
      NewSigningKey: jsonSchema(NewSigningKeyBody, 'input'),
      SigningKey: {
        type: 'object',
        required: ['id', 'namespace', 'name', 'algorithm', 'fingerprint', 'publicKey', 'createdBy', 'createdAt'],
        properties: {
          id: { type: 'string' },
          namespace: { type: 'string' },
          name: { type: 'string' },
          algorithm: { type: ['string', 'null'], examples: ['ecdsa-p256', 'ecdsa-p384', 'rsa-3072', 'ed25519'] },
          fingerprint: { type: ['string', 'null'], description: 'sha256 of the DER SubjectPublicKeyInfo' },
          publicKey: { type: 'string', description: 'PEM' },
          createdBy: { type: 'string' },
          createdAt: { type: 'string', format: 'date-time' },
        },
      },
      PullPolicyChange: jsonSchema(PullPolicyBody, 'input'),
      PullPolicy: {
        type: 'object',
        required: ['namespace', 'requireSignature', 'blockSeverity', 'allowAdvisories', 'updatedBy', 'updatedAt'],
        properties: {
          namespace: { type: 'string' },
          requireSignature: { type: 'boolean' },
          blockSeverity: { type: ['string', 'null'], enum: ['CRITICAL', 'HIGH', 'MEDIUM', 'LOW', null] },
          allowAdvisories: { type: 'array', items: { type: 'string' } },
          updatedBy: { type: ['string', 'null'] },
          updatedAt: { type: ['string', 'null'], format: 'date-time' },
        },
      },
      SignatureList: {
        type: 'object',
        required: ['repository', 'digest', 'signatures'],
        properties: {
          repository: { type: 'string' },
          digest: { type: 'string' },
          signatures: {
            type: 'array',
            items: {
              type: 'object',
              required: ['kind', 'digest', 'artifactType'],
              properties: {
                kind: { type: 'string', enum: ['cosign', 'cosign-referrer', 'sigstore-bundle', 'notation'] },
                digest: { type: 'string', description: 'the signature manifest' },
                artifactType: { type: ['string', 'null'] },
                payloadDigest: { type: 'string', description: 'cosign: the simple-signing payload blob' },
                verified: { type: 'boolean', description: 'cosign: whether a key of the namespace verified it for this manifest' },
                key: { type: 'object', properties: { id: { type: 'string' }, name: { type: 'string' }, algorithm: { type: 'string' } } },
                reason: { type: 'string', description: 'cosign: why it did not verify' },
              },
            },
          },
        },
      },
      NewReplicationRule: jsonSchema(NewReplicationRuleBody, 'input'),
      ReplicationRuleChanges: jsonSchema(ReplicationRuleChangesBody, 'input'),
      ReplicationRule: {
        type: 'object',
        required: ['id', 'namespace', 'direction', 'remote', 'credentials', 'repositories', 'tags', 'referrers', 'trigger', 'intervalMs', 'enabled', 'createdBy', 'createdAt', 'updatedAt'],
        properties: {
          id: { type: 'string' },
          namespace: { type: ['string', 'null'], description: 'null: system-wide' },
          direction: { type: 'string', enum: ['push', 'pull'] },
          remote: { type: 'string' },
          credentials: { type: ['object', 'null'], properties: { username: { type: 'string' }, password: { type: 'string', enum: ['set', 'empty'], description: 'never the password itself' } } },
          repositories: { type: 'string', description: 'glob over repository names' },
          tags: { type: ['string', 'null'], description: 'glob over tags; null: all' },
          referrers: { type: 'boolean' },
          trigger: { type: 'string', enum: ['event', 'schedule', 'manual'] },
          intervalMs: { type: ['integer', 'null'] },
          enabled: { type: 'boolean' },
          lastScheduledAt: { type: ['string', 'null'], format: 'date-time' },
          createdBy: { type: 'string' },
          createdAt: { type: 'string', format: 'date-time' },
          updatedAt: { type: 'string', format: 'date-time' },
        },
      },
      ReplicationRun: {
        type: 'object',
        required: ['id', 'ruleId', 'trigger', 'state', 'attempts', 'createdAt', 'copied', 'error'],
        properties: {
          id: { type: 'string' },
          ruleId: { type: 'string' },
          trigger: { type: 'string', enum: ['event', 'schedule', 'manual'] },
          repository: { type: ['string', 'null'], description: 'an event run: the pushed repository; null: all the rule covers' },
          reference: { type: ['string', 'null'], description: 'an event run: the pushed tag or digest' },
          state: { type: 'string', enum: ['queued', 'running', 'done', 'failed'] },
          attempts: { type: 'integer' },
          createdAt: { type: 'string', format: 'date-time' },
          startedAt: { type: ['string', 'null'], format: 'date-time' },
          finishedAt: { type: ['string', 'null'], format: 'date-time' },
          nextAttemptAt: { type: ['string', 'null'], format: 'date-time', description: 'when queued: the next attempt' },
          copied: { type: 'object', properties: { manifests: { type: 'integer' }, blobs: { type: 'integer' }, bytes: { type: 'integer' } } },
          error: { type: ['string', 'null'], description: 'the error of the last attempt' },
        },
      },
      NewWebhook: jsonSchema(NewWebhookBody, 'input'),
      WebhookChanges: jsonSchema(WebhookChangesBody, 'input'),
      Webhook: {
        type: 'object',
        required: ['id', 'namespace', 'url', 'events', 'repositories', 'enabled', 'createdBy', 'createdAt', 'updatedAt'],
        properties: {
          id: { type: 'string' },
          namespace: { type: ['string', 'null'], description: 'null: system-wide' },
          url: { type: 'string' },
          events: { type: 'array', items: { type: 'string', enum: ['push', 'pull', 'delete', 'scan.finished', 'quota.exceeded', 'replication.done'] } },
          repositories: { type: ['string', 'null'], description: 'glob over repository names (full, or below the namespace); null: all' },
          enabled: { type: 'boolean' },
          createdBy: { type: 'string' },
          createdAt: { type: 'string', format: 'date-time' },
          updatedAt: { type: 'string', format: 'date-time' },
        },
      },
      CreatedWebhook: {
        type: 'object',
        description: 'a Webhook, plus `secret` when it was just created or rotated',
        properties: { secret: { type: 'string', description: 'the HMAC-SHA256 key of X-Registry-Signature; shown only in this answer' } },
      },
      Delivery: {
        type: 'object',
        required: ['id', 'eventId', 'event', 'state', 'attempts', 'createdAt', 'lastAttemptAt', 'nextAttemptAt', 'statusCode', 'durationMs', 'error', 'response'],
        properties: {
          id: { type: 'integer' },
          eventId: { type: 'string' },
          event: { type: 'string', description: 'push, pull, delete, scan.finished, quota.exceeded, replication.done or ping' },
          state: { type: 'string', enum: ['pending', 'delivered', 'failed'] },
          attempts: { type: 'integer' },
          createdAt: { type: 'string', format: 'date-time' },
          lastAttemptAt: { type: ['string', 'null'], format: 'date-time' },
          nextAttemptAt: { type: ['string', 'null'], format: 'date-time', description: 'when pending: the next attempt' },
          statusCode: { type: ['integer', 'null'], description: "the receiver's answer to the last attempt" },
          durationMs: { type: ['integer', 'null'] },
          error: { type: ['string', 'null'] },
          response: { type: ['string', 'null'], description: "the first 512 bytes of the receiver's answer" },
        },
      },
      DeliveryPage: {
        type: 'object',
        required: ['deliveries'],
        properties: { deliveries: { type: 'array', items: ref('Delivery') }, next: { type: 'integer', description: 'the `before` of the next page' } },
      },
      NewImmutableRule: {
        type: 'object',
        additionalProperties: false,
        required: ['pattern'],
        properties: { pattern: { type: 'string', pattern: '^[A-Za-z0-9_.*?-]{1,128}$' } },
      },
      Quota: {
        type: 'object',
        required: ['namespace', 'limitBytes', 'usedBytes', 'limitRepositories', 'repositories'],
        properties: {
          namespace: { type: 'string' },
          limitBytes: { type: ['integer', 'null'] },
          usedBytes: { type: 'integer' },
          limitRepositories: { type: ['integer', 'null'] },
          repositories: { type: 'integer' },
        },
      },
      QuotaChange: {
        type: 'object',
        additionalProperties: false,
        properties: { limitBytes: { type: ['integer', 'null'], minimum: 0 }, limitRepositories: { type: ['integer', 'null'], minimum: 0 } },
      },
      TagTracking: {
        type: 'object',
        required: ['tag', 'digest', 'pushedAt', 'pushedBy', 'lastPulledAt', 'pullCount'],
        properties: {
          tag: { type: 'string' },
          digest: { type: 'string' },
          mediaType: { type: ['string', 'null'] },
          size: { type: ['integer', 'null'], description: 'manifest, configuration and layers (an index: the sizes of its entries)' },
          platforms: { type: 'array', items: { type: 'string' }, description: 'os/architecture[/variant]' },
          pushedAt: { type: ['string', 'null'], format: 'date-time', description: 'last push of the manifest (null: pushed before tracking existed)' },
          pushedBy: { type: ['string', 'null'] },
          lastPulledAt: { type: ['string', 'null'], format: 'date-time' },
          pullCount: { type: 'integer' },
        },
      },
      TagTrackingPage: {
        type: 'object',
        required: ['repository', 'tags'],
        properties: { repository: { type: 'string' }, tags: { type: 'array', items: ref('TagTracking') }, next: { type: 'string', description: 'URL of the next page' } },
      },
      AuditEvent: {
        type: 'object',
        required: ['id', 'at', 'actor', 'action'],
        properties: {
          id: { type: 'integer' },
          at: { type: 'string', format: 'date-time' },
          actor: { type: 'string' },
          action: { type: 'string' },
          source: { type: ['string', 'null'] },
          repository: { type: ['string', 'null'] },
          reference: { type: ['string', 'null'] },
          digest: { type: ['string', 'null'] },
          detail: { type: ['object', 'null'] },
        },
      },
      AuditPage: {
        type: 'object',
        required: ['events'],
        properties: { events: { type: 'array', items: ref('AuditEvent') }, next: { type: 'string', description: 'URL of the next page' } },
      },
    },
  },
};

export function registerOpenApiRoute(app: FastifyInstance): void {
  publicRoute(app, '/openapi.json', () => ({ body: openApiDocument }));
}
