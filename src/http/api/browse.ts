// What the web UI browses with, present whether or not access control is on (when it is off,
// anyone may read everything, as on /v2):
//   GET /session                          with access control off: { authEnabled: false }
//   GET /repositories                     search (q), namespace, sort, limit/offset; tag counts
//   GET /repositories/{name}/tags         tags with digest, size, platforms, push and pull times
//   GET /repositories/{name}/manifests/{reference}
//                                         layers, configuration (labels, history), platforms of
//                                         an index, tags and referrers
// Repositories the caller may not pull do not exist for them (404), as on /v2.
import { signatureListing } from './signing.js';
import type { SignatureService } from '../../signing/signatures.js';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { isValidName, namespaceOf } from '../../registry/names.js';
import { parseReference, type ManifestService } from '../../registry/manifests.js';
import type { BlobService } from '../../registry/blobs.js';
import type { NamespacePolicies } from '../../registry/policies.js';
import type { MetadataStore, ManifestRecord } from '../../metadata/store.js';
import type { BrowseStore, RepositorySort } from '../../metadata/browse-store.js';
import type { TagStats } from '../../metadata/policy-store.js';
import { describeManifest, summarizeImageConfig, CONFIG_READ_LIMIT } from '../../registry/manifest-details.js';
import { parseManifest } from '../../registry/manifest.js';
import { isIndexMediaType } from '../../registry/media-types.js';
import { API_PREFIX, authenticate, notFound, readQuery, send, type ApiContext, type ApiResult } from './context.js';

/** Who is reading, as far as browsing goes. */
export interface Reader {
  canPull(repository: string): Promise<boolean>;
  /** The namespaces whose repositories the reader may list; undefined: all of them. */
  visibleNamespaces(): Promise<string[] | undefined>;
}

export interface BrowseContext {
  browse: BrowseStore;
  metadata: MetadataStore;
  manifests: ManifestService;
  blobs: BlobService;
  policies: NamespacePolicies;
  signatures: SignatureService;
  /** Authenticates the request (throws UNAUTHORIZED); with access control off, everyone may read all. */
  reader(request: FastifyRequest): Promise<Reader>;
  authEnabled: boolean;
}

export const openReader: Reader = { canPull: async () => true, visibleNamespaces: async () => undefined };

const SORTS = ['name', '-name', 'updated', '-updated', 'tags', '-tags'] as const;

export const RepositoriesQuery = z.strictObject({
  q: z.string().max(255).optional(),
  namespace: z.string().min(1).max(255).optional(),
  sort: z.enum(SORTS).default('name'),
  limit: z.coerce.number().int().min(1).max(500).default(50),
  offset: z.coerce.number().int().min(0).default(0),
});

const TagsQuery = z.strictObject({
  limit: z.coerce.number().int().min(1).max(1000).default(100),
  last: z.string().max(128).optional(),
});

/** The configuration blob, when it is linked into the repository and small enough to read. */
async function readConfig(ctx: BrowseContext, repository: string, digest: string): Promise<Buffer | undefined> {
  const info = await ctx.blobs.stat(repository, digest).catch(() => undefined);
  if (!info || info.size > CONFIG_READ_LIMIT) return undefined;
  const parts: Buffer[] = [];
  for await (const chunk of await ctx.blobs.open(info)) parts.push(chunk as Buffer);
  return Buffer.concat(parts);
}

/** Size (manifest, configuration and layers; an index: its entries) and platforms of a tagged manifest. */
async function tagSummary(ctx: BrowseContext, repository: string, record: ManifestRecord | undefined) {
  if (!record) return { mediaType: null, size: null, platforms: [] as string[] };
  const parsed = parseManifest(record.content, record.mediaType);
  const parts = isIndexMediaType(parsed.mediaType) ? parsed.manifests : [...(parsed.config ? [parsed.config] : []), ...parsed.layers];
  let platforms = parsed.manifests.filter((m) => m.platform).map((m) => [m.platform!.os, m.platform!.architecture, m.platform!.variant].filter(Boolean).join('/'));
  if (!isIndexMediaType(parsed.mediaType) && parsed.config && parsed.config.size <= 64 * 1024) {
    const config = await readConfig(ctx, repository, parsed.config.digest.value);
    const image = config ? summarizeImageConfig(config) : null;
    if (image?.os && image.architecture) platforms = [[image.os, image.architecture, image.variant].filter(Boolean).join('/')];
  }
  return { mediaType: parsed.mediaType, size: record.content.length + parts.reduce((sum, p) => sum + p.size, 0), platforms: [...new Set(platforms)] };
}

async function tagView(ctx: BrowseContext, repository: string, t: TagStats) {
  return {
    tag: t.tag,
    digest: t.digest,
    ...(await tagSummary(ctx, repository, await ctx.metadata.getManifest(repository, t.digest))),
    pushedAt: t.pushedAt?.toISOString() ?? null,
    pushedBy: t.pushedBy,
    lastPulledAt: t.lastPulledAt?.toISOString() ?? null,
    pullCount: t.pullCount,
  };
}

async function listRepositories(ctx: BrowseContext, request: FastifyRequest, reader: Reader): Promise<ApiResult> {
  const q = readQuery(request, RepositoriesQuery);
  let namespaces = await reader.visibleNamespaces();
  if (q.namespace !== undefined) namespaces = namespaces === undefined || namespaces.includes(q.namespace) ? [q.namespace] : [];
  const found = await ctx.browse.searchRepositories({
    ...(q.q ? { query: q.q } : {}),
    ...(namespaces !== undefined ? { namespaces } : {}),
    sort: q.sort.replace('-', '') as RepositorySort,
    descending: q.sort.startsWith('-'),
    limit: q.limit,
    offset: q.offset,
  });
  return {
    body: {
      total: found.total,
      offset: q.offset,
      limit: q.limit,
      repositories: found.repositories.map((r) => ({ name: r.name, namespace: namespaceOf(r.name), tagCount: r.tagCount, createdAt: r.createdAt.toISOString(), updatedAt: r.updatedAt.toISOString() })),
    },
  };
}

async function listTags(ctx: BrowseContext, request: FastifyRequest, name: string): Promise<ApiResult> {
  const query = readQuery(request, TagsQuery);
  // Pulls counted on this node are written first, so the answer includes them.
  await ctx.policies.flush();
  const tags = await ctx.policies.store.listTagStats(name, { limit: query.limit + 1, ...(query.last !== undefined ? { after: query.last } : {}) });
  const page = tags.slice(0, query.limit);
  return {
    body: {
      repository: name,
      tags: await Promise.all(page.map((t) => tagView(ctx, name, t))),
      ...(tags.length > query.limit ? { next: `${API_PREFIX}/repositories/${name}/tags?limit=${query.limit}&last=${encodeURIComponent(page[page.length - 1]!.tag)}` } : {}),
    },
  };
}

async function manifestDetails(ctx: BrowseContext, name: string, reference: string): Promise<ApiResult> {
  const ref = (() => {
    try {
      return parseReference(reference);
    } catch {
      return undefined;
    }
  })();
  if (!ref) throw notFound('manifest not found', { reference: reference.slice(0, 200) });
  const record = ref.kind === 'tag' ? await ctx.metadata.getManifestByTag(name, ref.tag) : await ctx.metadata.getManifest(name, ref.digest);
  if (!record) throw notFound('manifest not found', { repository: name, reference: reference.slice(0, 200) });
  const details = await describeManifest(record, {
    readConfig: (digest) => readConfig(ctx, name, digest),
    tagsOf: (digest) => ctx.policies.store.tagsOf(name, digest),
    referrers: (digest) => ctx.metadata.listReferrers(name, digest),
  });
  return { body: details };
}

/** `<name>/tags` or `<name>/manifests/<reference>`: repository names contain slashes. */
function splitRepositoryPath(rest: string): { name: string; resource: 'tags' } | { name: string; resource: 'manifests' | 'signatures'; reference: string } | undefined {
  if (rest.endsWith('/tags')) return { name: rest.slice(0, -'/tags'.length), resource: 'tags' };
  const m = /^(.+)\/(manifests|signatures)\/([^/]+)$/.exec(rest);
  if (m) return { name: m[1]!, resource: m[2] as 'manifests' | 'signatures', reference: m[3]! };
  return undefined;
}

export function registerBrowseRoutes(app: FastifyInstance, ctx: BrowseContext): void {
  if (!ctx.authEnabled) {
    app.get(`${API_PREFIX}/session`, async (_request, reply) => send(reply, { body: { authEnabled: false, user: null, csrfToken: null, expiresAt: null } }));
  }

  app.get(`${API_PREFIX}/repositories`, async (request, reply) => send(reply, await listRepositories(ctx, request, await ctx.reader(request))));

  app.get(`${API_PREFIX}/repositories/*`, async (request, reply) => {
    const target = splitRepositoryPath((request.params as Record<string, string>)['*'] ?? '');
    if (!target || !isValidName(target.name)) throw notFound('unknown API endpoint');
    const reader = await ctx.reader(request);
    // Repositories the caller may not pull do not exist for them.
    if (!(await reader.canPull(target.name)) || !(await ctx.metadata.repositoryExists(target.name))) throw notFound('repository not found', { repository: target.name });
    if (target.resource === 'tags') return send(reply, await listTags(ctx, request, target.name));
    if (target.resource === 'signatures') return send(reply, await signatureListing(ctx.signatures, target.name, target.reference));
    return send(reply, await manifestDetails(ctx, target.name, target.reference));
  });
}

/** With access control on: the caller as the management API authenticates it, and the same rules as /v2. */
export function apiReader(api: ApiContext): BrowseContext['reader'] {
  return async (request) => {
    const caller = await authenticate(api, request);
    await api.limitIdentity?.(request, caller.identity);
    const identity = caller.identity;
    return {
      canPull: async (repository) => (await api.policy.allowedActions(identity, repository)).has('pull'),
      visibleNamespaces: async () => {
        if (caller.admin) return undefined;
        if (identity.kind === 'robot' && identity.namespace === null && identity.actions.includes('pull')) return undefined;
        const visible = new Set((await api.access.listNamespaces()).filter((ns) => ns.visibility === 'public').map((ns) => ns.name));
        if (identity.kind === 'robot' && identity.namespace !== null && identity.actions.includes('pull')) visible.add(identity.namespace);
        if (identity.kind === 'user') {
          visible.add(identity.username);
          for (const m of await api.access.rolesOf(identity.username)) visible.add(m.namespace);
        }
        return [...visible];
      },
    };
  };
}
