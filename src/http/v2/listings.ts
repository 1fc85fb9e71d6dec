// Tags list, catalog and referrers: the read-only listings, with `n`/`last` pagination and
// a Link header pointing at the next page.
import type { FastifyReply, FastifyRequest } from 'fastify';
import { queryValue, type V2Handler } from './context.js';
import { RegistryError } from '../../registry/errors.js';
import type { ListPage } from '../../registry/manifests.js';

function pageParams(request: FastifyRequest): { n: number | undefined; last: string | undefined } {
  const raw = queryValue(request, 'n');
  let n: number | undefined;
  if (raw !== undefined && raw !== '') {
    n = Number(raw);
    if (!/^\d+$/.test(raw) || !Number.isSafeInteger(n)) {
      throw new RegistryError('UNSUPPORTED', 'n must be a non-negative integer', { n: raw.slice(0, 32) }, { status: 400 });
    }
  }
  const last = queryValue(request, 'last');
  return { n, last: last === '' ? undefined : last };
}

function sendPage(reply: FastifyReply, path: string, n: number | undefined, page: ListPage, body: object): void {
  if (page.next !== undefined) {
    const params = new URLSearchParams({ n: String(n ?? page.items.length), last: page.next });
    reply.header('Link', `<${path}?${params.toString()}>; rel="next"`);
  }
  reply.code(200).header('Content-Type', 'application/json; charset=utf-8').send(JSON.stringify(body));
}

export const listTags: V2Handler = async (ctx, request, reply, { name }) => {
  const { n, last } = pageParams(request);
  const page = await ctx.manifests.listTags(name!, n, last);
  sendPage(reply, `/v2/${name}/tags/list`, n, page, { name, tags: page.items });
};

export const catalog: V2Handler = async (ctx, request, reply, _params, access) => {
  const { n, last } = pageParams(request);
  const page = await ctx.manifests.listRepositories(n, last);
  // Only what the caller may pull; a page may then hold fewer than n, the Link still leads on.
  sendPage(reply, '/v2/_catalog', n, page, { repositories: await access.pullable(page.items) });
};

export const referrers: V2Handler = async (ctx, request, reply, { name, digest }) => {
  const artifactType = queryValue(request, 'artifactType');
  const index = await ctx.manifests.referrers(name!, digest!, artifactType || undefined);
  if (artifactType) reply.header('OCI-Filters-Applied', 'artifactType');
  // A Buffer, so Fastify adds no `; charset=` to the media type: clients compare it exactly.
  reply.code(200).header('Content-Type', index.mediaType).send(Buffer.from(JSON.stringify(index)));
};

export const base: V2Handler = async (_ctx, _request, reply) => {
  reply.code(200).header('Content-Type', 'application/json; charset=utf-8').send('{}');
};
