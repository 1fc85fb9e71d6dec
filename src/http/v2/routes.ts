// Maps /v2 paths to handlers. Repository names contain slashes, so paths are matched from
// their end; anything with percent-encoding is refused before a name is ever used.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { V2Context, V2Handler } from './context.js';
import { deleteBlob, getBlob } from './blobs.js';
import { cancelUpload, completeUpload, patchUpload, startUpload, uploadStatus } from './uploads.js';
import { deleteManifest, getManifest, putManifest } from './manifests.js';
import { base, catalog, listTags, referrers } from './listings.js';
import { RegistryError } from '../../registry/errors.js';

type Methods = Partial<Record<'GET' | 'HEAD' | 'POST' | 'PUT' | 'PATCH' | 'DELETE', V2Handler>>;

interface Route {
  pattern: RegExp;
  params: string[];
  methods: Methods;
}

const ROUTES: Route[] = [
  { pattern: /^\/v2\/?$/, params: [], methods: { GET: base, HEAD: base } },
  { pattern: /^\/v2\/_catalog$/, params: [], methods: { GET: catalog } },
  { pattern: /^\/v2\/(.+)\/tags\/list$/, params: ['name'], methods: { GET: listTags } },
  { pattern: /^\/v2\/(.+)\/manifests\/([^/]+)$/, params: ['name', 'reference'], methods: { GET: getManifest, HEAD: getManifest, PUT: putManifest, DELETE: deleteManifest } },
  { pattern: /^\/v2\/(.+)\/blobs\/uploads\/?$/, params: ['name'], methods: { POST: startUpload } },
  {
    pattern: /^\/v2\/(.+)\/blobs\/uploads\/([^/]+)$/,
    params: ['name', 'uploadId'],
    methods: { GET: uploadStatus, PATCH: patchUpload, PUT: completeUpload, DELETE: cancelUpload },
  },
  { pattern: /^\/v2\/(.+)\/blobs\/([^/]+)$/, params: ['name', 'digest'], methods: { GET: getBlob, HEAD: getBlob, DELETE: deleteBlob } },
  { pattern: /^\/v2\/(.+)\/referrers\/([^/]+)$/, params: ['name', 'digest'], methods: { GET: referrers } },
];

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
      const handler = route.methods[request.method as keyof Methods];
      if (!handler) {
        reply.header('Allow', Object.keys(route.methods).join(', '));
        throw new RegistryError('UNSUPPORTED', `method ${request.method} not allowed here`);
      }
      const params: Record<string, string> = {};
      route.params.forEach((p, i) => (params[p] = match[i + 1]!));
      await handler(ctx, request, reply, params);
      return reply;
    }
    throw new RegistryError('NAME_UNKNOWN', 'unknown API endpoint', undefined, { status: 404 });
  };
  const methods = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE'] as const;
  app.route({ method: [...methods], url: '/v2', handler: dispatch });
  app.route({ method: [...methods], url: '/v2/', handler: dispatch });
  app.route({ method: [...methods], url: '/v2/*', handler: dispatch });
}
