// The management API under /api/v1 (present only when access control is on): one module per
// resource, all sharing the authentication and JSON plumbing of context.ts.
import type { FastifyInstance } from 'fastify';
import type { ApiContext } from './context.js';
import { registerUserRoutes } from './users.js';
import { registerNamespaceRoutes } from './namespaces.js';
import { registerMemberRoutes } from './members.js';
import { registerRobotRoutes } from './robots.js';
import { registerAuditRoutes } from './audit.js';
import { registerOpenApiRoute } from './openapi.js';
import { registerPolicyRoutes } from './policies.js';
import { registerRetentionRoutes } from './retention.js';
import { registerScanRoutes } from './scans.js';
import { registerPromotionRoutes } from './promotion.js';
import { registerGcRoutes } from './gc.js';
import { registerSigningRoutes } from './signing.js';
import { registerSessionRoutes } from './sessions.js';
import { registerWebhookRoutes } from './webhooks.js';
import { registerMfaRoutes } from './mfa.js';
import { registerReplicationRoutes } from './replication.js';
import { registerOidcRoutes } from './oidc.js';
import { registerCliSecretRoutes } from './cli-secrets.js';

export type { ApiContext } from './context.js';

export function registerApi(app: FastifyInstance, ctx: ApiContext): void {
  registerOpenApiRoute(app);
  registerUserRoutes(app, ctx);
  registerNamespaceRoutes(app, ctx);
  registerMemberRoutes(app, ctx);
  registerRobotRoutes(app, ctx);
  registerAuditRoutes(app, ctx);
  registerPolicyRoutes(app, ctx);
  registerRetentionRoutes(app, ctx);
  registerScanRoutes(app, ctx);
  registerPromotionRoutes(app, ctx);
  registerGcRoutes(app, ctx);
  registerSigningRoutes(app, ctx);
  registerSessionRoutes(app, ctx);
  registerWebhookRoutes(app, ctx);
  registerMfaRoutes(app, ctx);
  registerReplicationRoutes(app, ctx);
  registerOidcRoutes(app, ctx);
  registerCliSecretRoutes(app, ctx);
}
