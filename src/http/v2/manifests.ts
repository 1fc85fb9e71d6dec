// GET / HEAD / PUT / DELETE /v2/<name>/manifests/<reference>.
import type { FastifyRequest } from 'fastify';
import { contentLength, type V2Handler } from './context.js';
import { RegistryError } from '../../registry/errors.js';
import { parseAccept } from '../../registry/media-types.js';
import { actorName } from '../../auth/model.js';

function tooLarge(limit: number): RegistryError {
  return new RegistryError('SIZE_INVALID', `manifest exceeds the ${limit} byte limit`, { limit }, { status: 413 });
}

/** Read a manifest body, refusing it as soon as it passes the limit. */
async function readLimited(request: FastifyRequest, limit: number): Promise<Buffer> {
  const declared = contentLength(request);
  if (declared !== undefined && declared > limit) {
    request.raw.resume();
    throw tooLarge(limit);
  }
  const parts: Buffer[] = [];
  let total = 0;
  for await (const chunk of request.raw) {
    total += (chunk as Buffer).length;
    if (total > limit) {
      request.raw.resume();
      throw tooLarge(limit);
    }
    parts.push(chunk as Buffer);
  }
  return Buffer.concat(parts, total);
}

export const getManifest: V2Handler = async (ctx, request, reply, { name, reference }, access) => {
  const manifest = await ctx.manifests.get(name!, reference!, parseAccept(request.headers.accept), { countPull: request.method === 'GET', identity: access.identity });
  reply
    .code(200)
    .header('Content-Type', manifest.mediaType)
    .header('Docker-Content-Digest', manifest.digest)
    .header('ETag', `"${manifest.digest}"`)
    .header('Content-Length', manifest.content.length);
  reply.send(request.method === 'HEAD' ? undefined : manifest.content);
};

export const putManifest: V2Handler = async (ctx, request, reply, { name, reference }, access) => {
  const body = await readLimited(request, ctx.manifestMaxBytes);
  const pushed = await ctx.manifests.put(name!, reference!, body, request.headers['content-type'], actorName(access.identity));
  reply.code(201).header('Location', `/v2/${name}/manifests/${pushed.digest}`).header('Docker-Content-Digest', pushed.digest).header('Content-Length', 0);
  if (pushed.subject) reply.header('OCI-Subject', pushed.subject);
  reply.send();
};

export const deleteManifest: V2Handler = async (ctx, _request, reply, { name, reference }) => {
  await ctx.manifests.delete(name!, reference!);
  reply.code(202).header('Content-Length', 0).send();
};
