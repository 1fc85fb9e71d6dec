// Maps /v2 paths to handlers. Repository names contain slashes, so paths are matched from
// their end; anything with percent-encoding is refused before a name is ever used.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { V2Context, V2Handler } from './context.js';
import { deleteBlob, getBlob } from './blobs.js';
import { cancelUpload, completeUpload, patchUpload, startUpload, uploadStatus } from './uploads.js';
import { deleteManifest, getManifest, putManifest } from './manifests.js';
import { base, catalog, listTags, referrers } from './listings.js';
import { RegistryError } from '../../registry/errors.js';
import type { Requirement } from '../guard.js';
import { actorName } from '../../auth/model.js';

type Methods = Partial<Record<'GET' | 'HEAD' | 'POST' | 'PUT' | 'PATCH' | 'DELETE', V2Handler>>;

interface Route {
  pattern: RegExp;
  params: string[];
  methods: Methods;
  /** The pattern metrics label requests with (never the path: names are unbounded). */
  label: string;
  /** What the request needs: pull to read, push to write, delete to delete. */
  resource: 'base' | 'catalog' | 'manifests' | 'uploads' | 'blobs' | 'read';
}

function requirementOf(route: Route, method: string, params: Record<string, string>): Requirement {
  if (route.resource === 'base') return { kind: 'login' };
  if (route.resource === 'catalog') return { kind: 'catalog' };
  const name = params['name']!;
  if (route.resource === 'uploads') return { kind: 'repository', name, actions: ['push'] };
  if (method === 'DELETE') return { kind: 'repository', name, actions: ['delete'] };
  if (method === 'PUT') return { kind: 'repository', name, actions: ['push'] };
  return { kind: 'repository', name, actions: ['pull'] };
}

const ROUTES: Route[] = [
  { pattern: /^\/v2\/?$/, label: '/v2/', params: [], methods: { GET: base, HEAD: base }, resource: 'base' },
  { pattern: /^\/v2\/_catalog$/, label: '/v2/_catalog', params: [], methods: { GET: catalog }, resource: 'catalog' },
  { pattern: /^\/v2\/(.+)\/tags\/list$/, label: '/v2/{name}/tags/list', params: ['name'], methods: { GET: listTags }, resource: 'read' },
  {
    pattern: /^\/v2\/(.+)\/manifests\/([^/]+)$/,
    label: '/v2/{name}/manifests/{reference}',
    params: ['name', 'reference'],
    methods: { GET: getManifest, HEAD: getManifest, PUT: putManifest, DELETE: deleteManifest },
    resource: 'manifests',
  },
  { pattern: /^\/v2\/(.+)\/blobs\/uploads\/?$/, label: '/v2/{name}/blobs/uploads/', params: ['name'], methods: { POST: startUpload }, resource: 'uploads' },
  {
    pattern: /^\/v2\/(.+)\/blobs\/uploads\/([^/]+)$/,
    label: '/v2/{name}/blobs/uploads/{uuid}',
    params: ['name', 'uploadId'],
    methods: { GET: uploadStatus, PATCH: patchUpload, PUT: completeUpload, DELETE: cancelUpload },
    resource: 'uploads',
  },
  { pattern: /^\/v2\/(.+)\/blobs\/([^/]+)$/, label: '/v2/{name}/blobs/{digest}', params: ['name', 'digest'], methods: { GET: getBlob, HEAD: getBlob, DELETE: deleteBlob }, resource: 'blobs' },
  { pattern: /^\/v2\/(.+)\/referrers\/([^/]+)$/, label: '/v2/{name}/referrers/{digest}', params: ['name', 'digest'], methods: { GET: referrers }, resource: 'read' },
];

/** Pushes, pulls (of manifests) and deletes go to the audit log. */
function recordAudit(ctx: V2Context, route: Route, request: FastifyRequest, reply: FastifyReply, params: Record<string, string>, actor: string): void {
  const auditor = ctx.auditor!;
  const event = {
    actor,
    source: request.ip,
    repository: params['name'] ?? null,
    reference: params['reference'] ?? null,
    digest: (reply.getHeader('docker-content-digest') as string | undefined) ?? params['digest'] ?? null,
  };
  if (route.resource === 'manifests' && request.method === 'GET') auditor.later({ ...event, action: 'pull' });
  else if (route.resource === 'manifests' && request.method === 'PUT') void auditor.record({ ...event, action: 'push' });
  else if ((route.resource === 'manifests' || route.resource === 'blobs') && request.method === 'DELETE') void auditor.record({ ...event, action: 'delete' });
}

export function registerV2Routes(app: FastifyInstance, ctx: V2Context): void {
  // Handlers call reply.send themselves; returning the reply tells Fastify not to answer again.
  const dispatch = async (request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> => {
    const url = request.raw.url ?? '/';
    const q = url.indexOf('?');
    const path = q === -1 ? url : url.slice(0, q);
    reply.header('Docker-Distribution-API-Version', 'registry/2.0');
    if (path.includes('%') || path.includes('//') || path.length > 1024) {
      throw new RegistryError('NAME_INVALID', 'invalid repository path', undefined, { status: 400 });
    }
    for (const route of ROUTES) {
      const match = route.pattern.exec(path);
      if (!match) continue;
      request.routeLabel = route.label;
      const handler = route.methods[request.method as keyof Methods];
      if (!handler) {
        reply.header('Allow', Object.keys(route.methods).join(', '));
        throw new RegistryError('UNSUPPORTED', `method ${request.method} not allowed here`);
      }
      const params: Record<string, string> = {};
      route.params.forEach((p, i) => (params[p] = match[i + 1]!));
      const requirement = requirementOf(route, request.method, params);
      const access = await ctx.guard(request, requirement);
      if (requirement.kind === 'repository' && requirement.actions.includes('push')) ctx.proxy?.checkPush(requirement.name);
      await handler(ctx, request, reply, params, access);
      if (ctx.auditor && reply.statusCode < 300) recordAudit(ctx, route, request, reply, params, actorName(access.identity));
      return reply;
    }
    throw new RegistryError('NAME_UNKNOWN', 'unknown API endpoint', undefined, { status: 404 });
  };
  const methods = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE'] as const;
  app.route({ method: [...methods], url: '/v2', handler: dispatch });
  app.route({ method: [...methods], url: '/v2/', handler: dispatch });
  app.route({ method: [...methods], url: '/v2/*', handler: dispatch });
}
